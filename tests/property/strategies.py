"""Hypothesis strategies for hostile input and for the personal data (个人信息) that must
never get through: texts of any script with emoji storms, control characters, lone
surrogates and full-width forms; valid and broken event messages; mobile numbers, resident
ID numbers, bank cards, landlines and e-mail addresses.

Check digits are computed here from the published algorithms (GB 11643 for the resident ID,
Luhn for cards), independently of the code under test.
"""

from __future__ import annotations

import json
import math
import string
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from classifiers.pii import redact
from streams.events import MAX_ID, MAX_NAME, PLATFORMS, SOURCES, SURVEY_KINDS
from vocwatch.vocabulary import COMPLAINT_CHANNELS

# --- hostile text --------------------------------------------------------------------

_PHRASES = (
    "快递三天没到",
    "客服态度太差了",
    "申请退款",
    "APP闪退",
    "我要投诉到12315",
    "價格太貴了",
    "後來還是壞了",
    "吃完食物中毒",
    "要找媒体曝光",
    "非常满意，谢谢",
    "扣费两次",
    "第一次买，包装破损",
    "订单号2024050112345",
)
_EMOJI = ("😡", "👍🏻", "👎", "❤️", "💩", "🤬", "😭", "🙏🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "1️⃣", "🇨🇳", "☹", "✌︎")
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u2060\u202a\u202e\u2066\ufeff\u00ad"
# Characters that NFKC turns into several (ﷺ is 18), and ones OpenCC converts.
_EXPANDING = ("\ufdfa", "\u3371", "\u33ff", "㈱", "¼", "ﬃ", "⑳", "㍻", "㏠", "⒇", "ｶﾞ")
_URLS = ("https://x.cn/a?b=1", "www.example.com/路径", "http://", "HTTPS://A.B/", "www.")

cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
#: One emoji: a single code point, or a sequence (skin tone, ZWJ family, flag, keycap).
emoji = st.sampled_from(_EMOJI) | st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
emoji_parts = st.sampled_from(
    ("\ufe0f", "\ufe0e", "\u200d", "\U0001f3fb", "\U0001f3ff", "\u20e3", "\U000e0067")
)
controls = st.characters(categories=["Cc"]) | st.sampled_from(_INVISIBLE)
full_width = st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E) | st.just("\u3000")
any_script = st.characters(categories=["L", "M", "N", "P", "S", "Z"])
lone_surrogates = st.characters(categories=["Cs"])
mark_runs = st.builds(
    lambda mark, n: mark * n, st.sampled_from("!?！？。…~😡."), st.integers(2, 40)
)

_PIECES = (
    st.sampled_from(_PHRASES),
    st.text(cjk, min_size=1, max_size=12),
    st.lists(emoji, min_size=1, max_size=12).map("".join),  # an emoji storm
    st.lists(emoji | emoji_parts, min_size=1, max_size=8).map("".join),  # and broken pieces
    st.text(controls, min_size=1, max_size=4),
    st.text(full_width, min_size=1, max_size=8),
    st.text(any_script, min_size=1, max_size=12),  # Latin, Cyrillic, Arabic, Thai …
    st.text(string.printable, min_size=1, max_size=12),
    st.text(string.digits + " -+()", min_size=1, max_size=20),
    st.sampled_from(_EXPANDING),
    st.sampled_from(_URLS),
    mark_runs,
)


def hostile_text(
    *, max_pieces: int = 12, surrogates: bool = False, min_pieces: int = 0
) -> st.SearchStrategy[str]:
    """Texts made of pieces of everything a customer, a producer bug or an attacker may send.
    Each piece is non-empty, so ``min_pieces=1`` gives a non-empty text."""
    pieces = (
        st.one_of(*_PIECES, st.text(lone_surrogates, min_size=1, max_size=2))
        if surrogates
        else st.one_of(*_PIECES)
    )
    return st.lists(pieces, min_size=min_pieces, max_size=max_pieces).map("".join)


class Huge(str):
    """A long text that shows itself briefly in a failure report."""

    def __repr__(self) -> str:
        return f"Huge({len(self)} characters: {str.__repr__(self[:60])}…)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis' printer
        printer.text(repr(self))


