"""streams.records: scored records and dead letters, PII-masked, as JSON."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from classifiers.analyze import Analysis, Analyzer
from classifiers.category import CategoryScore
from classifiers.pii import TOKENS
from classifiers.priority import Priority
from streams.events import Event, decode
from streams.records import DEAD_LETTER_RAW_CHARS, RawMessage, dead_letter_record, dumps, iso
from streams.records import scored_record as make_scored
from tests.classifiers.fixed_models import fixed_models
from vocwatch import vocabulary
from vocwatch.vocabulary import Category, Channel, Polarity, Source

T = datetime(2024, 5, 1, 2, 0, tzinfo=UTC).timestamp()
T_ISO_UTC = "2024-05-01T02:00:00.000+00:00"
NOW = T + 1.5
NOW_ISO = "2024-05-01T02:00:01.500+00:00"
PHONE = TOKENS["phone"]
EMAIL = TOKENS["email"]


# Every text 94 % negative, 2 % neutral: a sentiment score of 0.05.
ANALYZER = Analyzer(fixed_models(negative=0.94, neutral=0.02, positive=0.04))


def test_iso_is_utc_with_milliseconds() -> None:
    assert iso(T) == T_ISO_UTC
    assert iso(NOW) == NOW_ISO
    assert iso(946_684_800.0) == "2000-01-01T00:00:00.000+00:00"


def test_dumps_is_compact_utf8_json() -> None:
    raw = dumps({"text": "快递", "n": [1, 2]})
    assert raw == '{"text":"快递","n":[1,2]}'.encode()
    assert json.loads(raw) == {"text": "快递", "n": [1, 2]}


def _complaint_event() -> Event:
    message = {
        "id": "c-1",
        "customer_id": "13812345678",
        "channel": "app",
        "text": "快递三天没到，客服电话13812345678，邮箱zs@example.com",
        "created_at": "2024-05-01T10:00:00+08:00",
        "product": "智能手表X2",
        "region": "北京",
    }
    return decode("complaint", json.dumps(message).encode(), max_bytes=10_000)


def test_scored_record_fields() -> None:
    event = _complaint_event()
    analysis = ANALYZER.analyze(event.text, event.signals)
    record = make_scored(event, analysis, model="fixed", now=NOW)
    assert record == {
        "id": "c-1",
        "source": "complaint",
        "channel": "app",
        "product": "智能手表X2",
        "region": "北京",
        "event_time": T_ISO_UTC,
        "text": analysis.text,
        "pii_masked": ["email", "phone"],
        "sentiment": {"score": 0.05, "polarity": "negative", "model": "fixed"},
        "category": analysis.category,
        "categories": [{"code": c.code, "score": c.score} for c in analysis.categories],
        "priority": analysis.priority.level,
        "reasons": list(analysis.priority.reasons),
        "fields": {"customer_id": PHONE, "channel": "app"},
        "scored_at": NOW_ISO,
    }
    assert json.loads(dumps(record)) == record


def test_scored_record_text_and_fields_carry_no_personal_data() -> None:
    event = _complaint_event()
    record = make_scored(event, ANALYZER.analyze(event.text), model="fixed", now=NOW)
    assert record["text"] == f"快递三天没到,客服电话{PHONE},邮箱{EMAIL}"
    published = dumps(record).decode()
    assert "13812345678" not in published
    assert "zs@example.com" not in published


def test_scored_record_masks_string_fields_and_keeps_numbers() -> None:
    message = {
        "id": "p-1",
        "platform": "weibo",
        "author": "张三 138-1234-5678",
        "followers": 13812345678,
        "text": "物流太慢",
        "posted_at": int(T),
        "url": "https://weibo.example/u/zs@example.com",
    }
    event = decode("social", json.dumps(message).encode(), max_bytes=10_000)
    record = make_scored(event, ANALYZER.analyze(event.text), model="fixed", now=NOW)
    assert record["fields"]["author"] == f"张三 {PHONE}"
    assert record["fields"]["url"] == f"https://weibo.example/u/{EMAIL}"
    assert record["fields"]["followers"] == 13812345678  # a count, not a string
    assert record["fields"]["platform"] == "weibo"
    assert record["fields"]["comments"] == 0


def test_scored_record_from_a_hand_made_analysis() -> None:
    event = Event(
        Source.CALL,
        "call-9",
        "t",
        T,
        Channel.CALL,
        None,
        None,
        {"agent_id": "a1", "wait_seconds": 1.0, "satisfaction": None},
    )
    analysis = Analysis(
        text="t",
        tokens=("t",),
        pii=(),
        sentiment=0.7,
        polarity=Polarity.POSITIVE,
        categories=(CategoryScore(Category.SERVICE, 1.0), CategoryScore(Category.TECHNICAL, 0.75)),
        priority=Priority(vocabulary.Priority.P3, 1, ("category:service=medium",)),
    )
    record = make_scored(event, analysis, model="m", now=T)
    assert record["categories"] == [
        {"code": "service", "score": 1.0},
        {"code": "technical", "score": 0.75},
    ]
    assert record["category"] == "service"
    assert record["pii_masked"] == []
    assert (record["product"], record["region"]) == (None, None)
    assert record["fields"] == {"agent_id": "a1", "wait_seconds": 1.0, "satisfaction": None}
    assert record["priority"] == "P3"
    assert record["reasons"] == ["category:service=medium"]


# --- dead letters --------------------------------------------------------------------


def message(value: bytes | None, timestamp: float | None = T) -> RawMessage:
    return RawMessage(
        value=value, topic="vocwatch.complaints", partition=3, offset=1234, timestamp=timestamp
    )


def test_dead_letter_record_fields() -> None:
    raw = b'{"id": "c-bad", "channel": "fax", "text": "\xe6\xb5\x8b\xe8\xaf\x95"}'
    record = dead_letter_record(
        message(raw), "complaint", "unknown_enum", "field 'channel' is 'fax'", now=NOW
    )
    assert record == {
        "reason": "unknown_enum",
        "detail": "field 'channel' is 'fax'",
        "source": "complaint",
        "origin": {
            "topic": "vocwatch.complaints",
            "partition": 3,
            "offset": 1234,
            "timestamp": T_ISO_UTC,
        },
        "raw": raw.decode(),
        "raw_bytes": len(raw),
        "dead_lettered_at": NOW_ISO,
    }
    assert json.loads(dumps(record)) == record


def test_dead_letter_without_timestamp_or_value() -> None:
    record = dead_letter_record(
        message(None, timestamp=None),
        "social",
        "not_json",
        "message has no value (tombstone)",
        now=NOW,
    )
    assert record["origin"]["timestamp"] is None
    assert record["raw"] == ""
    assert record["raw_bytes"] == 0


def test_dead_letter_of_invalid_utf8_keeps_the_rest() -> None:
    raw = b'{"text": "\xe5\xbf\xab\xe9"}'
    record = dead_letter_record(message(raw), "complaint", "not_utf8", "not UTF-8", now=NOW)
    assert record["raw"] == '{"text": "快\ufffd"}'
    assert record["raw_bytes"] == len(raw)
    dumps(record)  # still serializable


def test_dead_letter_masks_raw_and_detail() -> None:
    raw = json.dumps(
        {
            "id": "c-1",
            "channel": "fax",
            "customer_id": "13812345678",
            "text": "邮箱zs@example.com，座机010-62345678",
        },
        ensure_ascii=False,
    ).encode()
    record = dead_letter_record(
        message(raw), "complaint", "unknown_enum", "field 'customer_id' is '13812345678'", now=NOW
    )
    assert "13812345678" not in record["raw"]
    assert "zs@example.com" not in record["raw"]
    assert "62345678" not in record["raw"]
    assert record["raw"].count(PHONE) == 2
    assert EMAIL in record["raw"]
    assert record["detail"] == f"field 'customer_id' is '{PHONE}'"
    assert record["raw_bytes"] == len(raw)  # the size of the original message


def test_dead_letter_raw_is_truncated_after_masking() -> None:
    # The phone number straddles the truncation point: masked first, then cut, so no
    # digits of it survive (cutting first would leave "1381234" unmasked).
    prefix = "a" * (DEAD_LETTER_RAW_CHARS - 7)
    raw = (prefix + "13812345678" + "b" * 100).encode()
    record = dead_letter_record(message(raw), "complaint", "not_json", "not JSON", now=NOW)
    assert len(record["raw"]) == DEAD_LETTER_RAW_CHARS
    assert record["raw"] == (prefix + PHONE + "b" * 100)[:DEAD_LETTER_RAW_CHARS]
    assert not re.search(r"\d", record["raw"])
    assert record["raw_bytes"] == len(raw)


def test_dead_letter_short_raw_is_not_truncated() -> None:
    raw = ("x" * (DEAD_LETTER_RAW_CHARS - 1)).encode()
    record = dead_letter_record(message(raw), "call", "not_json", "not JSON", now=NOW)
    assert record["raw"] == raw.decode()


@pytest.mark.parametrize(
    "phone",
    ["１３８１２３４５６７８", "１３８－１２３４－５６７８"],
    ids=["full-width", "full-width-dashes"],
)
def test_dead_letter_masks_full_width_phone_in_raw(phone: str) -> None:
    # Chinese input methods often produce full-width digits. The scored text is normalized
    # before masking; the raw text of a dead letter must not leak such a number either.
    raw = json.dumps(
        {"id": "c-1", "channel": "fax", "text": f"手机{phone}请回电"}, ensure_ascii=False
    ).encode()
    record = dead_letter_record(message(raw), "complaint", "unknown_enum", "x", now=NOW)
    assert phone not in record["raw"]
    assert PHONE in record["raw"]


def test_scored_record_masks_full_width_phone_in_fields() -> None:
    # Event text is normalized before masking; string fields must be protected the same way.
    message = {
        "id": "p-1",
        "platform": "weibo",
        "author": "张三１３８１２３４５６７８",
        "text": "物流太慢",
        "posted_at": int(T),
    }
    event = decode("social", json.dumps(message, ensure_ascii=False).encode(), max_bytes=10_000)
    record = make_scored(event, ANALYZER.analyze(event.text), model="fixed", now=NOW)
    assert "１３８１２３４５６７８" not in record["fields"]["author"]
    assert PHONE in record["fields"]["author"]
