"""Properties of streams.events.decode on hostile input: for any bytes, an event or an
InvalidEvent with a known reason (never another exception), and a dead-letter record that
serializes and says why and where from."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifiers.pii import redact
from streams.events import MAX_TEXT, SOURCES, Event, decode
from streams.records import DEAD_LETTER_RAW_CHARS, RawMessage, dead_letter_record, dumps
from tests.property.strategies import (
    CONTRACT_FIELDS,
    NUMBER_FIELDS,
    STRING_FIELDS,
    TEXT_FIELDS,
    Message,
    cjk,
    emoji,
    encode,
    json_values,
    lone_surrogates,
    valid_messages,
)
from vocwatch.errors import InvalidEvent

MAX_BYTES = 256 * 1024
#: What decode may answer; processing_error belongs to the stages after it.
DECODE_REASONS = InvalidEvent.REASONS - {"processing_error"}
MESSAGE_REASONS = {"too_large", "not_utf8", "not_json", "not_object"}
NOW = 1_714_528_800.0

sources = st.sampled_from(SOURCES)
#: The smallest valid message of each source.
MINIMAL: dict[str, dict[str, Any]] = {
    "complaint": {
        "id": 1,
        "text": "x",
        "channel": "app",
        "customer_id": 1,
        "created_at": 1_714_528_800,
    },
    "call": {
        "id": 1,
        "text": "x",
        "customer_id": 1,
        "agent_id": 2,
        "started_at": 1_714_528_800,
        "wait_seconds": 0,
        "talk_seconds": 0,
        "resolved_first_contact": True,
    },
    "social": {
        "id": 1,
        "text": "x",
        "platform": "weibo",
        "author": "a",
        "posted_at": 1_714_528_800,
    },
    "survey": {
        "id": 1,
        "comment": "x",
        "customer_id": 1,
        "kind": "nps",
        "score": 3,
        "created_at": 1_714_528_800,
    },
}


def outcome(source: str, raw: bytes | None, max_bytes: int = MAX_BYTES) -> Event | InvalidEvent:
    """What decode gives: an event, or the InvalidEvent it raised. Any other exception
    propagates and fails the test."""
    try:
        return decode(source, raw, max_bytes=max_bytes)
    except InvalidEvent as error:
        return error


def check_invalid(source: str, raw: bytes | None, error: InvalidEvent) -> None:
    """An InvalidEvent is well formed, and its dead letter serializes with reason and origin."""
    assert error.reason in DECODE_REASONS
    assert str(error) == f"{error.reason}: {error.detail}"
    if error.reason in MESSAGE_REASONS:
        assert error.field == ""
    else:
        assert error.field in CONTRACT_FIELDS[source]
        assert repr(error.field) in error.detail
    message = RawMessage(raw, f"vocwatch.{source}", 7, 123_456, NOW)
    record = json.loads(
        dumps(dead_letter_record(message, source, error.reason, error.detail, now=NOW))
    )
    assert record["reason"] == error.reason
    assert record["source"] == source
    assert record["origin"] == {
        "topic": f"vocwatch.{source}",
        "partition": 7,
        "offset": 123_456,
        "timestamp": "2024-05-01T02:00:00.000+00:00",
    }
    assert record["raw_bytes"] == len(raw or b"")
    assert len(record["raw"]) <= DEAD_LETTER_RAW_CHARS


def check(source: str, raw: bytes | None, max_bytes: int = MAX_BYTES) -> Event | InvalidEvent:
    result = outcome(source, raw, max_bytes)
    if isinstance(result, InvalidEvent):
        check_invalid(source, raw, result)
    else:
        assert isinstance(result, Event)
        assert result.source == source
        dumps({"text": result.text, "fields": dict(result.fields)})  # encodable as UTF-8
    return result


# --- any bytes -----------------------------------------------------------------------------


@given(sources, st.none() | st.binary(max_size=2048), st.integers(0, 4096))
def test_any_bytes_give_an_event_or_a_known_reason(
    source: str, raw: bytes | None, max_bytes: int
) -> None:
    check(source, raw, max_bytes)


@given(sources, json_values, st.booleans())
def test_any_json_value_gives_an_event_or_a_known_reason(
    source: str, value: Any, ascii_only: bool
) -> None:
    result = check(source, encode(value, ascii_only=ascii_only))
    if not isinstance(value, dict):
        assert isinstance(result, InvalidEvent)
        assert result.reason == "not_object"


@st.composite
def contract_shaped_objects(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """Objects with the contract's keys (some of them) holding any JSON value."""
    source = draw(sources)
    data = draw(
        st.fixed_dictionaries({}, optional={name: json_values for name in CONTRACT_FIELDS[source]})
    )
    return source, data