def repeated_to(size: int, unit: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A text of exactly ``size`` characters: ``unit`` repeated (hypothesis cannot draw a
    megabyte of text itself, but can choose what it is made of)."""
    return unit.filter(bool).map(lambda u: Huge((u * (size // len(u) + 1))[:size]))


def huge_text(size: int = 1_000_000) -> st.SearchStrategy[str]:
    return repeated_to(size, hostile_text(min_pieces=1, max_pieces=6))


# --- personal data --------------------------------------------------------------------

#: First two digits of a resident ID: province codes of GB/T 2260.
PROVINCES = (
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "81",
    "82",
    "83",
)
GB11643_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]

#: Characters that never touch a generated number or address: they end it on both sides,
#: survive normalization, and are no part of an e-mail address or URL.
SEPARATORS = (
    "，",
    "。",
    "：",
    "快",
    "电话",
    "号码",
    "卡号",
    "😡",
    "！",
    "（",
    "）",
    "、",
    "是",
    " ",
    "\n",
    "\t",
)


@dataclass(frozen=True)
class Pii:
    """One piece of personal data as written in a text."""

    kind: str  # "phone", "id_card", "bank_card" or "email"
    written: str  # as it appears in the text, separators and prefixes included
    core: str  # what must not survive masking: the digits, or the whole address

    def fragments(self) -> tuple[str, ...]:
        """Strings whose presence in an output means this datum leaked."""
        if self.kind == "email":
            # Half an address is one too, if it is long enough not to be in a filler by chance.
            local, domain = self.core.split("@")
            halves = tuple(h for h in (f"{local}@", f"@{domain}") if len(h) >= 7)
            return (self.written, self.core, *halves)
        return (self.written, self.core)


def id_check_char(first17: str) -> str:
    """GB 11643-1999: the check character makes Σ a_i·W_i ≡ 1 (mod 11); 10 is written X."""
    total = sum(int(d) * w for d, w in zip(first17, GB11643_WEIGHTS, strict=True))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def luhn_complete(partial: str) -> str:
    """``partial`` with its Luhn check digit appended."""
    total = 0
    for position, char in enumerate(reversed(partial)):
        value = int(char) * (2 if position % 2 == 0 else 1)  # doubled: the check digit is next
        total += value // 10 + value % 10
    return partial + str((10 - total % 10) % 10)


def digit_string(size: int) -> st.SearchStrategy[str]:
    return st.text(string.digits, min_size=size, max_size=size)


@st.composite
def mobiles(draw: st.DrawFn) -> Pii:
    digits = "1" + draw(st.sampled_from("3456789")) + draw(digit_string(9))
    sep = draw(st.sampled_from(("", " ", "-")))
    prefix = draw(
        st.sampled_from(
            ("", "+86", "+86 ", "+86-", "0086", "0086 ", "86", "86-", "(+86)", "(+86) ", "(0086)")
        )
    )
    return Pii("phone", prefix + digits[:3] + sep + digits[3:7] + sep + digits[7:], digits)


@st.composite
def landlines(draw: st.DrawFn) -> Pii:
    area = draw(st.sampled_from(("010", "021", "020", "0755", "0571", "0931")))
    local = draw(st.sampled_from("23456789")) + draw(digit_string(7 if len(area) == 3 else 6))
    written = draw(
        st.sampled_from(
            (f"{area}-{local}", f"({area}){local}", f"{area} {local}", f"{area}{local}")
        )
    )
    return Pii("phone", written, area + local)


@st.composite
def id_cards(draw: st.DrawFn) -> Pii:
    birth = draw(st.dates(date(1900, 1, 1), date(2099, 12, 31)))
    first17 = (
        draw(st.sampled_from(PROVINCES))
        + draw(digit_string(4))
        + f"{birth.year:04d}{birth.month:02d}{birth.day:02d}"
        + draw(digit_string(3))
    )
    check = id_check_char(first17)
    if check == "X" and draw(st.booleans()):
        check = "x"
    return Pii("id_card", first17 + check, first17 + check)


@st.composite
def bank_cards(draw: st.DrawFn) -> Pii:
    prefix, length = draw(
        st.sampled_from(
            (
                ("62", 16),
                ("62", 17),
                ("62", 18),
                ("62", 19),
                ("4", 16),
                ("4", 13),
                ("51", 16),
                ("55", 16),
                ("2221", 16),
                ("2720", 16),
                ("9558", 19),
                ("35", 16),
                ("37", 15),
            )
        )
    )
    digits = luhn_complete(prefix + draw(digit_string(length - len(prefix) - 1)))
    layout = draw(st.sampled_from(("plain", "groups")))
    if layout == "plain":
        return Pii("bank_card", digits, digits)
    sep = draw(st.sampled_from((" ", "-")))
    sizes = (
        (4, 6, 5) if length == 15 else (4,) * (length // 4) + ((length % 4,) if length % 4 else ())
    )
    groups, start = [], 0
    for size in sizes:
        groups.append(digits[start : start + size])
        start += size
    return Pii("bank_card", sep.join(groups), digits)


_LOCAL_FIRST = string.ascii_letters + string.digits
_LOCAL = _LOCAL_FIRST + "._%+-"
_LABEL = string.ascii_lowercase + string.digits


@st.composite
def emails(draw: st.DrawFn) -> Pii:
    local = draw(st.text(_LOCAL_FIRST, min_size=1, max_size=1)) + draw(st.text(_LOCAL, max_size=16))
    labels = draw(st.lists(st.text(_LABEL, min_size=1, max_size=10), min_size=1, max_size=3))
    tld = draw(st.text(string.ascii_letters, min_size=2, max_size=6))
    address = f"{local}@{'.'.join(labels)}.{tld}"
    return Pii("email", address, address)


personal_data = st.one_of(mobiles(), landlines(), id_cards(), bank_cards(), emails())


def to_full_width(text: str) -> str:
    """Printable ASCII as its full-width form (１３８…, ＠), as Chinese input methods type it."""
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text
    )


@dataclass(frozen=True)
class Embedded:
    """Personal data inside a hostile text."""

    text: str
    items: tuple[Pii, ...]

    def leaks(self, output: str) -> list[str]:
        return [f for pii in self.items for f in pii.fragments() if f in output]


@st.composite
def texts_with_personal_data(
    draw: st.DrawFn,
    *,
    filler: st.SearchStrategy[str] | None = None,
    separators: tuple[str, ...] = SEPARATORS,
    full_width: bool = False,
    max_items: int = 3,
) -> Embedded:
    """One to ``max_items`` pieces of personal data, each between two separators, in a
    hostile text (which may contain digits, letters, control characters of its own)."""
    filler = filler if filler is not None else hostile_text(max_pieces=6)
    items = draw(st.lists(personal_data, min_size=1, max_size=max_items))
    parts = [draw(filler)]
    for pii in items:
        written = to_full_width(pii.written) if full_width and draw(st.booleans()) else pii.written
        parts += [
            draw(st.sampled_from(separators)),
            written,
            draw(st.sampled_from(separators)),
            draw(filler),
        ]
    return Embedded("".join(parts), tuple(items))


def _without_digits_or_at(char: str) -> bool:
    folded = unicodedata.normalize("NFKC", char)
    return not any(c.isdigit() or c == "@" for c in folded)


#: Filler whose normalized form has no digit and no "@": any digit or "@" found in an
#: output came from the personal data. ASCII letters and spaces are frequent, so that a
#: cut by the length bound can land in a long run of Latin text.
digit_free_filler = st.lists(
    st.one_of(
        st.text(string.ascii_letters + " ", min_size=1, max_size=20),
        st.text(string.ascii_letters + " ", min_size=60, max_size=100),
        st.text(cjk, min_size=1, max_size=10),
        st.text(
            st.characters(exclude_categories=["Cs"]).filter(_without_digits_or_at),
            min_size=1,
            max_size=8,
        ),
        st.sampled_from(_PHRASES[:3]),
    ),
    max_size=5,
).map("".join)


# --- JSON values and event messages ----------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(10**40), 10**40)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(("", " ", "\u3000"))
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def clean_text(max_size: int) -> st.SearchStrategy[str]:
    """A valid string field: any characters (no lone surrogates), not only whitespace."""
    return st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=max_size).filter(
        lambda s: bool(s.strip())
    )


# Whole minutes: CPython 3.11 drops the microseconds of an offset such as +00:00:00.000002.
_OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_INSTANTS = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)


@st.composite
def event_times(draw: st.DrawFn) -> tuple[Any, float]:
    """A valid time as a producer may send it, and the unix seconds it stands for."""
    instant = draw(_INSTANTS)
    seconds = instant.timestamp()
    form = draw(st.sampled_from(("iso", "iso-z", "seconds", "float", "millis")))
    if form == "iso":
        return instant.astimezone(draw(_OFFSETS)).isoformat(), seconds
    if form == "iso-z":
        return instant.isoformat().replace("+00:00", "Z"), seconds
    if form == "seconds":
        return math.floor(seconds), float(math.floor(seconds))
    if form == "float":
        return seconds, seconds
    millis = math.floor(seconds * 1000)
    return millis, millis / 1000


identifiers = (clean_text(MAX_ID) | st.integers(-(10**60), 10**60)).filter(
    lambda v: len(str(v)) <= MAX_ID
)
_optional_dimension = st.none() | clean_text(MAX_NAME)
_count = st.integers(0, 10**12)


@dataclass(frozen=True)
class Message:
    """A valid event message and what decoding it must give."""

    source: str
    data: dict[str, Any]
    expected: dict[str, Any]  # Event attribute → value


def _drop_nones(data: dict[str, Any], optional: set[str], draw: st.DrawFn) -> dict[str, Any]:
    """An optional field that is None is sent as null or left out, at random."""
    return {
        k: v for k, v in data.items() if not (v is None and k in optional and draw(st.booleans()))
    }


@st.composite
def valid_messages(draw: st.DrawFn, source: str | None = None) -> Message:
    """A valid message of ``source`` (or any source), extra unknown fields included."""
    source = source or draw(st.sampled_from(SOURCES))
    text = draw(clean_text(200) | st.sampled_from(_PHRASES))
    time_value, seconds = draw(event_times())
    event_id = draw(identifiers)
    product, region = draw(_optional_dimension), draw(_optional_dimension)
    data: dict[str, Any] = {
        "id": event_id,
        TEXT_FIELDS[source]: text,
        "product": product,
        "region": region,
    }
    expected: dict[str, Any] = {
        "source": source,
        "id": str(event_id),
        "text": text,
        "event_time": seconds,
    }
    if source == "complaint":
        channel = draw(st.sampled_from(COMPLAINT_CHANNELS))
        customer = draw(identifiers)
        data |= {"customer_id": customer, "channel": channel, "created_at": time_value}
        fields: dict[str, Any] = {"customer_id": str(customer), "channel": channel}
        expected["channel"] = channel
    elif source == "call":
        customer, agent = draw(identifiers), draw(identifiers)
        data |= {"customer_id": customer, "agent_id": agent}
        fields = {
            "customer_id": str(customer),
            "agent_id": str(agent),
            "wait_seconds": draw(st.integers(0, 86_400) | st.floats(0, 86_400)),
            "talk_seconds": draw(st.integers(0, 86_400) | st.floats(0, 86_400)),
            "resolved_first_contact": draw(st.booleans()),
            "transfers": draw(st.none() | st.integers(0, 100)),
            "satisfaction": draw(st.none() | st.integers(1, 5)),
        }
        data |= {k: v for k, v in fields.items() if not k.endswith("_id")}
        data["started_at"] = time_value
        fields["transfers"] = fields["transfers"] or 0
        expected["channel"] = "call"
    elif source == "survey":
        customer, kind = draw(identifiers), draw(st.sampled_from(SURVEY_KINDS))
        touchpoint = draw(_optional_dimension)
        # A score every kind allows: then a message whose kind alone is changed to another
        # valid kind is still valid (the score's range depends on the kind).
        fields = {
            "customer_id": str(customer),
            "kind": kind,
            "score": draw(st.integers(1, 5)),
            "touchpoint": touchpoint,
        }
        data |= fields | {"customer_id": customer, "created_at": time_value}
        fields["touchpoint"] = None if touchpoint is None else redact(touchpoint)  # masked
        expected["channel"] = None
    else:
        posted_by = draw(st.none() | identifiers)
        fields = {
            "platform": draw(st.sampled_from(PLATFORMS)),
            "author": draw(clean_text(MAX_NAME)),
            "followers": draw(st.none() | _count),
            "likes": draw(st.none() | _count),
            "reposts": draw(st.none() | _count),
            "comments": draw(st.none() | _count),
            "url": draw(st.none() | clean_text(300)),
        }
        data |= fields | {"posted_at": time_value, "customer_id": posted_by}
        fields |= {k: fields[k] or 0 for k in ("followers", "likes", "reposts", "comments")}
        if posted_by is not None:  # only a post that names its customer has one
            fields["customer_id"] = str(posted_by)
        expected["channel"] = "social"
    expected["fields"] = fields  # ids sent as integers are strings from decoding on
    expected["raw_product"], expected["raw_region"] = product, region
    extra = draw(
        st.dictionaries(
            st.text(max_size=8).filter(lambda k: k not in data), json_values, max_size=3
        )
    )
    data = _drop_nones(
        data,
        {
            "product",
            "region",
            "transfers",
            "satisfaction",
            "followers",
            "likes",
            "reposts",
            "comments",
            "url",
            "touchpoint",
            *(["customer_id"] if source == "social" else []),
        },
        draw,
    )
    return Message(source, data | extra, expected)


def encode(data: Any, *, ascii_only: bool = False) -> bytes:
    return json.dumps(data, ensure_ascii=ascii_only).encode()


#: The field that carries each source's text (a survey response's is its comment).
TEXT_FIELDS = {"complaint": "text", "call": "text", "social": "text", "survey": "comment"}
#: The string fields of each contract.
STRING_FIELDS: dict[str, tuple[str, ...]] = {
    "complaint": ("id", "customer_id", "channel", "text", "product", "region"),
    "call": ("id", "customer_id", "agent_id", "text", "product", "region"),
    "social": ("id", "platform", "author", "text", "url", "product", "region", "customer_id"),
    "survey": ("id", "customer_id", "kind", "comment", "touchpoint", "product", "region"),
}
CONTRACT_FIELDS: dict[str, tuple[str, ...]] = {
    "complaint": ("id", "customer_id", "channel", "text", "created_at", "product", "region"),
    "call": (
        "id",
        "customer_id",
        "agent_id",
        "started_at",
        "wait_seconds",
        "talk_seconds",
        "resolved_first_contact",
        "transfers",
        "satisfaction",
        "text",
        "product",
        "region",
    ),
    "social": (
        "id",
        "platform",
        "author",
        "followers",
        "likes",
        "reposts",
        "comments",
        "text",
        "url",
        "posted_at",
        "product",
        "region",
        "customer_id",
    ),
    "survey": (
        "id",
        "customer_id",
        "kind",
        "score",
        "comment",
        "touchpoint",
        "created_at",
        "product",
        "region",
    ),
}
NUMBER_FIELDS: dict[str, tuple[str, ...]] = {
    "complaint": ("created_at",),
    "call": ("started_at", "wait_seconds", "talk_seconds", "transfers", "satisfaction"),
    "social": ("posted_at", "followers", "likes", "reposts", "comments"),
    "survey": ("created_at", "score"),
}
TIME_FIELDS = {
    "complaint": "created_at",
    "call": "started_at",
    "social": "posted_at",
    "survey": "created_at",
}


def examples(count: int) -> settings:
    """``count`` examples under the CI profile, proportionally more under ``explore``:
    for the tests whose examples are expensive (megabyte texts)."""
    return settings(max_examples=max(1, count * settings().max_examples // 60))  # the profile's
