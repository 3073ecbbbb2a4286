"""streams.events: decoding and validation of the three input contracts."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from classifiers.priority import Signals
from streams.events import MAX_ID, MAX_TEXT, Event, decode, parse_time
from vocwatch.errors import InvalidEvent
from vocwatch.vocabulary import Channel, Source

MAX_BYTES = 256 * 1024
T = datetime(2024, 5, 1, 2, 0, tzinfo=UTC).timestamp()  # 2024-05-01 10:00 in Beijing
T_ISO = "2024-05-01T10:00:00+08:00"
DROP = object()  # marks a field to leave out of a message


def complaint(**changes: Any) -> dict[str, Any]:
    return _apply(
        {
            "id": "c-0000001",
            "customer_id": "u1",
            "channel": "app",
            "text": "快递三天没到，客服也不理人",
            "created_at": T_ISO,
            "product": "智能手表X2",
            "region": "北京",
        },
        changes,
    )


def call(**changes: Any) -> dict[str, Any]:
    return _apply(
        {
            "id": "call-0000002",
            "customer_id": "u2",
            "agent_id": "a007",
            "started_at": int(T * 1000),
            "wait_seconds": 320.5,
            "talk_seconds": 600,
            "resolved_first_contact": False,
            "transfers": 2,
            "satisfaction": 1,
            "text": "客户来电：重复扣费",
        },
        changes,
    )


def social(**changes: Any) -> dict[str, Any]:
    return _apply(
        {
            "id": "post-0000003",
            "platform": "weibo",
            "author": "用户12345",
            "followers": 50_000,
            "likes": 100,
            "reposts": 30,
            "comments": 20,
            "text": "物流太慢了",
            "url": "https://weibo.example/p/1",
            "posted_at": int(T),
        },
        changes,
    )


BUILDERS = {"complaint": complaint, "call": call, "social": social}


def _apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **changes}
    return {k: v for k, v in merged.items() if v is not DROP}


def encode(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def decode_ok(source: str, data: Any) -> Event:
    return decode(source, encode(data), max_bytes=MAX_BYTES)


def decode_error(source: str, raw: bytes | None, max_bytes: int = MAX_BYTES) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as info:
        decode(source, raw, max_bytes=max_bytes)
    return info.value


# --- valid examples ------------------------------------------------------------------


def test_valid_complaint() -> None:
    event = decode_ok("complaint", complaint())
    assert event == Event(
        source=Source.COMPLAINT,
        id="c-0000001",
        text="快递三天没到，客服也不理人",
        event_time=T,
        channel=Channel.APP,
        product="智能手表X2",
        region="北京",
        fields={"customer_id": "u1", "channel": "app"},
    )
    assert event.signals == Signals()
    assert event.dimensions() == {
        "source": "complaint",
        "channel": "app",
        "product": "智能手表X2",
        "region": "北京",
    }


@pytest.mark.parametrize("channel", ["hotline", "email", "app", "web", "wechat", "store"])
def test_every_complaint_channel(channel: str) -> None:
    event = decode_ok("complaint", complaint(channel=channel))
    assert event.channel == channel
    assert event.dimensions()["channel"] == channel


def test_valid_call() -> None:
    event = decode_ok("call", call())
    assert (event.source, event.id, event.channel) == ("call", "call-0000002", "call")
    assert event.event_time == T
    assert event.text == "客户来电：重复扣费"
    assert (event.product, event.region) == (None, None)
    assert event.fields == {
        "customer_id": "u2",
        "agent_id": "a007",
        "wait_seconds": 320.5,
        "talk_seconds": 600,
        "resolved_first_contact": False,
        "transfers": 2,
        "satisfaction": 1,
    }
    assert event.signals == Signals(
        wait_seconds=320.5, transfers=2, resolved_first_contact=False, satisfaction=1
    )
    assert event.dimensions() == {"source": "call", "channel": "call"}


def test_call_optional_fields_default() -> None:
    event = decode_ok("call", call(transfers=DROP, satisfaction=DROP))
    assert event.fields["transfers"] == 0
    assert event.fields["satisfaction"] is None
    nulls = decode_ok("call", call(transfers=None, satisfaction=None))
    assert (nulls.fields["transfers"], nulls.fields["satisfaction"]) == (0, None)


def test_valid_social_post() -> None:
    event = decode_ok("social", social(product="蓝牙耳机Pro", region="上海"))
    assert (event.source, event.id, event.channel) == ("social", "post-0000003", "social")
    assert event.event_time == T
    assert event.fields == {
        "platform": "weibo",
        "author": "用户12345",
        "followers": 50_000,
        "likes": 100,
        "reposts": 30,
        "comments": 20,
        "url": "https://weibo.example/p/1",
    }
    # reach = followers + 10 × reposts + 2 × comments + likes
    assert event.signals == Signals(reach=50_000 + 300 + 40 + 100)
    assert event.dimensions() == {
        "source": "social",
        "channel": "social",
        "product": "蓝牙耳机Pro",
        "region": "上海",
        "platform": "weibo",
    }


def test_social_counts_default_to_zero() -> None:
    event = decode_ok(
        "social", social(followers=DROP, likes=DROP, reposts=DROP, comments=DROP, url=DROP)
    )
    assert [event.fields[k] for k in ("followers", "likes", "reposts", "comments")] == [0] * 4
    assert event.fields["url"] is None
    assert event.signals == Signals(reach=0)


@pytest.mark.parametrize("platform", ["weibo", "douyin", "xiaohongshu", "wechat", "other"])
def test_every_platform(platform: str) -> None:
    assert decode_ok("social", social(platform=platform)).dimensions()["platform"] == platform


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ("complaint", "id"),
        ("complaint", "customer_id"),
        ("call", "id"),
        ("call", "customer_id"),
        ("call", "agent_id"),
        ("social", "id"),
    ],
)
def test_integer_ids_become_strings(source: str, field: str) -> None:
    event = decode_ok(source, BUILDERS[source](**{field: 12345}))
    value = event.id if field == "id" else event.fields[field]
    assert value == "12345"


def test_zero_is_a_valid_integer_id() -> None:
    assert decode_ok("complaint", complaint(id=0)).id == "0"


@pytest.mark.parametrize("source", ["complaint", "call", "social"])
def test_unknown_extra_fields_are_ignored(source: str) -> None:
    extra = {"priority": "P1", "sentiment": 0.1, "nested": {"a": [1, 2]}, "tags": None}
    plain = decode_ok(source, BUILDERS[source]())
    event = decode_ok(source, BUILDERS[source](**extra))
    assert event == plain
    assert not set(extra) & set(event.fields)


def test_message_of_exactly_max_bytes_is_accepted() -> None:
    raw = encode(complaint())
    assert decode("complaint", raw, max_bytes=len(raw)).id == "c-0000001"


def test_text_at_its_length_limit_is_accepted() -> None:
    for source in ("complaint", "call", "social"):
        text = "慢" * MAX_TEXT[source]
        assert decode_ok(source, BUILDERS[source](text=text)).text == text


# --- times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:00:00+08:00", T),
        ("2024-05-01T02:00:00+00:00", T),
        ("2024-05-01T02:00:00Z", T),
        ("2024-04-30T21:00:00-05:00", T),
        ("2024-05-01 10:00:00+08:00", T),
        ("2024-05-01T10:00:00.250+08:00", T + 0.25),
        (int(T), T),  # epoch seconds
        (T + 0.5, T + 0.5),
        (int(T * 1000), T),  # epoch milliseconds
        (int(T * 1000) + 250, T + 0.25),
        (946_684_800, 946_684_800.0),  # 2000-01-01T00:00:00Z, the first valid second
    ],
)
def test_parse_time_accepts(value: Any, expected: float) -> None:
    assert parse_time("created_at", value) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("source", "field", "value"),
    [
        ("complaint", "created_at", "2024-05-01T02:00:00Z"),
        ("call", "started_at", int(T)),
        ("social", "posted_at", T_ISO),
        ("call", "started_at", int(T * 1000)),
    ],
)
def test_every_source_accepts_every_time_form(source: str, field: str, value: Any) -> None:
    assert decode_ok(source, BUILDERS[source](**{field: value})).event_time == T


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T10:00:00",  # naive: no offset
        "2024-05-01",  # a date is naive too
        "yesterday",
        "1714528800",  # a number in a string is no ISO time
        "1999-12-31T23:59:59+00:00",  # before 2000
        "2100-01-01T00:00:00+00:00",  # 2100 is excluded
        0,
        -1,
        946_684_799,  # one second before 2000
        4_102_444_800,  # 2100-01-01 in seconds
        50_000_000_000,  # neither plausible seconds nor milliseconds
        946_684_799_999,  # milliseconds, just before 2000
        4_102_444_800_000,  # milliseconds, 2100
        float("inf"),
        float("nan"),
    ],
)
def test_parse_time_rejects(value: Any) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_time("created_at", value)
    assert info.value.reason == "invalid_time"
    assert info.value.field == "created_at"
    assert "'created_at'" in info.value.detail


@pytest.mark.parametrize("value", [True, False, [2024, 5, 1], {"seconds": 1}])
def test_parse_time_rejects_other_types(value: Any) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_time("posted_at", value)
    assert info.value.reason == "wrong_type"
    assert info.value.field == "posted_at"


def test_huge_integer_time_is_an_invalid_event() -> None:
    # JSON integers are unbounded; a huge one must be dead-lettered as invalid_time, not
    # escape as an OverflowError.
    raw = encode(complaint(created_at="HUGE")).replace(b'"HUGE"', b"1" + b"0" * 400)
    error = decode_error("complaint", raw)
    assert (error.reason, error.field) == ("invalid_time", "created_at")


@pytest.mark.parametrize(("source", "field"), [("call", "wait_seconds"), ("social", "followers")])
def test_huge_integer_count_is_an_invalid_event(source: str, field: str) -> None:
    raw = encode(BUILDERS[source](**{field: "HUGE"})).replace(b'"HUGE"', b"9" * 400)
    error = decode_error(source, raw)
    assert (error.reason, error.field) == ("invalid_value", field)


# --- every dead-letter reason ----------------------------------------------------------

MESSAGE_CASES: list[tuple[str, str, bytes | None]] = [
    ("not_utf8", "complaint", b'{"id": "x1", "text": "\xe5\xbf\xab\xe9"}'),
    ("not_utf8", "call", b"\xff\xfe{}"),
    ("not_json", "complaint", b"{not json"),
    ("not_json", "call", b""),
    ("not_json", "social", None),  # a tombstone
    ("not_json", "complaint", b"[" * 100_000),  # nesting too deep for the parser
    ("not_json", "complaint", encode(complaint()) + b"}"),
    ("not_object", "complaint", b"[1, 2, 3]"),
    ("not_object", "call", b'"just a string"'),
    ("not_object", "social", b"42"),
    ("not_object", "social", b"null"),
]


@pytest.mark.parametrize(("reason", "source", "raw"), MESSAGE_CASES)
def test_message_level_reasons(reason: str, source: str, raw: bytes | None) -> None:
    error = decode_error(source, raw)
    assert error.reason == reason
    assert error.field == ""
    assert str(error).startswith(f"{reason}: ")


def test_too_large() -> None:
    raw = encode(complaint())
    error = decode_error("complaint", raw, max_bytes=len(raw) - 1)
    assert error.reason == "too_large"
    assert str(len(raw)) in error.detail


def test_too_large_is_checked_before_parsing() -> None:
    assert decode_error("call", b"x" * 11, max_bytes=10).reason == "too_large"


REQUIRED = {
    "complaint": ["id", "customer_id", "channel", "text", "created_at"],
    "call": [
        "id",
        "customer_id",
        "agent_id",
        "started_at",
        "wait_seconds",
        "talk_seconds",
        "resolved_first_contact",
        "text",
    ],
    "social": ["id", "platform", "author", "text", "posted_at"],
}
FIELD_CASES: list[tuple[str, str, str, Any]] = [
    # (reason, source, field, value)
    *[("missing_field", s, f, DROP) for s, fields in REQUIRED.items() for f in fields],
    *[("missing_field", s, f, None) for s, fields in REQUIRED.items() for f in fields],
    ("wrong_type", "complaint", "text", 5),
    ("wrong_type", "complaint", "channel", 3),
    ("wrong_type", "complaint", "id", 1.5),
    ("wrong_type", "complaint", "id", True),
    ("wrong_type", "complaint", "customer_id", ["u1"]),
    ("wrong_type", "complaint", "product", 12),
    ("wrong_type", "complaint", "region", {"city": "北京"}),
    ("wrong_type", "complaint", "created_at", True),
    ("wrong_type", "call", "wait_seconds", "60"),
    ("wrong_type", "call", "wait_seconds", True),
    ("wrong_type", "call", "transfers", 1.5),
    ("wrong_type", "call", "satisfaction", "5"),
    ("wrong_type", "call", "resolved_first_contact", "yes"),
    ("wrong_type", "call", "resolved_first_contact", 1),
    ("wrong_type", "call", "started_at", [1]),
    ("wrong_type", "social", "followers", "10k"),
    ("wrong_type", "social", "likes", 1.0),
    ("wrong_type", "social", "url", 5),
    ("wrong_type", "social", "platform", ["weibo"]),
    ("invalid_value", "complaint", "text", "   "),
    ("invalid_value", "complaint", "text", ""),
    ("invalid_value", "complaint", "id", ""),
    ("invalid_value", "complaint", "id", " "),
    ("invalid_value", "complaint", "id", "x" * (MAX_ID + 1)),
    ("invalid_value", "complaint", "customer_id", ""),
    ("invalid_value", "complaint", "product", ""),
    ("invalid_value", "call", "wait_seconds", -1),
    ("invalid_value", "call", "talk_seconds", 86_401),
    ("invalid_value", "call", "transfers", -1),
    ("invalid_value", "call", "transfers", 101),
    ("invalid_value", "call", "satisfaction", 0),
    ("invalid_value", "call", "satisfaction", 6),
    ("invalid_value", "social", "followers", -5),
    ("invalid_value", "social", "reposts", 10**12 + 1),
    ("unknown_enum", "complaint", "channel", "fax"),
    ("unknown_enum", "complaint", "channel", "APP"),
    ("unknown_enum", "social", "platform", "twitter"),
    ("too_long", "complaint", "text", "慢" * (MAX_TEXT["complaint"] + 1)),
    ("too_long", "call", "text", "慢" * (MAX_TEXT["call"] + 1)),
    ("too_long", "social", "text", "慢" * (MAX_TEXT["social"] + 1)),
    ("too_long", "complaint", "product", "p" * 129),
    ("too_long", "complaint", "region", "r" * 129),
    ("too_long", "social", "author", "a" * 129),
    ("too_long", "social", "url", "https://x.cn/" + "a" * 2048),
    ("invalid_time", "complaint", "created_at", "2024-05-01T10:00:00"),
    ("invalid_time", "complaint", "created_at", "yesterday"),
    ("invalid_time", "call", "started_at", 0),
    ("invalid_time", "social", "posted_at", "2101-01-01T00:00:00+08:00"),
]


@pytest.mark.parametrize(("reason", "source", "field", "value"), FIELD_CASES)
def test_field_level_reasons_name_the_field(
    reason: str, source: str, field: str, value: Any
) -> None:
    error = decode_error(source, encode(BUILDERS[source](**{field: value})))
    assert error.reason == reason
    assert error.field == field
    assert repr(field) in error.detail
    assert str(error) == f"{reason}: {error.detail}"


def test_nan_is_an_invalid_value() -> None:
    raw = encode(call(wait_seconds="NAN")).replace(b'"NAN"', b"NaN")
    assert json.loads(raw)["wait_seconds"] != json.loads(raw)["wait_seconds"]  # really NaN
    error = decode_error("call", raw)
    assert (error.reason, error.field) == ("invalid_value", "wait_seconds")


def test_infinity_is_an_invalid_value() -> None:
    raw = encode(call(talk_seconds="INF")).replace(b'"INF"', b"Infinity")
    assert math.isinf(json.loads(raw)["talk_seconds"])
    assert decode_error("call", raw).reason == "invalid_value"


def test_every_reason_decode_can_produce_is_covered() -> None:
    covered = {r for r, _, _ in MESSAGE_CASES} | {r for r, _, _, _ in FIELD_CASES} | {"too_large"}
    # processing_error is for failures after decoding (analysis, a batch): not decode's.
    assert covered == InvalidEvent.REASONS - {"processing_error"}


def test_unknown_reason_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown dead-letter reason"):
        InvalidEvent("bad_vibes", "no")
