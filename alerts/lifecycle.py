"""Alert lifecycle (告警生命周期), pure: one incident is one alert, updated while it lasts.

An alert is identified by its *fingerprint* (rule + incident key). It is **pending**
while its rule is breached for less than the rule's ``for:`` span, **firing** after, and
**resolved** when the rule no longer holds (the hysteresis band). A person may
*acknowledge* it (no more reminders) or *silence* it (chat robots stay quiet); both are
kept beside the alert, not in it, and merged in when it is read.

Every emitted record says why it was emitted (``notification``):

``new``         it started firing;
``update``      counts or examples changed (at most once per ``update_seconds``);
``escalation``  its severity doubled since people were last told;
``reminder``    still firing, not acknowledged, ``repeat:`` has passed since the last
                notification;
``resolved``    it is over.

Chat robots get all but ``update``; the alerts topic, files, streams and the API get all.
Nothing here does I/O: :func:`advance` takes the current alert and an evaluation and
returns the next alert and what to emit.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from alerts.evaluate import Evaluation
from alerts.rules import SURVEYS, Rule, WindowCounts, parse_window_key
from vocwatch.vocabulary import (
    CHAT_NOTIFICATIONS,
    AlertKind,
    AlertStatus,
    Measure,
    Notification,
    Priority,
    priority_rank,
)

MAX_SAMPLES = 3
#: Fields of a record that describe a window: an alert of another kind leaves them out.
WINDOW_FIELDS = (
    "window",
    "measure",
    "value",
    "threshold",
    "baseline",
    "min_count",
    "count",
    "negative_count",
    "p1_count",
    "members",
    "terms",
)
# The window fields an alert of another kind keeps: an emerging topic is counted in a window
# against its baseline too, and explained by its terms.
KEPT_WINDOW_FIELDS: dict[AlertKind, frozenset[str]] = {
    AlertKind.EMERGING_TOPIC: frozenset(
        {"window", "baseline", "min_count", "count", "negative_count", "p1_count", "terms"}
    ),
}


@dataclass(frozen=True)
class Sample:
    """An example text of an alert, already PII-masked."""

    event_id: str
    text: str
    priority: Priority
    event_time: float
    negative: bool = True
    source: str = ""
    channel: str = ""  # contact channel; the platform of a social post

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "text": self.text,
            "priority": self.priority,
            "source": self.source,
            "channel": self.channel,
        }


@dataclass(frozen=True)
class Term:
    """A word over-represented in an alert's window against the background."""

    term: str
    count: int
    lift: float


@dataclass(frozen=True)
class Route:
    team: str
    sinks: tuple[str, ...]


@dataclass(frozen=True)
class Ack:
    by: str
    at: float
    note: str = ""


@dataclass(frozen=True)
class Member:
    """One window key of an incident (a correlated rule has several: one per channel)."""

    key: str
    channel: str
    value: float
    severity: float
    breached: bool
    holds: bool
    counts: WindowCounts
    expected: float | None = None
    deviation: float | None = None


