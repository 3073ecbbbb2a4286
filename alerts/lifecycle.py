"""Alert lifecycle (告警生命周期), pure: one incident is one alert, updated while it lasts.

An alert is identified by its *fingerprint* (rule + dimension key). While a rule's window
for a key is breached, the alert fires and is updated — at most once per ``update_seconds``
— and when the measure drops below ``threshold × resolve_ratio`` it resolves. Nothing
here does I/O: :func:`advance` takes the current alert and the window, returns the next.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerts.rules import Rule, WindowCounts, parse_window_key

MAX_SAMPLES = 3
SAMPLE_CHARS = 200
_RANK = {"P1": 0, "P2": 1, "P3": 2}


@dataclass(frozen=True)
class Sample:
    """An example text of an alert, already PII-masked."""

    event_id: str
    text: str
    priority: str
    event_time: float
    negative: bool = True


@dataclass(frozen=True)
class Alert:
    id: str
    fingerprint: str
    rule: str
    description: str
    priority: str
    status: str                  # firing / resolved
    key: str                     # canonical dimension key, e.g. channel=app,category=logistics
    window_seconds: int
    window_start: float
    window_end: float
    measure: str
    value: float
    threshold: float
    min_count: int
    counts: WindowCounts
    samples: tuple[Sample, ...]
    first_seen: float
    last_seen: float             # last time the rule was seen breached
    updated_at: float            # last time this alert was emitted
    resolved_at: float | None = None
    updates: int = 0             # how many records of this alert were emitted before
    # What the last emitted record showed: a change is judged against it, not against the
    # last stored state, so a change held back by the update interval is still sent later.
    emitted_counts: WindowCounts | None = None
    emitted_samples: tuple[str, ...] = ()

    def emitting(self, now: float) -> Alert:
        """This alert as emitted now."""
        return dataclasses.replace(self, updated_at=now, emitted_counts=self.counts,
                                   emitted_samples=tuple(s.event_id for s in self.samples))

    def to_record(self) -> dict[str, Any]:
        """The alert as emitted (alerts topic, --alerts-out file, API): JSON-ready."""
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "description": self.description,
            "priority": self.priority,
            "status": self.status,
            "key": parse_window_key(self.key),
            "window": {"start": _iso(self.window_start), "end": _iso(self.window_end),
                       "seconds": self.window_seconds},
            "measure": self.measure,
            "value": round(self.value, 4),
            "threshold": self.threshold,
            "min_count": self.min_count,
            "count": self.counts.count,
            "negative_count": self.counts.negative,
            "p1_count": self.counts.p1,
            "samples": [s.text for s in self.samples],
            "sample_ids": [s.event_id for s in self.samples],
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "updated_at": _iso(self.updated_at),
            "resolved_at": _iso(self.resolved_at) if self.resolved_at is not None else None,
            "sequence": self.updates,
        }

    def to_state(self) -> dict[str, Any]:
        state = dataclasses.asdict(self)
        state["counts"] = dataclasses.asdict(self.counts)
        state["samples"] = [dataclasses.asdict(s) for s in self.samples]
        state["emitted_counts"] = (dataclasses.asdict(self.emitted_counts)
                                   if self.emitted_counts else None)
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Alert:
        emitted = state.get("emitted_counts")
        return cls(**{**state, "counts": WindowCounts(**state["counts"]),
                      "samples": tuple(Sample(**s) for s in state["samples"]),
                      "emitted_counts": WindowCounts(**emitted) if emitted else None,
                      "emitted_samples": tuple(state.get("emitted_samples", ()))})


@dataclass(frozen=True)
class Window:
    """A rule's window for one key, as just read from the store."""

    start: float
    end: float
    counts: WindowCounts


def fingerprint(rule: str, key: str) -> str:
    return hashlib.sha256(f"{rule}|{key}".encode()).hexdigest()[:16]


def merge_samples(current: Iterable[Sample], new: Iterable[Sample]) -> tuple[Sample, ...]:
    """Keep the three most telling examples: highest priority, negative, most recent first."""
    by_id = {s.event_id: s for s in (*current, *new)}
    ranked = sorted(by_id.values(),
                    key=lambda s: (_RANK.get(s.priority, 9), not s.negative, -s.event_time))
    return tuple(ranked[:MAX_SAMPLES])


def advance(rule: Rule, key: str, window: Window, now: float, current: Alert | None,
            samples: Iterable[Sample] = (), *, update_seconds: float) -> tuple[Alert | None, bool]:
    """Next state of the alert of ``rule`` for ``key``, and whether to emit it.

    Returns ``(None, False)`` when there is no alert and none is due.
    """
    value = window.counts.measure(rule.measure)
    if current is None:
        if not rule.breached(window.counts):
            return None, False
        fp = fingerprint(rule.name, key)
        alert = Alert(
            id=f"{fp}-{int(now)}", fingerprint=fp, rule=rule.name,
            description=rule.description, priority=rule.priority, status="firing", key=key,
            window_seconds=rule.window_seconds, window_start=window.start,
            window_end=window.end, measure=rule.measure, value=value,
            threshold=rule.threshold, min_count=rule.min_count, counts=window.counts,
            samples=merge_samples((), samples), first_seen=now, last_seen=now, updated_at=now)
        return alert.emitting(now), True

    updated = dataclasses.replace(
        current, value=value, counts=window.counts, window_start=window.start,
        window_end=window.end, samples=merge_samples(current.samples, samples),
        last_seen=now if rule.breached(window.counts) else current.last_seen)
    if not rule.holds(window.counts):
        resolved = dataclasses.replace(updated, status="resolved", resolved_at=now,
                                       updates=current.updates + 1)
        return resolved.emitting(now), True
    changed = (updated.counts != current.emitted_counts
               or tuple(s.event_id for s in updated.samples) != current.emitted_samples)
    if changed and now - current.updated_at >= update_seconds:
        return dataclasses.replace(updated, updates=current.updates + 1).emitting(now), True
    return updated, False


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
