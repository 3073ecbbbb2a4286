"""Personal-data masking (个人信息脱敏).

Replaced by a token naming the kind: mainland mobile numbers (with or without +86 / 0086,
spaces, dashes), landline numbers with an area code (and an optional extension),
18-digit resident ID numbers (身份证号, region, birth date and GB 11643 checksum verified),
15-digit legacy ID numbers only right after the word 身份证 or 证件 (they have no checksum),
bank card numbers (13–19 digits, plain or in groups, card-network prefix and Luhn
verified) and e-mail addresses.

Numbers that are not personal data stay: 12315 and other hotlines, amounts, dates
(2024-05-01, 20240501), times, order numbers that fail these checks. A long order number
that happens to pass them (an 11-digit number that looks like a mobile, a 16-digit one
with a card prefix and a valid Luhn digit) is masked: the mistake on the safe side.
Masking runs on normalized (half-width) text, before anything leaves the process.
docs/classifiers.md ("Cleaning and privacy") has the examples.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

TOKENS = {"email": "[EMAIL]", "id_card": "[ID]", "bank_card": "[CARD]", "phone": "[PHONE]"}
_PLACEHOLDERS = re.compile("|".join(re.escape(token) for token in TOKENS.values()))
# What is left of a number or an e-mail address cut in the middle: digits with their
# separators, then the word of address characters they belong to — within the length of the
# longest address (RFC 5321), so that a text of one endless "word" is not dropped whole.
_CUT_NUMBER = string.digits + "()+- "
_CUT_WORD = string.digits + string.ascii_letters + "@._%+-"
_CUT_LONGEST = 254

# The local part may not start inside a longer run of local-part characters: the same
# matches, but a long run of letters without "@" is scanned once, not once per letter.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# Digits not glued to other digits (or to letters for the ID, whose last char may be X).
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[\dXx](?![0-9A-Za-z])")
# 15-digit legacy ID (第一代身份证, no check digit): only where the text says it is one.
_LEGACY_ID = re.compile(
    r"(?P<label>(?:身份证|证件)[号码是为:：\s]{0,5})"
    r"(?P<number>(?<!\d)[1-9]\d{14})(?![0-9A-Za-z])"
)
# A card number: one run of digits, or groups with one separator used throughout —
# 4-4-4-4(-1..4), 4-6-5 (Amex), 6-rest (UnionPay 6-13). Mixed separators ("2024-05-01
# 2024-05-02") or date-like groups are not a card. One more group is taken in, so that a
# number next to a 19-digit card ("2024 6222 …") is seen with it: _mask_card sorts it out.
_CARD = re.compile(
    r"(?<!\d)(?:\d{13,19}"
    r"|\d{4}(?P<s1>[ -])\d{4}(?:(?P=s1)\d{4}){1,2}(?:(?P=s1)\d{1,4}){0,2}"
    r"|\d{4}(?P<s2>[ -])\d{6}(?P=s2)\d{4,5}"
    r"|\d{6}(?P<s3>[ -])\d{7,13})(?![\d])"
)
_MOBILE = re.compile(
    r"(?<!\d)(?:\(?(?:\+|00)86\)?[ -]?|86[ -]?)?"
    r"1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)"
)
# Area code 0xx / 0xxx (or +86 and the code without its 0), a 7- or 8-digit local number
# starting 2-9, optionally split 3-4 / 4-4, and an optional extension (-123, 转123).
_LANDLINE = re.compile(
    r"(?<!\d)(?:\(0\d{2,3}\)|0\d{2,3}|\(?(?:\+|00)86\)?[ -]?\(?[1-9]\d{1,2}\)?)[ -]?"
    r"[2-9]\d{2,3}[ -]?\d{4}(?:(?:-|转|ext\.?|EXT\.?)\d{1,5})?(?!\d)"
)

# Every kind of personal data holds an "@" (e-mail) or at least this many digits (the
# shortest, a landline: a 3-digit area code and a 7-digit number).
_FEWEST_DIGITS = 10
_DIGIT = re.compile(r"\d")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# First two digits of a resident ID: the province (省级行政区划代码, GB/T 2260).
_PROVINCES = frozenset(
    {
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
    }
)


def _plausible_date(year: int, month: int, day: int) -> bool:
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


def id_card_valid(number: str) -> bool:
    """A province code, a plausible birth date (19xx/20xx, month 01-12, day 01-31) and the
    GB 11643 checksum."""
    if len(number) != 18 or not number[:17].isdigit() or number[:2] not in _PROVINCES:
        return False
    if not _plausible_date(int(number[6:10]), int(number[10:12]), int(number[12:14])):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def legacy_id_card_valid(number: str) -> bool:
    """A 15-digit ID (issued before 1999, no check digit): a province code and a birth
    date YYMMDD of 19YY."""
    return (
        len(number) == 15
        and number.isdigit()
        and number[:2] in _PROVINCES
        and _plausible_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    )


def luhn_valid(digits: str) -> bool:
    """Luhn checksum, used by every UnionPay / Visa / Mastercard number."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_prefix_valid(digits: str) -> bool:
    """The first digits name a card network: 3 (Amex, JCB, Diners), 4 (Visa), 5 and
    2221–2720 (Mastercard), 6 (UnionPay 62, Discover), 9 (older domestic cards, 9558…).
    Order numbers that begin with a date (2024…) or a 1 are not cards."""
    return digits[:1] in ("3", "4", "5", "6", "9") or 2221 <= int(digits[:4] or 0) <= 2720