@given(contract_shaped_objects())
def test_objects_with_the_contracts_keys_and_any_values(case: tuple[str, dict[str, Any]]) -> None:
    source, data = case
    check(source, encode(data, ascii_only=True))


@given(valid_messages(), st.data())
def test_corrupted_valid_messages(message: Message, data: st.DataObject) -> None:
    """A valid message cut short, with bytes flipped or inserted: still no other exception."""
    raw = bytearray(encode(message.data, ascii_only=data.draw(st.booleans())))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(("cut", "flip", "insert", "delete")))
        if action == "cut":
            del raw[position:]
        elif action == "insert":
            raw[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        elif raw and position < len(raw):
            if action == "flip":
                raw[position] ^= data.draw(st.integers(1, 255))
            else:
                del raw[position]
    check(message.source, bytes(raw))


# --- valid messages ---------------------------------------------------------------------


@given(valid_messages(), st.booleans())
def test_valid_messages_round_trip(message: Message, ascii_only: bool) -> None:
    raw = encode(message.data, ascii_only=ascii_only)
    event = decode(message.source, raw, max_bytes=len(raw))
    expected = message.expected
    assert (event.source, event.id, event.text, event.channel) == (
        expected["source"],
        expected["id"],
        expected["text"],
        expected["channel"],
    )
    assert event.event_time == pytest.approx(expected["event_time"], abs=1e-6)
    assert dict(event.fields) == expected["fields"]
    for name in ("product", "region"):
        raw_value = expected[f"raw_{name}"]
        assert getattr(event, name) == (redact(raw_value) if raw_value is not None else None)
    assert event.dimensions()["source"] == message.source


@given(valid_messages(), st.integers(1, 64))
def test_the_byte_limit_is_exact(message: Message, over: int) -> None:
    raw = encode(message.data)
    assert isinstance(decode(message.source, raw, max_bytes=len(raw)), Event)
    error = outcome(message.source, raw, max_bytes=max(0, len(raw) - over))
    assert isinstance(error, InvalidEvent)
    assert error.reason == "too_large"


# --- one broken field ----------------------------------------------------------------------

DROP = object()


@given(valid_messages(), st.data())
def test_one_broken_field_is_the_field_named(message: Message, data: st.DataObject) -> None:
    """Every other field is valid, so a rejection can only be about the one changed."""
    name = data.draw(st.sampled_from(CONTRACT_FIELDS[message.source]))
    value = data.draw(json_values | st.just(DROP))
    changed = {k: v for k, v in message.data.items() if k != name}
    if value is not DROP:
        changed[name] = value
    result = check(message.source, encode(changed, ascii_only=True))
    if isinstance(result, InvalidEvent):
        assert result.field == name
        assert result.reason not in MESSAGE_REASONS


@given(valid_messages(), st.data())
def test_a_lone_surrogate_escape_is_an_invalid_value(message: Message, data: st.DataObject) -> None:
    """JSON can spell a lone surrogate ("\\ud800"), which is no text: UTF-8 encoders refuse
    it, so the event could neither be analysed nor published. It is dead-lettered as
    invalid_value, naming the field."""
    present = [
        f for f in STRING_FIELDS[message.source] if isinstance(message.data.get(f), str | int)
    ]
    name = data.draw(st.sampled_from(present))
    value = str(message.data[name])
    at = data.draw(st.integers(0, len(value)))
    changed = message.data | {name: value[:at] + data.draw(lone_surrogates) + value[at:]}
    result = check(message.source, encode(changed, ascii_only=True))
    assert isinstance(result, InvalidEvent)
    if result.reason != "too_long":  # one character more can cross a length limit first
        assert (result.reason, result.field) == ("invalid_value", name)


@given(valid_messages(), st.text(lone_surrogates, min_size=1, max_size=3))
def test_a_lone_surrogate_outside_the_contract_is_ignored(message: Message, junk: str) -> None:
    data = message.data | {"note" + junk: junk, "extra": {"deep": [junk]}}
    event = check(message.source, encode(data, ascii_only=True))
    assert isinstance(event, Event)


@given(sources, st.integers(0, 3), st.sampled_from(["快", "a", "😡", " ", "\x00"]))
def test_text_longer_than_its_limit_is_too_long(source: str, over: int, char: str) -> None:
    text = "慢" + char * (MAX_TEXT[source] - 1 + over)
    result = check(source, encode(MINIMAL[source] | {TEXT_FIELDS[source]: text}))
    if over == 0:
        assert isinstance(result, Event)
        assert result.text == text
    else:
        assert isinstance(result, InvalidEvent)
        assert (result.reason, result.field) == ("too_long", TEXT_FIELDS[source])


# --- JSON that parsers choke on -------------------------------------------------------------


@pytest.mark.parametrize("depth", [1_000, 10_000, 100_000])
@pytest.mark.parametrize(
    ("opening", "closing"), [(b"[", b"]"), (b'{"a":', b"}"), (b'[{"b":', b"}]")]
)
def test_deep_nesting_is_not_json(depth: int, opening: bytes, closing: bytes) -> None:
    nested = opening * depth + b"1" + closing * depth
    for raw in (opening * depth, nested, b'{"id": "x", "extra": ' + nested + b"}"):
        result = check("complaint", raw, max_bytes=len(raw))
        assert isinstance(result, InvalidEvent)
        assert result.reason == "not_json"


@given(valid_messages(), st.integers(1, 30_000), st.booleans())
def test_nesting_of_any_depth_in_an_ignored_field(
    message: Message, depth: int, closed: bool
) -> None:
    nested = b"[" * depth + (b"]" * depth if closed else b"")
    raw = encode(message.data)[:-1] + b', "extra": ' + nested + b"}"
    result = check(message.source, raw)
    if not closed:
        assert isinstance(result, InvalidEvent)
        assert result.reason == "not_json"
    elif isinstance(result, InvalidEvent):  # the parser's recursion limit, not ours
        assert result.reason == "not_json"
        assert depth > 100


_NOT_FINITE = (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1E400")


@given(valid_messages(), st.data())
def test_non_finite_and_huge_numbers(message: Message, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(NUMBER_FIELDS[message.source]))
    literal = data.draw(
        st.sampled_from(_NOT_FINITE)
        | st.builds(
            lambda sign, digits: sign + digits,
            st.sampled_from((b"", b"-")),
            st.integers(14, 6000).map(lambda n: b"9" * n),
        )
    )
    raw = encode(message.data | {name: "PLACEHOLDER"}).replace(b'"PLACEHOLDER"', literal)
    result = check(message.source, raw)
    assert isinstance(result, InvalidEvent)
    if len(literal.lstrip(b"-")) > 4300 and literal[-1:].isdigit():
        # CPython refuses to parse an integer of more than 4300 digits (CVE-2020-10735).
        assert result.reason == "not_json"
    else:
        assert result.field == name
        assert result.reason in {"invalid_value", "invalid_time", "wrong_type"}


@given(valid_messages(), st.data())
def test_duplicate_keys_the_last_one_wins(message: Message, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(message.data)))
    other = data.draw(json_values)
    member = json.dumps(name).encode() + b": " + encode(other, ascii_only=True)
    body = encode(message.data, ascii_only=True)
    first_garbage = b"{" + member + b", " + body[1:]
    last_garbage = body[:-1] + b", " + member + b"}"
    assert check(message.source, first_garbage) == decode(message.source, body, max_bytes=MAX_BYTES)
    as_if_replaced = outcome(message.source, encode(message.data | {name: other}, ascii_only=True))
    result = check(message.source, last_garbage)
    if isinstance(as_if_replaced, InvalidEvent):
        assert isinstance(result, InvalidEvent)
        assert (result.reason, result.field) == (as_if_replaced.reason, as_if_replaced.field)
    else:
        assert result == as_if_replaced


@given(sources, st.lists(cjk | emoji, min_size=1, max_size=50).map("".join))
def test_text_of_emoji_and_cjk_in_either_json_encoding_decodes(source: str, text: str) -> None:
    """Escaped (\\ud83d\\ude21) or not, an emoji is the same text."""
    data = MINIMAL[source] | {TEXT_FIELDS[source]: text}
    for raw in (encode(data), encode(data, ascii_only=True)):
        event = check(source, raw)
        assert isinstance(event, Event)
        assert event.text == text
