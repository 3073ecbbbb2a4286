"""Silences (静默): a person mutes the chat notifications of matching alerts until a time.

A silenced alert still lives — it is counted, shown in the API and the console, goes to
the alerts topic, and to the routed sinks that are not chat robots (Alertmanager, webhooks,
streams) with ``silenced_by`` set — but chat robots are not told. Pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alerts.lifecycle import Alert
from alerts.rules import DIMENSIONS, parse_window_key

MATCHERS = ("rule", "priority", "fingerprint", *DIMENSIONS)
_CHANNEL_DIMS = frozenset({"channel", "platform", "source"})
MAX_SILENCE_SECONDS = 7 * 86400
MAX_TEXT = 200


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: Mapping[str, str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str = ""

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, alert: Alert) -> bool:
        """Every matcher holds: by the alert's rule, priority, fingerprint or key — or, for
        ``channel``, ``platform`` and ``source`` outside the key, by the channels it lists
        (as routes match)."""
        facts = {
            **parse_window_key(alert.key),
            "rule": alert.rule,
            "priority": alert.priority,
            "fingerprint": alert.fingerprint,
        }
        return all(
            facts[field] == value
            if field in facts
            else field in _CHANNEL_DIMS and value in alert.channels
            for field, value in self.matchers.items()
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": dict(self.matchers),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Silence:
        return cls(
            data["id"],
            dict(data["matchers"]),
            float(data["starts_at"]),
            float(data["ends_at"]),
            data["created_by"],
            data.get("comment", ""),
        )


def new_silence(body: Any, now: float) -> Silence:
    """A silence from an API request body; ValueError naming the field that is wrong.

    ``{"matchers": {"rule": "negative_burst", "category": "logistics"},
       "duration_seconds": 3600, "created_by": "张三", "comment": "已知故障"}``
    """
    if not isinstance(body, dict):
        raise ValueError("body: expected a JSON object")
    matchers = body.get("matchers")
    if not isinstance(matchers, dict) or not matchers:
        raise ValueError('matchers: expected a non-empty object, e.g. {"rule": "x"}')
    unknown = sorted(set(matchers) - set(MATCHERS))
    if unknown:
        raise ValueError(
            f"matchers: unknown field(s) {', '.join(unknown)}; known: {', '.join(MATCHERS)}"
        )
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in matchers.values()):
        raise ValueError("matchers: every value must be a non-empty string")
    duration = body.get("duration_seconds")
    if (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not 0 < duration <= MAX_SILENCE_SECONDS
    ):
        raise ValueError(f"duration_seconds: a number in (0, {MAX_SILENCE_SECONDS}]")
    created_by = _text(body, "created_by", required=True)
    comment = _text(body, "comment", required=False)
    return Silence(
        uuid.uuid4().hex[:12], dict(matchers), now, now + float(duration), created_by, comment
    )


def _text(body: Mapping[str, Any], name: str, *, required: bool) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > MAX_TEXT or (required and not value.strip()):
        raise ValueError(
            f"{name}: {'a non-empty ' if required else 'a '}string of at most {MAX_TEXT} characters"
        )
    return value.strip()