@dataclass(frozen=True)
class Masked:
    text: str
    kinds: tuple[str, ...]  # kinds of personal data found, in order, e.g. ("phone",)


def mask_pii(text: str) -> Masked:
    """Replace personal data in ``text`` with tokens; report which kinds were found.

    >>> mask_pii("电话13812345678，投诉12315").text
    '电话[PHONE]，投诉12315'
    """
    if "@" not in text and len(_DIGIT.findall(text)) < _FEWEST_DIGITS:
        return Masked(text, ())  # most texts: no e-mail, too few digits for any number
    found: list[str] = []

    def replace(
        kind: str, check: Callable[[str], bool] | None = None
    ) -> Callable[[re.Match[str]], str]:
        def substitute(match: re.Match[str]) -> str:
            if check is not None and not check(match.group(0)):
                return match.group(0)
            found.append(kind)
            return TOKENS[kind]

        return substitute

    def replace_legacy_id(match: re.Match[str]) -> str:
        if not legacy_id_card_valid(match.group("number")):
            return match.group(0)
        found.append("id_card")
        return match.group("label") + TOKENS["id_card"]

    def replace_card(match: re.Match[str]) -> str:
        masked = _mask_card(match.group(0))
        if masked != match.group(0):
            found.append("bank_card")
        return masked

    text = _EMAIL.sub(replace("email"), text)
    text = _ID_CARD.sub(replace("id_card", id_card_valid), text)
    text = _LEGACY_ID.sub(replace_legacy_id, text)
    text = _MOBILE.sub(replace("phone"), text)
    text = _CARD.sub(replace_card, text)
    text = _LANDLINE.sub(replace("phone"), text)
    return Masked(text, tuple(found))


def _is_card(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    return 13 <= len(digits) <= 19 and card_prefix_valid(digits) and luhn_valid(digits)


def _mask_card(candidate: str) -> str:
    """``candidate`` with the card number in it masked. Grouped, it may have taken in a
    number one separator away ("6222 5212 3456 7893 3 次", "2024 6222 …"): then the
    longest run of its groups that is a card is masked, and the rest kept."""
    if _is_card(candidate):
        return TOKENS["bank_card"]
    groups = re.split(r"[ -]", candidate)
    separator = candidate[len(groups[0]) : len(groups[0]) + 1]
    for size in range(len(groups) - 1, 0, -1):
        for start in range(len(groups) - size + 1):
            if _is_card("".join(groups[start : start + size])):
                return separator.join(
                    [*groups[:start], TOKENS["bank_card"], *groups[start + size :]]
                )
    return candidate


def redact(text: str) -> str:
    """Fold full-width forms, then mask: for any text that leaves the process without
    being analysed (dead-letter raw text, string fields such as an author or a URL).
    １３８１２３４５６７８ is masked like 13812345678; nothing else is rewritten."""
    return mask_pii(unicodedata.normalize("NFKC", text)).text


def redact_start(text: str, limit: int, *, cut: bool = False) -> str:
    """:func:`redact` of the first ``limit`` characters of ``text``: for an excerpt whose
    cost must not grow with the text (NFKC makes up to 18 characters of one). If ``text``
    is longer, or ``cut`` (it is itself the start of a longer text), what is left of a
    number or address cut at the end is dropped: masking only knows whole ones."""
    masked = redact(text[:limit])
    return drop_cut_end(masked) if cut or len(text) > limit else masked


def drop_cut_end(text: str) -> str:
    """``text``, which was cut, without what may be left at its end of a phone number, ID,
    card or e-mail address cut there: masking only knows whole ones."""
    keep, end = text[:-_CUT_LONGEST], text[-_CUT_LONGEST:]
    return keep + end.rstrip(_CUT_NUMBER).rstrip(_CUT_WORD)


def without_placeholders(text: str) -> str:
    """A masked text without its placeholders ([PHONE] …), as the models read it: that a
    number was there says nothing of a complaint's mood or topic, and the corpora's texts
    with phone numbers are mostly advertising labelled positive (a [PHONE] alone moved
    电话[PHONE]，APP一直闪退 to positive)."""
    return _PLACEHOLDERS.sub(" ", text) if "[" in text else text
