"""Alerts about one customer (客户告警), on the one alert lifecycle. Pure.

* ``customer_risk`` (流失风险): the customer's risk score (:mod:`alerts.risk`) reached the
  threshold. One alert per customer incident, keyed ``customer_id=…``, with the score, the
  reasons, the signals behind them, a short timeline of the customer's contacts and their
  own masked texts, newest first. Updated as contacts arrive; resolved when the score has
  decayed below ``resolve_below``, or when a person acknowledges it (with a note): the
  contacts up to then are marked handled and raise no new alert.
* ``detractor`` (贬损者回访): an NPS 0–6 or CSAT 1–2 response opens a follow-up with a
  due time (``due``, 48 h after the response by default). At most one is open per
  customer: later detractor responses join it. It resolves when acknowledged with a note,
  or when a later response of the customer is not a detractor's; past its due time it
  escalates (its severity doubles, its priority rises).

Both go through :func:`alerts.lifecycle.start` and :func:`alerts.lifecycle.follow`, the
store, routing, sinks and API of every alert; what they carry beyond the common fields is
in the alert's ``details`` (see docs/customers.md for the record).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerts.contacts import SAMPLE_CHARS, Contact, customer_key
from alerts.lifecycle import Ack, Alert, Sample, fingerprint, follow, resolve, start
from alerts.risk import Hit, Risk, RiskPolicy, parse_risk, ranked, reasons, score
from alerts.rules import AlertConfig, WindowCounts
from alerts.sections import Section
from vocwatch.vocabulary import AlertKind, AlertStatus, Measure, Notification, Priority

MAX_SAMPLES = 3
MAX_TIMELINE = 10  # contacts shown in a customer_risk alert, newest first
DESCRIPTIONS = {
    AlertKind.CUSTOMER_RISK: "客户流失风险 (a customer at risk of leaving)",
    AlertKind.DETRACTOR: "贬损者回访 (a detractor survey response to follow up)",
}
Step = tuple[Alert | None, Notification | None]


@dataclass(frozen=True)
class DetractorPolicy:
    due_seconds: int = 48 * 3600
    priority: Priority = Priority.P3
    overdue_priority: Priority = Priority.P2


@dataclass(frozen=True)
class CustomerPolicy:
    """The ``customers:`` section of the alert configuration file."""

    history_seconds: int
    max_contacts: int
    risk: RiskPolicy
    detractor: DetractorPolicy


def incident_key(customer: str) -> str:
    """The alert key of a customer (its reference, quoted as a window key's values are)."""
    return f"customer_id={customer_key(customer)}"


# --- customer_risk -----------------------------------------------------------------------


def risk_step(
    current: Alert | None,
    customer: str,
    risk: Risk,
    now: float,
    policy: CustomerPolicy,
    *,
    update_seconds: float,
) -> Step:
    """The customer's ``customer_risk`` alert after a batch brought new contacts: opened
    when the score reaches the threshold, updated, or resolved once it decays."""
    rules = policy.risk
    breached = risk.score >= rules.threshold
    if current is None and not breached:
        return None, None
    details = _risk_details(customer, risk.hits, risk, rules, now)
    counts = WindowCounts(count=risk.contacts, negative=risk.negative, p1=risk.p1)
    samples = _samples(risk.counted)
    channels = tuple(sorted({c.channel for c in risk.counted if c.channel}))
    start_at = min((c.time for c in risk.counted), default=now)
    if current is None:
        alert = _new(
            AlertKind.CUSTOMER_RISK,
            customer,
            now,
            priority=_risk_priority(risk.score, rules),
            severity=_severity(risk.score, rules),
            counts=counts,
            samples=samples,
            channels=channels,
            details=details,
            value=risk.score,
            threshold=rules.threshold,
            window=(start_at, policy.history_seconds),
        )
        return start(alert, now, for_seconds=0)
    updated = dataclasses.replace(
        current,
        priority=_risk_priority(risk.score, rules),
        severity=_severity(risk.score, rules),
        counts=counts,
        samples=samples,
        channels=channels,
        details=details,
        value=risk.score,
        window_start=start_at,
        window_end=now,
        last_seen=now if breached else current.last_seen,
    )
    return follow(
        current,
        updated,
        breached=breached,
        holds=risk.score >= rules.resolve_below,
        now=now,
        for_seconds=0,
        repeat_seconds=rules.repeat_seconds,
        update_seconds=update_seconds,
    )


def _risk_details(
    customer: str, hits: Sequence[Hit], risk: Risk | None, rules: RiskPolicy, now: float
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "customer_id": customer,
        "score": score(hits, rules, now),
        "threshold": rules.threshold,
        "reasons": reasons(hits, rules, now),
        "signals": [h.to_json(rules, now) for h in ranked(hits, rules, now)],
    }
    if risk is not None:
        newest = sorted(risk.counted, key=lambda c: -c.time)[:MAX_TIMELINE]
        details["contacts"] = [{**c.timeline_entry(), "time": _iso(c.time)} for c in newest]
    return details


def _risk_priority(value: float, rules: RiskPolicy) -> Priority:
    return Priority.P1 if value >= rules.p1_from else Priority.P2


def _severity(value: float, rules: RiskPolicy) -> float:
    return round(value / rules.threshold, 3)


# --- detractor ---------------------------------------------------------------------------


def detractor_step(
    current: Alert | None,
    customer: str,
    contacts: Sequence[Contact],
    now: float,
    policy: CustomerPolicy,
    *,
    handled: float | None = None,
    update_seconds: float,
) -> Step:
    """The customer's ``detractor`` follow-up, from their survey responses: the detractor
    responses since their last response that was not a detractor's (and since the last
    follow-up a person handled). None of them: nothing opens, and an open follow-up
    resolves."""
    responses = sorted(
        (c for c in contacts if c.detractor is not None and (handled is None or c.time > handled)),
        key=lambda c: (c.time, c.id),
    )
    open_ones: list[Contact] = []
    for response in responses:
        open_ones = [*open_ones, response] if response.detractor else []
    if not open_ones:
        if current is None:
            return None, None
        return resolve(current, now), Notification.RESOLVED
    rules = policy.detractor
    due = open_ones[0].time + rules.due_seconds
    details = _detractor_details(customer, open_ones, due, now)
    samples = _samples(open_ones)
    counts = WindowCounts(count=len(open_ones), negative=sum(c.negative for c in open_ones))
    if current is None:
        alert = _new(
            AlertKind.DETRACTOR,
            customer,
            now,
            priority=rules.overdue_priority if now >= due else rules.priority,
            severity=2.0 if now >= due else 1.0,
            counts=counts,
            samples=samples,
            channels=(),
            details=details,
            value=float(open_ones[-1].score or 0),
            threshold=None,
            window=(open_ones[0].time, rules.due_seconds),
        )
        return start(alert, now, for_seconds=0)
    return _follow_detractor(current, now, rules, update_seconds, counts, samples, details)


def _follow_detractor(
    current: Alert,
    now: float,
    rules: DetractorPolicy,
    update_seconds: float,
    counts: WindowCounts | None = None,
    samples: tuple[Sample, ...] | None = None,
    details: Mapping[str, Any] | None = None,
) -> Step:
    details = dict(details if details is not None else current.details)
    overdue = now >= _time(details["due_at"])
    details["overdue"] = overdue
    updated = dataclasses.replace(
        current,
        counts=counts if counts is not None else current.counts,
        samples=samples if samples is not None else current.samples,
        details=details,
        priority=rules.overdue_priority if overdue else rules.priority,
        severity=2.0 if overdue else 1.0,
        window_end=now,
        last_seen=now,
    )
    return follow(
        current,
        updated,
        breached=True,
        holds=True,
        now=now,
        for_seconds=0,
        repeat_seconds=0,  # overdue escalates instead
        update_seconds=update_seconds,
    )


def _detractor_details(
    customer: str, responses: Sequence[Contact], due: float, now: float
) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "due_at": _iso(due),
        "overdue": now >= due,
        "responses": [
            {
                "id": _event_id(c),
                "time": _iso(c.time),
                "kind": c.survey,
                "score": c.score,
                "touchpoint": c.touchpoint,
                "comment": c.text,
            }
            for c in sorted(responses, key=lambda c: -c.time)
        ],
    }