@dataclass(frozen=True)
class Alert:
    id: str
    fingerprint: str
    rule: str
    description: str
    priority: Priority
    status: AlertStatus
    key: str  # incident key, e.g. channel=app,category=logistics
    window_seconds: int
    window_start: float
    window_end: float
    measure: Measure
    value: float
    threshold: float | None
    expected: float | None  # spike rules: the baseline …
    deviation: float | None
    severity: float
    min_count: int
    counts: WindowCounts
    first_seen: float
    last_seen: float  # last time the rule was seen breached
    updated_at: float  # last time this alert was emitted
    members: tuple[Member, ...] = ()
    channels: tuple[str, ...] = ()
    samples: tuple[Sample, ...] = ()
    terms: tuple[Term, ...] = ()
    route: Route | None = None
    fired_at: float | None = None
    resolved_at: float | None = None
    notified_at: float | None = None  # last time chat robots were told
    notified_severity: float | None = None
    notification: Notification | Literal[""] = ""  # why the last record was emitted
    updates: int = 0  # records of this alert emitted before
    acknowledged: Ack | None = None
    silenced_by: str | None = None
    # What the last emitted record showed: a change is judged against it, not against the
    # last stored state, so a change held back by the update interval is still sent later.
    emitted_counts: WindowCounts | None = None
    emitted_samples: tuple[str, ...] = ()
    # What the alert is about: a window key (the rules), a customer, an emerging topic. An
    # alert of another kind than ``window`` carries its own fields in ``details``: they are
    # added to its record (JSON-ready values; never one of the common fields).
    kind: AlertKind = AlertKind.WINDOW
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def emitting(self, now: float, kind: Notification) -> Alert:
        """This alert as emitted now, for ``kind`` (see the module docstring)."""
        told = kind in CHAT_NOTIFICATIONS
        return dataclasses.replace(
            self,
            updated_at=now,
            notification=kind,
            emitted_counts=self.counts,
            emitted_samples=tuple(s.event_id for s in self.samples),
            notified_at=now if told else self.notified_at,
            notified_severity=self.severity if told else self.notified_severity,
        )

    def to_record(self) -> dict[str, Any]:
        """The alert as emitted (alerts topic, --alerts-out file, sinks, API): JSON-ready."""
        baseline = (
            None
            if self.expected is None
            else {"expected": self.expected, "deviation": self.deviation}
        )
        record: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "description": self.description,
            "priority": self.priority,
            "status": self.status,
            "notification": self.notification,
            "acknowledged": None
            if self.acknowledged is None
            else {
                "by": self.acknowledged.by,
                "at": _iso(self.acknowledged.at),
                "note": self.acknowledged.note,
            },
            "silenced_by": self.silenced_by,
            "key": parse_window_key(self.key),
            "channels": list(self.channels),
            "window": {
                "start": _iso(self.window_start),
                "end": _iso(self.window_end),
                "seconds": self.window_seconds,
            },
            "measure": self.measure,
            "value": round(self.value, 4),
            "threshold": self.threshold,
            "baseline": baseline,
            "severity": self.severity,
            "min_count": self.min_count,
            "count": self.counts.count,
            "negative_count": self.counts.negative,
            "p1_count": self.counts.p1,
            "members": [
                {
                    "key": parse_window_key(m.key),
                    "channel": m.channel,
                    "value": round(m.value, 4),
                    "severity": m.severity,
                    "breached": m.breached,
                }
                for m in self.members
            ],
            "terms": [dataclasses.asdict(t) for t in self.terms],
            "samples": [s.to_record() for s in self.samples],
            "route": None
            if self.route is None
            else {"team": self.route.team, "sinks": list(self.route.sinks)},
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "fired_at": _iso_or_none(self.fired_at),
            "updated_at": _iso(self.updated_at),
            "resolved_at": _iso_or_none(self.resolved_at),
            "sequence": self.updates,
        }
        if self.kind != AlertKind.WINDOW:
            kept = KEPT_WINDOW_FIELDS.get(self.kind, frozenset())
            for name in WINDOW_FIELDS:
                if name not in kept:
                    del record[name]
        elif self.measure in SURVEYS:
            record["responses"] = self.counts.trials(self.measure)
            record["interval"] = self.counts.interval(self.measure)
        clash = record.keys() & self.details.keys()
        if clash:
            raise ValueError(f"details of a {self.kind} alert repeat common fields: {clash}")
        return {**record, **self.details}

    def to_state(self) -> dict[str, Any]:
        """The alert as stored: what ``dataclasses.asdict`` gives, without its deep copy of
        every value (the values are immutable or, in ``details``, JSON-ready already): an
        alert is stored at every change, and asdict cost ~0.4 ms a customer alert."""
        state = _fields_of(self)
        state["counts"] = _fields_of(self.counts)
        state["members"] = tuple(
            {**_fields_of(m), "counts": _fields_of(m.counts)} for m in self.members
        )
        state["samples"] = tuple(_fields_of(s) for s in self.samples)
        state["terms"] = tuple(_fields_of(t) for t in self.terms)
        for name in ("route", "acknowledged", "emitted_counts"):
            value = state[name]
            if value is not None:
                state[name] = _fields_of(value)
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Alert:
        def opt(value: Any, build: Any) -> Any:
            return None if value is None else build(value)

        def counts(value: Mapping[str, Any]) -> WindowCounts:
            return WindowCounts(**value)

        def sample(value: Mapping[str, Any]) -> Sample:
            return Sample(**{**value, "priority": Priority(value["priority"])})

        notification = state.get("notification", "")
        return cls(
            **{
                **state,
                "priority": Priority(state["priority"]),
                "status": AlertStatus(state["status"]),
                "measure": Measure(state["measure"]),
                "kind": AlertKind(state.get("kind", AlertKind.WINDOW)),
                "details": dict(state.get("details", {})),
                "notification": Notification(notification) if notification else "",
                "counts": counts(state["counts"]),
                "members": tuple(
                    Member(**{**m, "counts": counts(m["counts"])}) for m in state.get("members", ())
                ),
                "channels": tuple(state.get("channels", ())),
                "samples": tuple(sample(s) for s in state.get("samples", ())),
                "terms": tuple(Term(**t) for t in state.get("terms", ())),
                "route": opt(state.get("route"), lambda r: Route(r["team"], tuple(r["sinks"]))),
                "acknowledged": opt(state.get("acknowledged"), lambda a: Ack(**a)),
                "emitted_counts": opt(state.get("emitted_counts"), counts),
                "emitted_samples": tuple(state.get("emitted_samples", ())),
            }
        )


@dataclass(frozen=True)
class Window:
    """The span a rule's evaluation covered."""

    start: float
    end: float


def fingerprint(rule: str, key: str) -> str:
    return hashlib.sha256(f"{rule}|{key}".encode()).hexdigest()[:16]


def merge_samples(current: Iterable[Sample], new: Iterable[Sample]) -> tuple[Sample, ...]:
    """Keep the three most telling examples: highest priority, negative, most recent first."""
    by_id = {s.event_id: s for s in (*current, *new)}
    ranked = sorted(
        by_id.values(),
        key=lambda s: (priority_rank(s.priority), not s.negative, -s.event_time),
    )
    return tuple(ranked[:MAX_SAMPLES])


