"""The records vocwatch publishes: scored events and dead letters, as JSON bytes.

Both are PII-masked: a scored record carries the normalized, masked text and masked string
fields; a dead letter carries the start of the raw text, its JSON escapes spelled out
(\\u5feb as 快), masked and truncated. The original bytes stay in the input topic, at the
origin offset the dead letter names, for replay.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from classifiers.analyze import Analysis
from classifiers.pii import redact, redact_start
from streams.events import Event

DEAD_LETTER_RAW_CHARS = 4096
# Only the start of a raw message is masked: the cost does not grow with the message.
_DEAD_LETTER_SCAN_CHARS = 2 * DEAD_LETTER_RAW_CHARS
_DEAD_LETTER_SCAN_BYTES = 8 * _DEAD_LETTER_SCAN_CHARS
# In a JSON string: an escaped backslash (kept), a white-space escape (\n), a surrogate pair
# of \u escapes (an emoji), or one \u escape.
_JSON_ESCAPE = re.compile(
    r"(\\\\)|\\([bfnrt])|\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})"
    r"|\\u([0-9a-f]{4})",
    re.IGNORECASE,
)
_WHITE_SPACE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True)
class RawMessage:
    """One message as taken from Kafka, with where it came from."""

    value: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp: float | None = None


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def scored_record(event: Event, analysis: Analysis, *, model: str, now: float) -> dict[str, Any]:
    fields = {k: redact(v) if isinstance(v, str) else v for k, v in event.fields.items()}
    return {
        "id": event.id,
        "source": event.source,
        "channel": event.channel,
        "product": event.product,
        "region": event.region,
        "event_time": iso(event.event_time),
        "text": analysis.text,
        "pii_masked": list(analysis.pii),
        "sentiment": {"score": analysis.sentiment, "polarity": analysis.polarity, "model": model},
        "category": analysis.category,
        "categories": [{"code": c.code, "score": c.score} for c in analysis.categories],
        "priority": analysis.priority.level,
        "reasons": list(analysis.priority.reasons),
        "fields": fields,
        "scored_at": iso(now),
    }


def dead_letter_record(
    message: RawMessage, source: str, reason: str, detail: str, *, now: float
) -> dict[str, Any]:
    raw = message.value or b""
    # Mask before truncating, so no half number escapes the masking.
    start = _unescaped(raw[:_DEAD_LETTER_SCAN_BYTES].decode("utf-8", errors="replace"))
    text = redact_start(start, _DEAD_LETTER_SCAN_CHARS, cut=len(raw) > _DEAD_LETTER_SCAN_BYTES)
    return {
        "reason": reason,
        "detail": redact(detail),
        "source": source,
        "origin": {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "timestamp": iso(message.timestamp) if message.timestamp else None,
        },
        "raw": text[:DEAD_LETTER_RAW_CHARS],
        "raw_bytes": len(raw),
        "dead_lettered_at": iso(now),
    }


def _unescaped(text: str) -> str:
    """``text`` with its JSON escapes spelled out, for masking: in 号码13812345678 sent as
    \\u53f7\\u780113812345678 the hex digits of the escape hide where the phone number
    starts, the n of \\n110105194912310018 glues to an ID number, and escaped full-width
    digits (\\uff11) are digits too. A lone surrogate escape stays as it is: it is no
    character, and could not be published."""

    def spelled(match: re.Match[str]) -> str:
        backslashes, space, high, low, single = match.groups()
        if backslashes:
            return backslashes
        if space:
            return _WHITE_SPACE[space.lower()]
        if high:
            return chr(0x10000 + (int(high, 16) - 0xD800) * 0x400 + int(low, 16) - 0xDC00)
        code = int(single, 16)
        return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)

    return _JSON_ESCAPE.sub(spelled, text)