# --- the timer and people ----------------------------------------------------------------


def reassess(alert: Alert, now: float, policy: CustomerPolicy, *, update_seconds: float) -> Step:
    """An active customer alert on the timer: a risk decays (and resolves below
    ``resolve_below``), a follow-up past its due time escalates."""
    if alert.kind == AlertKind.DETRACTOR:
        return _follow_detractor(alert, now, policy.detractor, update_seconds)
    rules = policy.risk
    hits = [Hit.from_json(h) for h in alert.details.get("signals", ())]
    value = score(hits, rules, now)
    details = {
        **alert.details,
        **_risk_details(alert.details["customer_id"], hits, None, rules, now),
    }
    updated = dataclasses.replace(
        alert,
        details=details,
        value=value,
        severity=_severity(value, rules),
        priority=_risk_priority(value, rules),
        window_end=now,
    )
    return follow(
        alert,
        updated,
        breached=value >= rules.threshold,
        holds=value >= rules.resolve_below,
        now=now,
        for_seconds=0,
        repeat_seconds=rules.repeat_seconds,
        update_seconds=update_seconds,
    )


def acknowledged(alert: Alert, ack: Ack, now: float) -> tuple[Alert, float]:
    """A customer alert a person acknowledged (with a note): resolved, and the event time
    up to which the customer's contacts were dealt with (the newest the alert showed)."""
    shown = alert.details.get("contacts") or alert.details.get("responses") or ()
    handled = max((_time(c["time"]) for c in shown), default=alert.window_end)
    return resolve(dataclasses.replace(alert, acknowledged=ack), now), handled


