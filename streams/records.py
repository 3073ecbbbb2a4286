"""The records vocwatch publishes: scored events and dead letters, as JSON bytes.

Both are PII-masked: a scored record carries the normalized, masked text and masked string
fields; a dead letter carries the masked (and truncated) raw text. The original bytes stay
in the input topic, at the origin offset the dead letter names, for replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from classifiers.analyze import Analysis
from classifiers.pii import redact
from streams.events import Event

DEAD_LETTER_RAW_CHARS = 4096


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
        "sentiment": {"score": analysis.sentiment, "polarity": analysis.polarity,
                      "model": model},
        "category": analysis.category,
        "categories": [{"code": c.code, "score": c.score} for c in analysis.categories],
        "priority": analysis.priority.level,
        "reasons": list(analysis.priority.reasons),
        "fields": fields,
        "scored_at": iso(now),
    }


def dead_letter_record(message: RawMessage, source: str, reason: str, detail: str,
                       *, now: float) -> dict[str, Any]:
    raw = message.value or b""
    # Mask the whole text before truncating, so no half number escapes the masking.
    text = redact(raw.decode("utf-8", errors="replace"))
    return {
        "reason": reason,
        "detail": redact(detail),
        "source": source,
        "origin": {"topic": message.topic, "partition": message.partition,
                   "offset": message.offset,
                   "timestamp": iso(message.timestamp) if message.timestamp else None},
        "raw": text[:DEAD_LETTER_RAW_CHARS],
        "raw_bytes": len(raw),
        "dead_lettered_at": iso(now),
    }
