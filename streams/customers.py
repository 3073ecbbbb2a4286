"""The customer stage of a batch (客户层): every event that names its customer becomes a
contact in that customer's history, which decides the customer's risk and detractor
follow-ups, and the KPI sums.

The pipeline makes three calls per batch, each retried on its own, all three under
:attr:`CustomerStage.lock`: :meth:`record` (one round trip: a script call per customer),
:meth:`count` (the KPI sums and metrics of the contacts counted for the first time) and
:meth:`alert` (one read of the customers' current alerts, then a write per alert that
changed). The lock (the engine's :attr:`~alerts.engine.AlertEngine.follow_lock`) keeps the
agents of one worker from deciding a customer's alerts on two views of the history at once
(a complaint and a call of one customer in two batches), and the timer from storing its
decision over a batch's; a customer alert another worker opened a moment before is
continued, not opened twice.

On the timer and when a person acknowledges one, the engine asks this stage, as the
:class:`alerts.engine.Follower` of ``customer_risk`` and ``detractor`` alerts, what becomes
of it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerts import customer_alerts
from alerts.contacts import Contact, customer_ref
from alerts.customer_alerts import CustomerPolicy, detractor_step, incident_key, risk_step
from alerts.customer_history import NEW, CustomerState, RedisCustomerHistory
from alerts.engine import AlertEngine, Settling, Step
from alerts.kpis import RedisKpis, contact_sums, scopes
from alerts.lifecycle import Alert, fingerprint
from alerts.phrases import PhraseMatcher
from alerts.risk import DAY, Risk, assess
from streams.analysis import Scored, build_phrases, contact_of
from vocwatch.metrics import Metrics, observe_many
from vocwatch.settings import Settings
from vocwatch.vocabulary import (
    AlertKind,
    AlertStatus,
    Notification,
    RiskSignal,
)

OUTCOMES = {NEW: "new", 0: "duplicate", 2: "late"}


@dataclass(frozen=True)
class CustomerBatch:
    """A batch's contacts by customer, and the product and region each came with."""

    contacts: Mapping[str, Sequence[Contact]]
    dims: Mapping[str, tuple[str | None, str | None]]  # contact id → (product, region)
    encoded: Mapping[str, str] = field(default_factory=dict)  # contact id → its JSON, if known


