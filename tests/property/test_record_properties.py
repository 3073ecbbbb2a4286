"""Properties of the published records (streams.records): whatever personal data an event
carries, in whichever field, the scored record and the dead letter never show it, and both
always serialize."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from classifiers.analyze import Analyzer
from streams.events import Event, decode
from streams.records import RawMessage, dead_letter_record, dumps, scored_record
from tests.property.measure import peak_bytes, timed
from tests.property.strategies import (
    SEPARATORS,
    TEXT_FIELDS,
    TIME_FIELDS,
    Embedded,
    Message,
    Pii,
    digit_free_filler,
    encode,
    examples,
    huge_text,
    personal_data,
    texts_with_personal_data,
    to_full_width,
    valid_messages,
)
from vocwatch.errors import InvalidEvent

MAX_BYTES = 256 * 1024
NOW = 1_714_528_800.0
#: String fields (besides the text) that a producer may fill with anything, per source.
FREE_FIELDS = {
    "complaint": ("customer_id", "product", "region"),
    "call": ("customer_id", "agent_id", "product", "region"),
    "social": ("author", "url", "product", "region", "customer_id"),
    "survey": ("customer_id", "touchpoint", "product", "region"),
}
ENUM_FIELDS = {"complaint": "channel", "social": "platform", "survey": "kind"}


@st.composite
def messages_with_personal_data(draw: st.DrawFn) -> tuple[Message, Embedded]:
    """A valid message with personal data in its text and in some of its other string
    fields (each short enough for its length limit)."""
    message = draw(valid_messages())
    text = draw(texts_with_personal_data(full_width=True))
    data = message.data | {TEXT_FIELDS[message.source]: text.text}
    items = list(text.items)
    for name in draw(st.lists(st.sampled_from(FREE_FIELDS[message.source]), unique=True)):
        pii = draw(personal_data)
        written = to_full_width(pii.written) if draw(st.booleans()) else pii.written
        if name == "url":
            value = f"https://shop.example/u?q=1&tel={written}&x=y"
        else:
            value = draw(st.sampled_from(SEPARATORS)) + written + draw(st.sampled_from(SEPARATORS))
        data[name] = value
        items.append(pii)
    return Message(message.source, data, message.expected), Embedded(text.text, tuple(items))


def published(record: dict[str, Any]) -> str:
    """The record as it goes to the topic, decoded back to text for searching."""
    raw = dumps(record)
    json.loads(raw)
    return raw.decode()


def dead_letter(raw: bytes) -> dict[str, Any]:
    return dead_letter_record(
        RawMessage(raw, "vocwatch.in", 0, 42, NOW),
        "complaint",
        "too_large",
        "message too large",
        now=NOW,
    )


def outcome(source: str, raw: bytes, max_bytes: int = MAX_BYTES) -> Event | InvalidEvent:
    try:
        return decode(source, raw, max_bytes=max_bytes)
    except InvalidEvent as error:
        return error


def rejected(
    source: str, raw: bytes, max_bytes: int = MAX_BYTES
) -> tuple[InvalidEvent, dict[str, Any]]:
    """The InvalidEvent for ``raw`` (which decode must reject) and its dead letter."""
    error = outcome(source, raw, max_bytes)
    assert isinstance(error, InvalidEvent), f"accepted: {raw[:200]!r}"
    return error, dead_letter_record(
        RawMessage(raw, "vocwatch.in", 0, 42, NOW), source, error.reason, error.detail, now=NOW
    )


@examples(40)
@given(messages_with_personal_data(), st.booleans())
def test_scored_records_never_carry_personal_data(
    analyzer: Analyzer, case: tuple[Message, Embedded], ascii_only: bool
) -> None:
    message, embedded = case
    event = decode(message.source, encode(message.data, ascii_only=ascii_only), max_bytes=MAX_BYTES)
    analysis = analyzer.analyze(event.text, event.signals, channel=event.channel)
    out = published(scored_record(event, analysis, model=analyzer.model_name, now=NOW))
    assert not embedded.leaks(out), (embedded.items, out)


_BREAKAGES = (
    "drop_required",
    "unknown_enum",
    "trailing_garbage",
    "bad_utf8",
    "too_large",
    "wrong_type",
)


def broken(message: Message, how: str, ascii_only: bool) -> tuple[bytes, int]:
    """``message`` made invalid in one way: its bytes and the byte limit to decode with."""
    data = dict(message.data)
    if how == "drop_required":
        del data[TIME_FIELDS[message.source]]
    elif how == "unknown_enum":  # a call has no enum: its boolean then has the wrong type
        data[ENUM_FIELDS.get(message.source, "resolved_first_contact")] = "fax"
    elif how == "wrong_type":
        field = TEXT_FIELDS[message.source]
        data[field] = [data[field]]
    raw = encode(data, ascii_only=ascii_only)
    if how == "trailing_garbage":
        raw += b"}"
    elif how == "bad_utf8":
        raw = raw[:-1] + b"\xff}"
    return raw, (len(raw) // 2 if how == "too_large" else MAX_BYTES)


@given(messages_with_personal_data(), st.sampled_from(_BREAKAGES), st.booleans())
def test_dead_letters_never_carry_personal_data(
    case: tuple[Message, Embedded], how: str, ascii_only: bool
) -> None:
    """The raw text of a dead letter is masked, also when the producer escaped every
    non-ASCII character (号码 is \\u53f7\\u7801: the hex digits of an escape must not hide
    the start of the phone number after it, and escaped full-width digits are digits)."""
    message, embedded = case
    raw, max_bytes = broken(message, how, ascii_only)
    _, record = rejected(message.source, raw, max_bytes)
    out = published(record)
    assert not embedded.leaks(out), (embedded.items, how, out)
    assert record["raw_bytes"] == len(raw)


def digit_windows(pii: Pii, size: int = 5) -> set[str]:
    digits = re.sub(r"\D", "", pii.core)
    return {digits[i : i + size] for i in range(len(digits) - size + 1)}


@given(
    valid_messages(),
    digit_free_filler,
    personal_data,
    digit_free_filler,
    st.sampled_from(("enum", "time")),
)
def test_a_rejected_value_quoted_in_the_detail_is_masked_whole(
    message: Message, before: str, pii: Pii, after: str, field_kind: str
) -> None:
    """The detail quotes the start of a bad value; the value is masked before it is cut
    to length, so no part of a number cut there survives."""
    name = TIME_FIELDS[message.source]
    if field_kind == "enum" and message.source in ENUM_FIELDS:
        name = ENUM_FIELDS[message.source]
    value = before + "，" + pii.written + "，" + after
    error, record = rejected(message.source, encode(message.data | {name: value}))
    assert error.field == name
    assert not any(window in record["detail"] for window in digit_windows(pii)), (
        pii,
        record["detail"],
    )
    assert "@" not in record["detail"]
    assert not Embedded(value, (pii,)).leaks(published(record))


@given(valid_messages(), st.booleans())
def test_every_valid_event_gives_a_publishable_scored_record(
    analyzer: Analyzer, message: Message, ascii_only: bool
) -> None:
    event = decode(message.source, encode(message.data, ascii_only=ascii_only), max_bytes=MAX_BYTES)
    assert isinstance(event, Event)
    analysis = analyzer.analyze(event.text, event.signals, channel=event.channel)
    record = json.loads(dumps(scored_record(event, analysis, model="m", now=NOW)))
    assert record["id"] == event.id
    assert record["source"] == message.source
    assert record["priority"] in ("P1", "P2", "P3")
    assert record["category"] == record["categories"][0]["code"]


_PADDING = {
    "latin": "a",
    "cjk": "快",
    "escaped": "\\u5feb",  # 6 bytes for one character
    "emoji-escaped": "\\ud83d\\ude21",
    "expanding": "\ufdfa",  # NFKC makes 18 characters of it
    "space": " ",
}


@examples(40)
@given(
    st.sampled_from(sorted(_PADDING)),
    st.booleans(),
    st.sampled_from((4_096, 5_461, 8_192, 10_922, 16_384, 21_845, 32_768, 65_536)),
    st.integers(-30, 5),
    st.sampled_from(SEPARATORS),
    personal_data,
)
def test_personal_data_anywhere_in_a_huge_message_stays_out_of_its_dead_letter(
    padding: str, email_first: bool, position: int, shift: int, separator: str, pii: Pii
) -> None:
    """Only the start of a huge message is masked and kept; a number at the end of that
    start, cut there, does not show. The positions are around what 4 KiB (kept), 8 Ki
    characters and 64 KiB (scanned) come to in each padding; a long e-mail address first
    shrinks the masked text so that the cut end is within what is kept."""
    head = ("x" * 9_000 + "@example.cn" + separator) if email_first else ""
    units = max(0, position + shift - len(head))
    raw = (
        head + _PADDING[padding] * units + separator + pii.written + separator + "尾" * 100
    ).encode()
    record, seconds = timed(dead_letter, raw)
    assert seconds < 0.5
    assert not Embedded("", (pii,)).leaks(published(record)), (pii, record["raw"][-80:])
    assert not any(window in record["raw"] for window in digit_windows(pii, 4))


@examples(6)
@given(huge_text(), st.booleans())
def test_a_dead_letter_of_a_megabyte_is_cheap(text: str, escaped: bool) -> None:
    raw = json.dumps({"text": text}, ensure_ascii=escaped).encode()
    record, seconds = timed(dead_letter, raw)
    assert seconds < 0.5
    assert record["raw_bytes"] == len(raw)
    assert peak_bytes(dead_letter, raw) < 8 * 2**20


@examples(10)
@given(valid_messages(), huge_text(200_000))
def test_a_huge_bad_time_is_rejected_cheaply(message: Message, value: str) -> None:
    """A bad time is quoted in the detail, and a time string has no length limit: only
    its start is masked."""
    name = TIME_FIELDS[message.source]
    raw = encode(message.data | {name: value})
    error, seconds = timed(outcome, message.source, raw, len(raw))
    assert isinstance(error, InvalidEvent)
    assert (error.reason, error.field) == ("invalid_time", name)
    assert len(error.detail) < 200
    assert seconds < 0.5