# --- helpers -----------------------------------------------------------------------------


def _new(
    kind: AlertKind,
    customer: str,
    now: float,
    *,
    priority: Priority,
    severity: float,
    counts: WindowCounts,
    samples: tuple[Sample, ...],
    channels: tuple[str, ...],
    details: Mapping[str, Any],
    value: float,
    threshold: float | None,
    window: tuple[float, int],
) -> Alert:
    key = incident_key(customer)
    fp = fingerprint(kind, key)
    start_at, seconds = window
    return Alert(
        id=f"{fp}-{int(now)}",
        fingerprint=fp,
        rule=kind,
        description=DESCRIPTIONS[kind],
        priority=priority,
        status=AlertStatus.PENDING,
        key=key,
        window_seconds=seconds,
        window_start=start_at,
        window_end=now,
        measure=Measure.COUNT,  # not in the record: a customer alert has no window measure
        value=value,
        threshold=threshold,
        expected=None,
        deviation=None,
        severity=severity,
        min_count=1,
        counts=counts,
        first_seen=now,
        last_seen=now,
        updated_at=now,
        channels=channels,
        samples=samples,
        kind=kind,
        details=details,
    )


def _samples(contacts: Sequence[Contact]) -> tuple[Sample, ...]:
    """The customer's own masked texts, newest first."""
    with_text = sorted((c for c in contacts if c.text), key=lambda c: -c.time)
    return tuple(
        Sample(
            _event_id(c),
            c.text[:SAMPLE_CHARS],
            c.priority,
            c.time,
            c.negative,
            c.source,
            c.channel,
        )
        for c in with_text[:MAX_SAMPLES]
    )


def _event_id(contact: Contact) -> str:
    return contact.id.split(":", 1)[1]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def _time(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# --- configuration -----------------------------------------------------------------------


def parse_customers(config: AlertConfig) -> CustomerPolicy | None:
    """The ``customers:`` section; None when the file has none (no customer history, no
    customer alerts)."""
    if config.customers is None:
        return None
    section = Section(config.customers, ["customers"], source=config.source, lines=config.lines)
    section.known({"history_days", "max_contacts", "risk", "detractor"})
    detractor = section.section("detractor")
    detractor.known({"due", "priority", "overdue_priority"})
    priorities = tuple(Priority)
    return CustomerPolicy(
        history_seconds=int(section.number("history_days", 30, high=365) * 86400),
        max_contacts=section.count("max_contacts", 50),
        risk=parse_risk(section.section("risk")),
        detractor=DetractorPolicy(
            due_seconds=detractor.span("due", "48h"),
            priority=Priority(
                detractor.value("priority", priorities.__contains__, "P1, P2 or P3", "P3")
            ),
            overdue_priority=Priority(
                detractor.value("overdue_priority", priorities.__contains__, "P1, P2 or P3", "P2")
            ),
        ),
    )