class CustomerStage:
    needs_note = True  # a follow-up is acknowledged with what was done

    def __init__(
        self,
        *,
        policy: CustomerPolicy,
        history: RedisCustomerHistory,
        engine: AlertEngine,
        phrases: PhraseMatcher,
        metrics: Metrics,
        kpis: RedisKpis | None = None,
        products: Sequence[str] = (),
        regions: Sequence[str] = (),
        update_seconds: float = 30.0,
    ) -> None:
        self.policy = policy
        self.history = history
        self.engine = engine
        self.phrases = phrases
        self.metrics = metrics
        self.kpis = kpis
        self.products = frozenset(products)
        self.regions = frozenset(regions)
        self.update_seconds = update_seconds
        # the engine's: its timer decides this stage's alerts under it too
        self.lock = engine.follow_lock

    @classmethod
    def following(
        cls,
        settings: Settings,
        policy: CustomerPolicy,
        redis: Any,
        engine: AlertEngine,
        metrics: Metrics,
        kpis: RedisKpis | None = None,
    ) -> CustomerStage:
        """The stage of ``settings`` (its Redis prefix, phrase lists, metric dimensions and
        update interval), registered with ``engine`` as the follower of the customer
        alerts."""
        stage = cls(
            policy=policy,
            history=RedisCustomerHistory(
                redis,
                prefix=settings.app_id,
                history_seconds=policy.history_seconds,
                max_contacts=policy.max_contacts,
                cluster=settings.redis_cluster,
            ),
            engine=engine,
            phrases=build_phrases(settings),
            metrics=metrics,
            kpis=kpis,
            products=settings.metric_products,
            regions=settings.metric_regions,
            update_seconds=settings.alert_update_seconds,
        )
        engine.followers.update({AlertKind.CUSTOMER_RISK: stage, AlertKind.DETRACTOR: stage})
        return stage

    # --- the batch ---------------------------------------------------------------------
    def batch(self, scored: Sequence[Scored]) -> CustomerBatch:
        """The contacts of the events that name a customer."""
        contacts: dict[str, list[Contact]] = {}
        dims: dict[str, tuple[str | None, str | None]] = {}
        encoded: dict[str, str] = {}
        for event in scored:
            customer = event.customer_id
            if customer is None:
                continue
            contact = self.contact(event)
            contacts.setdefault(customer_ref(customer), []).append(contact)
            dims[contact.id] = (
                _bounded(event.product, self.products),
                _bounded(event.region, self.regions),
            )
            if event.contact is not None:  # encoded in the analysis process
                encoded[contact.id] = event.contact
        return CustomerBatch(contacts, dims, encoded)

    def contact(self, event: Scored) -> Contact:
        if event.phrases is not None:  # matched in the analysis process
            return contact_of(event, *event.phrases)
        return contact_of(
            event, self.phrases.churn_threats(event.text), self.phrases.escalations(event.text)
        )

    async def record(self, batch: CustomerBatch, now: float) -> dict[str, CustomerState]:
        """Add the batch's contacts to their customers' histories (one round trip)."""
        return await self.history.record(batch.contacts, now, encoded=batch.encoded)

    async def count(
        self, batch: CustomerBatch, states: Mapping[str, CustomerState], now: float
    ) -> None:
        """KPI sums and metrics of the contacts counted for the first time."""
        days = self.policy.risk.param(RiskSignal.REPEAT_CONTACTS, "days")
        points = []
        outcomes: dict[tuple[str, str], int] = {}
        for customer, contacts in batch.contacts.items():
            state = states[customer]
            for contact, flag in zip(contacts, state.flags, strict=True):
                label = (contact.source, OUTCOMES[flag])
                outcomes[label] = outcomes.get(label, 0) + 1
                if flag != NEW:
                    continue
                repeat = len(state.contacts) > 1 and any(
                    other.id != contact.id
                    and contact.time - days * DAY <= other.time <= contact.time
                    for other in state.contacts
                )
                product, region = batch.dims[contact.id]
                points.append(
                    (contact.time, scopes(product, region), contact_sums(contact, repeat=repeat))
                )
        if self.kpis is not None:
            await self.kpis.add(points, now)
        for labels, amount in outcomes.items():
            self.metrics.customer_contacts.labels(*labels).inc(amount)
        for customer, contacts in batch.contacts.items():
            for contact, flag in zip(contacts, states[customer].flags, strict=True):
                if flag == NEW and contact.survey is not None:
                    self.metrics.survey_scores.labels(contact.survey).observe(contact.score or 0)

    async def alert(
        self, batch: CustomerBatch, states: Mapping[str, CustomerState], now: float
    ) -> list[Alert]:
        """Advance the risk and detractor alerts of the batch's customers; return those
        emitted. A customer's alerts are read only if one may be open (its history's open
        mark) or may open now (its score reaches the threshold, it has an unhandled
        detractor response): for most customers of a batch, neither."""
        steps: dict[str, tuple[AlertKind, str, Callable[[Alert | None], Step]]] = {}
        scores = []
        for customer in batch.contacts:
            state = states[customer]
            risk = assess(
                state.contacts,
                self.policy.risk,
                now,
                handled=state.handled.get(AlertKind.CUSTOMER_RISK),
            )
            scores.append(risk.score)
            key = incident_key(customer)
            step: Callable[[Alert | None], Step]
            if risk.score >= self.policy.risk.threshold or AlertKind.CUSTOMER_RISK in state.open:
                step = functools.partial(
                    _risk, customer, risk, now, self.policy, self.update_seconds
                )
                steps[fingerprint(AlertKind.CUSTOMER_RISK, key)] = (
                    AlertKind.CUSTOMER_RISK,
                    customer,
                    step,
                )
            if AlertKind.DETRACTOR in state.open or _detractors(state):
                step = functools.partial(
                    _detractor, customer, state, now, self.policy, self.update_seconds
                )
                steps[fingerprint(AlertKind.DETRACTOR, key)] = (AlertKind.DETRACTOR, customer, step)
        observe_many(self.metrics.customer_risk, scores)
        if not steps:
            return []
        current = await self.engine.store.get_many(list(steps))
        settling, marks = [], {}
        for fp, (kind, customer, step) in steps.items():
            previous = current.get(fp)
            alert, notification = step(previous)
            if alert is not None or previous is not None:
                settling.append(Settling(alert, previous, notification, step))
            is_open = alert is not None and alert.status != AlertStatus.RESOLVED
            if is_open != (kind in states[customer].open):
                marks[(customer, kind)] = is_open
        emitted = await self.engine.settle_many(settling, now)
        await self.history.mark_open(marks)
        return emitted

    # --- the engine's Follower ------------------------------------------------------------
    def reassess(self, alert: Alert, now: float) -> Step:
        return customer_alerts.reassess(alert, now, self.policy, update_seconds=self.update_seconds)

    async def acknowledged(self, alert: Alert, now: float) -> Step:
        """Done: resolved, and the customer's contacts up to the newest the alert showed are
        marked handled, so that they raise no new alert."""
        assert alert.acknowledged is not None  # noqa: S101 — the engine sets it
        resolved, handled = customer_alerts.acknowledged(alert, alert.acknowledged, now)
        await self.history.mark_handled(alert.details["customer_id"], alert.kind, handled)
        return resolved, Notification.RESOLVED


def _risk(
    customer: str,
    risk: Risk,
    now: float,
    policy: CustomerPolicy,
    update_seconds: float,
    current: Alert | None,
) -> Step:
    return risk_step(current, customer, risk, now, policy, update_seconds=update_seconds)


def _detractor(
    customer: str,
    state: CustomerState,
    now: float,
    policy: CustomerPolicy,
    update_seconds: float,
    current: Alert | None,
) -> Step:
    return detractor_step(
        current,
        customer,
        state.contacts,
        now,
        policy,
        handled=state.handled.get(AlertKind.DETRACTOR),
        update_seconds=update_seconds,
    )


def _detractors(state: CustomerState) -> bool:
    """Whether the customer has a detractor response not yet handled."""
    handled = state.handled.get(AlertKind.DETRACTOR)
    return any(c.detractor and (handled is None or c.time > handled) for c in state.contacts)


def _bounded(value: str | None, known: frozenset[str]) -> str | None:
    """A product or region as KPIs and metrics name it: itself if configured, else other."""
    if not value:
        return None
    return value if value in known else "other"