def advance(
    rule: Rule,
    key: str,
    window: Window,
    evaluation: Evaluation,
    now: float,
    current: Alert | None,
    samples: Iterable[Sample] = (),
    *,
    update_seconds: float,
    members: tuple[Member, ...] = (),
) -> tuple[Alert | None, Notification | None]:
    """Next state of the alert of ``rule`` for incident ``key``, and what to emit.

    Returns ``(None, None)`` when there is no alert (any more: a pending alert whose
    breach ended is dropped without a word).
    """
    if current is None:
        if not evaluation.breached:
            return None, None
        fp = fingerprint(rule.name, key)
        alert = Alert(
            id=f"{fp}-{int(now)}",
            fingerprint=fp,
            rule=rule.name,
            description=rule.description,
            priority=rule.priority,
            status=AlertStatus.PENDING,
            key=key,
            window_seconds=rule.window_seconds,
            window_start=window.start,
            window_end=window.end,
            measure=rule.measure,
            value=evaluation.value,
            threshold=rule.threshold,
            expected=evaluation.expected,
            deviation=evaluation.deviation,
            severity=evaluation.severity,
            min_count=rule.min_count,
            counts=evaluation.counts,
            members=members,
            samples=merge_samples((), samples),
            first_seen=now,
            last_seen=now,
            updated_at=now,
        )
        return start(alert, now, for_seconds=rule.for_seconds)

    updated = dataclasses.replace(
        current,
        value=evaluation.value,
        counts=evaluation.counts,
        expected=evaluation.expected,
        deviation=evaluation.deviation,
        severity=evaluation.severity,
        window_start=window.start,
        window_end=window.end,
        members=members or current.members,
        samples=merge_samples(current.samples, samples),
        last_seen=now if evaluation.breached else current.last_seen,
    )
    return follow(
        current,
        updated,
        breached=evaluation.breached,
        holds=evaluation.holds,
        now=now,
        for_seconds=rule.for_seconds,
        repeat_seconds=rule.repeat_seconds,
        update_seconds=update_seconds,
    )


def start(alert: Alert, now: float, *, for_seconds: float) -> tuple[Alert, Notification | None]:
    """A new (or still pending) alert: firing once it has been breached ``for_seconds``."""
    if now - alert.first_seen < for_seconds:
        return alert, None
    fired = dataclasses.replace(alert, status=AlertStatus.FIRING, fired_at=now)
    return fired.emitting(now, Notification.NEW), Notification.NEW


def follow(
    current: Alert,
    updated: Alert,
    *,
    breached: bool,
    holds: bool,
    now: float,
    for_seconds: float,
    repeat_seconds: float,
    update_seconds: float,
) -> tuple[Alert | None, Notification | None]:
    """The lifecycle step of every kind of alert: ``updated`` is ``current`` with what was
    just evaluated (counts, samples, severity, details), ``breached`` whether it may fire,
    ``holds`` whether a firing alert goes on. Returns the next alert (None: a pending
    alert whose breach ended is dropped) and what to emit."""
    if current.status == AlertStatus.PENDING:
        return start(updated, now, for_seconds=for_seconds) if breached else (None, None)
    if not holds:
        return resolve(updated, now), Notification.RESOLVED
    kind = _firing_news(updated, current, now, repeat_seconds, update_seconds)
    if kind is None:
        return updated, None
    return dataclasses.replace(updated, updates=current.updates + 1).emitting(now, kind), kind


def resolve(alert: Alert, now: float) -> Alert:
    """``alert`` resolved now, as emitted."""
    resolved = dataclasses.replace(
        alert, status=AlertStatus.RESOLVED, resolved_at=now, updates=alert.updates + 1
    )
    return resolved.emitting(now, Notification.RESOLVED)


def _firing_news(
    updated: Alert, current: Alert, now: float, repeat_seconds: float, update_seconds: float
) -> Notification | None:
    if _escalated(updated):
        return Notification.ESCALATION
    if (
        repeat_seconds
        and updated.acknowledged is None
        and now - (current.notified_at or current.first_seen) >= repeat_seconds
    ):
        return Notification.REMINDER
    changed = (
        updated.counts != current.emitted_counts
        or tuple(s.event_id for s in updated.samples) != current.emitted_samples
    )
    if changed and now - current.updated_at >= update_seconds:
        return Notification.UPDATE
    return None


def _escalated(alert: Alert) -> bool:
    """Severity (×threshold, or deviations from the baseline) doubled since last told."""
    told = alert.notified_severity
    return told is not None and told > 0 and alert.severity >= 2 * told


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def _iso_or_none(timestamp: float | None) -> str | None:
    return None if timestamp is None else _iso(timestamp)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _fields_of(instance: Any) -> dict[str, Any]:
    """A dataclass instance's fields, by name, one level deep."""
    cls = type(instance)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return {name: getattr(instance, name) for name in names}
