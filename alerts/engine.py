"""The alert engine: turns window states into alerts, and alerts into notifications.

Called by the pipeline after every batch with the window keys the batch touched, and by
a timer (:meth:`AlertEngine.tick`) that re-evaluates every active alert (so that alerts
resolve, fire after ``for:`` and remind when their key goes quiet) and takes baseline
steps. Decisions are pure (:mod:`alerts.evaluate`, :mod:`alerts.lifecycle`,
:mod:`alerts.routing`, :mod:`alerts.silences`); this class reads and writes state and
hands records to the sinks.

A rule's alert is per *incident key*: the window key itself, or, for a rule with
``correlate:``, the key projected on those dimensions — then the window keys that share
it (one per channel, say) are the *members* of one incident.

Alerts of other kinds than ``window`` (a customer at risk, a detractor to follow up) are
decided by their own :class:`Follower`: it proposes the next state of an alert (from a
batch, through :meth:`AlertEngine.settle`; on the timer, through
:meth:`Follower.reassess`), and the engine stores, routes, silences and emits it as it
does every alert. An emerging topic (:mod:`alerts.emerging_monitor`) is evaluated and
explained by its own monitor and handed in as a :class:`Subject`
(:meth:`AlertEngine.advance_subject`): the same lifecycle, store, routing, silences,
sinks and live feed, and the timer leaves its re-evaluation to that monitor.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from redis.exceptions import RedisError

from alerts.baseline import Baseline
from alerts.evaluate import Evaluation, evaluate
from alerts.explain import KeyActivity
from alerts.lifecycle import (
    Ack,
    Alert,
    Member,
    Sample,
    Term,
    Window,
    advance,
    fingerprint,
    resolve,
)
from alerts.routing import Router
from alerts.rules import SURVEYS, Rule, WindowCounts, parse_window_key
from alerts.silences import Silence
from alerts.sinks import AlertSink
from alerts.store import ActiveAlerts, RedisAlertStore, RedisBaselineStore, Stored
from alerts.windows import KeyState, RedisWindowStore
from vocwatch.errors import ActionRefused
from vocwatch.metrics import Metrics
from vocwatch.vocabulary import CHAT_NOTIFICATIONS, AlertKind, AlertStatus, Notification

log = logging.getLogger(__name__)
Notify = Callable[[dict[str, Any], Sequence[str]], None]
REFRESH = Notification.REFRESH  # a firing alert re-sent, unchanged, to sinks that expire alerts
#: Alerts of followers (customers') the timer decides before it lets the event loop go: at
#: about 0.3 ms an alert (read, decided, stored), 100 hold the batches up some 30 ms.
FOLLOW_CHUNK = 100


def _no_notify(record: dict[str, Any], sinks: Sequence[str]) -> None:
    return None


@dataclass(frozen=True)
class Subject:
    """One evaluation of an incident that is not a rule's window key, with what explains
    it: ``rule`` names it (and gives its priority, window span and reminder interval),
    ``key`` identifies it (``topic=…``), ``route_facts`` are what routes and silences match
    besides the rule and priority, ``details`` the fields of its kind (see
    :class:`alerts.lifecycle.Alert`)."""

    rule: Rule
    key: str
    kind: AlertKind
    evaluation: Evaluation
    window: Window
    samples: tuple[Sample, ...] = ()
    terms: tuple[Term, ...] = ()
    channels: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    route_facts: Mapping[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule.name, self.key)


Step = tuple[Alert | None, Notification | None]


class Settling(NamedTuple):
    """One alert's next state for :meth:`AlertEngine.settle_many`: ``alert`` (None: drop a
    pending ``current``), the stored ``current`` (None: new), what to emit, and ``again``
    for a new alert another worker opened first (see :meth:`AlertEngine.settle`)."""

    alert: Alert | None
    current: Alert | None
    kind: Notification | None
    again: Callable[[Alert], Step] | None = None


class Kept(NamedTuple):
    """A window alert's next state that stays active, and what to emit of it."""

    alert: Alert
    kind: Notification | None


class Follower(Protocol):
    """Decides the alerts of one kind other than ``window``."""

    #: whether acknowledging one needs a note (a follow-up says what was done)
    needs_note: bool

    def reassess(self, alert: Alert, now: float) -> Step:
        """The next state of an active alert on the timer, and what to emit."""
        ...

    async def acknowledged(self, alert: Alert, now: float) -> Step:
        """An alert a person just acknowledged (``alert.acknowledged`` is set): its next
        state (resolved, say) and what to emit; ``(None, None)`` to leave it as it is."""
        ...


class AlertEngine:
    def __init__(
        self,
        rules: Sequence[Rule],
        windows: RedisWindowStore,
        store: RedisAlertStore,
        sinks: Sequence[AlertSink],
        metrics: Metrics,
        *,
        update_seconds: float,
        baselines: RedisBaselineStore | None = None,
        router: Router | None = None,
        notify: Notify = _no_notify,
        chat_sinks: Iterable[str] = (),
        refresh_sinks: Iterable[str] = (),
        refresh_seconds: float = 300.0,
        baseline_step_seconds: float = 60.0,
        live_channel: str | None = None,
        followers: Mapping[AlertKind, Follower] | None = None,
    ) -> None:
        self.rules = {rule.name: rule for rule in rules}
        self.followers = dict(followers or {})
        self.windows = windows
        self.store = store
        self.sinks = list(sinks)
        self.metrics = metrics
        self.update_seconds = update_seconds
        self.baselines = baselines
        self.router = router
        self.notify = notify
        self.chat_sinks = frozenset(chat_sinks)
        # Sinks that forget an alert not heard of for a while (Alertmanager's endsAt): the
        # timer re-sends firing alerts to them every refresh_seconds.
        self.refresh_sinks = frozenset(refresh_sinks)
        self.refresh_seconds = refresh_seconds
        self._refreshed: dict[str, float] = {}
        # fingerprint → when the timer last asked its follower about an alert of another
        # kind than window (see tick)
        self._followed: dict[str, float] = {}
        # held while the alerts of followers are decided: by the timer, a chunk at a time,
        # and by a follower deciding its alerts from a batch (streams/customers.py)
        self.follow_lock = asyncio.Lock()
        self.baseline_step_seconds = baseline_step_seconds
        self.activity = KeyActivity()
        self.silences: list[Silence] = []
        self._learned: dict[str, dict[str, Baseline]] = {}
        self._warm: set[str] = set()
        self._seen_keys: dict[str, set[str]] = defaultdict(set)  # since the last step
        self._firing_rules: set[str] = set()  # every rule name the firing gauge was set for
        self._step = -1
        self._started = False
        self._subscribers: list[Callable[[dict[str, Any]], None]] = []
        # With a channel, the live feed goes through Redis pub/sub, so the console of any
        # worker sees the records of every worker; without, it stays in this process.
        self.live_channel = live_channel
        self._listener: asyncio.Task[None] | None = None

    # --- the hot path ------------------------------------------------------------------
    async def on_batch(
        self, touched: Mapping[str, Iterable[str]], states: Mapping[str, KeyState], now: float
    ) -> list[Alert]:
        """Advance the alerts of every (rule, key) the batch touched; return those emitted."""
        if not self._started:
            await self.start(now)
        evaluated: dict[tuple[str, str], dict[str, Member]] = defaultdict(dict)
        for name, keys in touched.items():
            rule = self.rules[name]
            for key in keys:
                if rule.spike is not None:
                    self._seen_keys[name].add(key)
                member = self._member(rule, key, states[key], now)
                evaluated[(name, rule.incident_key(key))][key] = member
        current = await self.store.get_many([fingerprint(n, k) for n, k in evaluated])
        emitted: list[Alert] = []
        kept: list[Kept] = []
        for (name, incident), members in evaluated.items():
            alert = current.get(fingerprint(name, incident))
            if alert is None and not any(m.breached for m in members.values()):
                continue
            known = {m.key: m for m in alert.members} if alert else {}
            result = await self._advance(
                self.rules[name], incident, {**known, **members}, now, alert, kept
            )
            if result is not None:
                emitted.append(result)
        return emitted + await self._store_kept(kept)

    # --- the timer -------------------------------------------------------------------
    async def tick(self, now: float) -> list[Alert]:
        """Re-evaluate active alerts; take a baseline step when one is due."""
        if not self._started:
            await self.start(now)
        self.silences = await self.store.silences(now)
        active = await self.store.active()
        windowed = await active.alerts(s for s in active.summaries if s.kind == AlertKind.WINDOW)
        await self._baseline_step(now, windowed)
        keys = sorted({m.key for a in windowed for m in self._members_of(a)})
        states = await self.windows.read(keys, now)
        emitted: list[Alert] = []
        kept: list[Kept] = []
        due = self._due(active.summaries, now)
        for alert in await active.alerts(s for s in due if s.kind == AlertKind.WINDOW):
            rule = self.rules.get(alert.rule)
            if rule is None:  # the rule was removed from the config: nothing keeps it alive
                log.info("alert %s: rule %s no longer configured; resolving", alert.id, alert.rule)
                rule = _removed(alert)
                members = {
                    m.key: dataclasses.replace(m, breached=False, holds=False)
                    for m in self._members_of(alert)
                }
            else:
                members = {
                    m.key: self._member(rule, m.key, states[m.key], now)
                    for m in self._members_of(alert)
                }
            result = await self._advance(rule, alert.key, members, now, alert, kept)
            if result is not None:
                emitted.append(result)
        emitted.extend(await self._store_kept(kept))
        emitted.extend(
            await self._follow_due([s for s in due if s.kind != AlertKind.WINDOW], active, now)
        )
        gone = {a.fingerprint for a in emitted if a.status == AlertStatus.RESOLVED}
        left = [s for s in active.summaries if s.fingerprint not in gone]
        await self._refresh(active, left, emitted, now)
        firing = Counter(s.rule for s in left if s.status == AlertStatus.FIRING)
        self._firing_rules |= {*self.rules, *self.followers, *firing}
        for name in self._firing_rules:
            self.metrics.alerts_firing.labels(name).set(firing.get(name, 0))
        return emitted

    async def reevaluate(self, now: float) -> list[Alert]:
        return await self.tick(now)

    async def start(self, now: float) -> None:
        """Load silences and learned baselines before the first batch."""
        self.silences = await self.store.silences(now)
        await self._load_baselines()
        self._started = True

    def _due(self, active: Sequence[Stored], now: float) -> list[Stored]:
        """The active alerts this step re-evaluates: every window alert; an alert its follower
        decides (a customer's) once per ``update_seconds`` — it changes at a customer's pace
        (a risk decays over days; a follow-up is due in hours), its new contacts reach it
        through the batches, and asking about thousands of them at every step made the step
        cost more than a second (docs/performance.md); an emerging topic never (its monitor
        re-evaluates it)."""
        due = []
        followed = {}
        for alert in active:
            if alert.kind == AlertKind.WINDOW:
                due.append(alert)
            elif alert.kind != AlertKind.EMERGING_TOPIC:
                # an alert not asked about yet: as of its last update (spreads the steps)
                last = self._followed.get(alert.fingerprint, alert.updated_at)
                if now - last >= self.update_seconds or now < last:
                    due.append(alert)
                    last = now
                followed[alert.fingerprint] = last
        self._followed = followed  # those no longer active are forgotten
        return due

    async def _follow_due(
        self, due: Sequence[Stored], active: ActiveAlerts, now: float
    ) -> list[Alert]:
        """The due alerts of followers, :data:`FOLLOW_CHUNK` at a time: each chunk read
        whole, decided and stored under :attr:`follow_lock` (a batch deciding the same
        customer's alert waits for it, and the step for the batch), then the event loop
        is let go. Thousands of customer alerts fall due together after a surge; decided
        in one piece they held every batch up for most of a second (docs/performance.md)."""
        emitted: list[Alert] = []
        for start in range(0, len(due), FOLLOW_CHUNK):
            async with self.follow_lock:
                alerts = await active.alerts(due[start : start + FOLLOW_CHUNK])
                steps = [s for s in (self._follow(a, now) for a in alerts) if s is not None]
                emitted.extend(await self.settle_many(steps, now))
            await asyncio.sleep(0)
        return emitted

    def _follow(self, alert: Alert, now: float) -> Settling | None:
        """The next state of an active alert of another kind on the timer; one of a kind no
        follower of this worker knows (its configuration section was removed) is resolved.
        None: it can wait — it tells nobody anything, nothing a reader acts on changed and
        the stored copy is younger than ``update_seconds`` (:func:`_same_to_a_reader`)."""
        follower = self.followers.get(alert.kind)
        if follower is None:
            log.info("alert %s: no %s alerts are configured; resolving", alert.id, alert.kind)
            return Settling(resolve(alert, now), alert, Notification.RESOLVED)
        following, kind = follower.reassess(alert, now)
        if kind is None and _same_to_a_reader(following, alert, now, self.update_seconds):
            return None
        return Settling(following, alert, kind)

    async def settle_many(self, steps: Iterable[Settling], now: float) -> list[Alert]:
        """:meth:`settle` each; those that change a stored alert that stays active are stored
        together, in one round trip, and then emitted if their step says so. Returns the
        alerts emitted."""
        emitted, stored, told = [], [], []
        for step in steps:
            alert, current = step.alert, step.current
            if alert is not None and current is not None and alert.status != AlertStatus.RESOLVED:
                prepared = self._prepared(alert, current, now)
                stored.append(prepared)
                if step.kind is not None:
                    told.append(prepared)
                continue
            settled = await self.settle(alert, current, step.kind, now, again=step.again)
            if settled is not None:
                emitted.append(settled)
        await self.store.save_many(stored)
        for alert in told:  # stored before it is told, as settle does
            await self.emit(alert)
        return [*emitted, *told]

    async def settle(
        self,
        alert: Alert | None,
        current: Alert | None,
        kind: Notification | None,
        now: float,
        *,
        again: Callable[[Alert], Step] | None = None,
    ) -> Alert | None:
        """Store the next state of an alert of another kind than ``window`` — routed when
        new, checked against the silences — and emit it if ``kind`` says so; return it if
        emitted. None drops a pending ``current``. A new alert that another worker opened
        a moment before goes on from theirs: ``again`` gives its next state."""
        if alert is None:
            if current is not None:
                await self.store.drop(current)
            return None
        alert = self._prepared(alert, current, now)
        if current is None:
            if not await self.store.create(alert):
                existing = (await self.store.get_many([alert.fingerprint])).get(alert.fingerprint)
                if existing is None or again is None:
                    return None
                following, kind = again(existing)
                return await self.settle(following, existing, kind, now)
        else:
            await self.store.save(alert)
        if kind is None:
            return None
        await self.emit(alert)
        return alert

    def _prepared(self, alert: Alert, current: Alert | None, now: float) -> Alert:
        """``alert`` routed (when new, or never routed) and checked against the silences."""
        route = alert.route
        if (current is None or route is None) and self.router is not None:
            route = self.router.route_for(
                alert.rule, alert.priority, parse_window_key(alert.key), alert.channels
            )
        if route != alert.route:
            alert = dataclasses.replace(alert, route=route)
        return self._silenced(alert, now)

    # --- people's actions (the HTTP API) ------------------------------------------------
    async def acknowledge(self, alert_id: str, by: str, note: str, now: float) -> Alert | None:
        """Acknowledge an active alert; None if there is none with this id. An alert whose
        follower needs a note is refused without one (ActionRefused); its follower may then
        resolve it (a customer follow-up is done once acknowledged)."""
        fp = alert_id.split("-", 1)[0]
        current = (await self.store.get_many([fp])).get(fp)
        follower = None if current is None else self.followers.get(current.kind)
        if follower is not None and follower.needs_note and not note.strip():
            raise ActionRefused(
                f"a {current.kind if current else ''} alert is acknowledged with a note "
                "that says what was done",
                field="note",
            )
        alert = await self.store.acknowledge(alert_id, Ack(by, now, note))
        if alert is None:
            return None
        if follower is not None:
            following, kind = await follower.acknowledged(alert, now)
            settled = await self.settle(following, alert, kind, now)
            if settled is not None:
                return settled
        await self._publish_live(alert.to_record() | {"notification": Notification.ACKNOWLEDGED})
        return alert

    async def add_silence(self, silence: Silence) -> None:
        await self.store.add_silence(silence)
        self.silences = [*self.silences, silence]

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``callback`` with every record emitted (the console's live feed)."""
        self._subscribers.append(callback)
        if self.live_channel and self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        return lambda: self._subscribers.remove(callback)

    async def _listen(self) -> None:
        """Relay the live channel to this process's subscribers; reconnect after errors."""
        assert self.live_channel is not None  # noqa: S101
        delay = 0.5
        while True:
            pubsub = self.store.redis.pubsub()
            try:
                await pubsub.subscribe(self.live_channel)
                delay = 0.5
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self._tell(json.loads(message["data"]))
            except (RedisError, OSError, ValueError) as exc:
                log.warning("live alert feed interrupted (%s); resubscribing", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            finally:
                await pubsub.aclose()

    async def advance_subject(
        self, subject: Subject, now: float, current: Alert | None = None
    ) -> Alert | None:
        """Advance the alert of ``subject`` (``current``: its active alert, if the caller
        has read it); return it if a record was emitted."""
        if not self._started:
            await self.start(now)
        rule, evaluation = subject.rule, subject.evaluation
        alert, kind = advance(
            rule,
            subject.key,
            subject.window,
            evaluation,
            now,
            current,
            update_seconds=self.update_seconds,
        )
        if alert is None:
            if current is not None:
                await self.store.drop(current)
            return None
        route = alert.route
        if (current is None or route is None) and self.router is not None:
            route = self.router.route(rule, subject.route_facts, subject.channels)
        alert = self._silenced(
            dataclasses.replace(
                alert,
                kind=subject.kind,
                details=dict(subject.details),
                channels=subject.channels or alert.channels,
                samples=subject.samples or alert.samples,
                terms=subject.terms or alert.terms,
                route=route,
            ),
            now,
        )

        async def again(existing: Alert) -> Alert | None:
            return await self.advance_subject(subject, now, existing)

        return await self._keep(alert, current, kind, again)

    # --- internals ----------------------------------------------------------------------
    def _member(self, rule: Rule, key: str, state: KeyState, now: float) -> Member:
        counts = state.totals.get(rule.window_seconds, WindowCounts())
        baseline = self._learned.get(rule.name, {}).get(key)
        # Once the rule has learned long enough somewhere, every key of it is judged — a
        # key new since is judged against what little it has (or nothing: the floor).
        warm = rule.spike is not None and (
            rule.name in self._warm
            or (baseline is not None and baseline.samples >= rule.spike.warmup)
        )
        ev = evaluate(rule, counts, now=now, baseline=baseline, warm=warm)
        return Member(
            key,
            _channel_of(key),
            ev.value,
            ev.severity,
            ev.breached,
            ev.holds,
            counts,
            ev.expected,
            ev.deviation,
        )

    @staticmethod
    def _members_of(alert: Alert) -> tuple[Member, ...]:
        if alert.members:
            return alert.members
        return (
            Member(
                alert.key,
                _channel_of(alert.key),
                alert.value,
                alert.severity,
                True,
                True,
                alert.counts,
            ),
        )

    async def _advance(
        self,
        rule: Rule,
        incident: str,
        members: Mapping[str, Member],
        now: float,
        current: Alert | None,
        kept: list[Kept] | None = None,
    ) -> Alert | None:
        """The next state of a window alert, stored and emitted if there is news; returns
        it if emitted. With ``kept``, an alert that was stored before and stays active is
        added to it instead, for :meth:`_store_kept` (one round trip for all of a batch's)."""
        live = tuple(
            sorted(
                (m for m in members.values() if m.breached or m.holds), key=lambda m: -m.severity
            )
        )
        evaluation = _incident(rule, members.values())
        window = Window(self.windows.window_start(rule.window_seconds, now), now)
        samples = [s for m in members for s in self.activity.samples(m)]
        alert, kind = advance(
            rule,
            incident,
            window,
            evaluation,
            now,
            current,
            samples,
            update_seconds=self.update_seconds,
            members=live or tuple(members.values()),
        )
        if alert is None:
            if current is not None:
                await self.store.drop(current)
            return None
        alert = self._explain(
            rule,
            alert,
            live or tuple(members.values()),
            now,
            fresh=current is None,
            news=kind is not None,
        )

        async def again(existing: Alert) -> Alert | None:
            return await self._advance(rule, incident, members, now, existing)

        if kept is not None and current is not None and alert.status != AlertStatus.RESOLVED:
            kept.append(Kept(alert, kind))
            return None
        return await self._keep(alert, current, kind, again)

    async def _store_kept(self, kept: Sequence[Kept]) -> list[Alert]:
        """Store the alerts in one round trip, then emit those with news (stored before
        told, as :meth:`_keep` does); return those emitted."""
        await self.store.save_many([k.alert for k in kept])
        told = [k.alert for k in kept if k.kind is not None]
        for alert in told:
            await self.emit(alert)
        return told

    async def _keep(
        self,
        alert: Alert,
        current: Alert | None,
        kind: Notification | None,
        again: Callable[[Alert], Awaitable[Alert | None]],
    ) -> Alert | None:
        """Store the alert (a new one only if no other worker created it first: then
        ``again`` continues that one instead); emit it if there is news."""
        if current is None:
            if not await self.store.create(alert):
                existing = await self.store.get_many([alert.fingerprint])
                if alert.fingerprint not in existing:
                    return None
                return await again(existing[alert.fingerprint])
        else:
            await self.store.save(alert)
        if kind is None:
            return None
        await self.emit(alert)
        return alert

    def _explain(
        self,
        rule: Rule,
        alert: Alert,
        members: Sequence[Member],
        now: float,
        *,
        fresh: bool,
        news: bool,
    ) -> Alert:
        """Channels, terms, route and silence: what people need to act on the alert. Terms
        are the dearest part, so they are worked out only for a record about to go out."""
        keys = [m.key for m in members]
        channels = sorted({m.channel for m in members if m.channel}) or sorted(
            {c for k in keys for c in self.activity.channels(k)}
        )
        terms = alert.terms
        if news:
            terms = self.activity.top_terms(keys, now - rule.window_seconds) or terms
        route = alert.route
        if (fresh or route is None) and self.router is not None:
            route = self.router.route(rule, parse_window_key(alert.key), channels)
        alert = dataclasses.replace(alert, channels=tuple(channels), terms=terms, route=route)
        return self._silenced(alert, now)

    def _silenced(self, alert: Alert, now: float) -> Alert:
        silence = next((s.id for s in self.silences if s.active(now) and s.matches(alert)), None)
        if silence == alert.silenced_by:
            return alert
        return dataclasses.replace(alert, silenced_by=silence)

    async def emit(self, alert: Alert) -> None:
        record = alert.to_record()
        self.metrics.alerts.labels(alert.rule, alert.priority, alert.status).inc()
        for sink in self.sinks:
            try:
                await sink.deliver(record)
            except Exception:  # a sink must never stop the stream
                log.exception("alert sink %s failed for alert %s", sink.name, alert.id)
                self.metrics.sink_deliveries.labels(sink.name, "failed").inc()
            else:
                self.metrics.sink_deliveries.labels(sink.name, "sent").inc()
        if alert.route is not None:
            # Chat robots hear news only, and nothing while silenced; the other routed sinks
            # (Alertmanager, webhooks, streams) get every record, silenced_by included.
            targets = [
                s
                for s in alert.route.sinks
                if s not in self.chat_sinks
                or (alert.notification in CHAT_NOTIFICATIONS and alert.silenced_by is None)
            ]
            if targets:
                self.notify(record, targets)
        await self._publish_live(record)

    async def _refresh(
        self, read: ActiveAlerts, left: Sequence[Stored], emitted: Sequence[Alert], now: float
    ) -> None:
        """Tell the refresh sinks (Alertmanager) again of the firing alerts ``left`` active
        that they have not heard of for ``refresh_seconds``."""
        for alert in emitted:
            self._refreshed[alert.fingerprint] = now
        live = {s.fingerprint for s in left}
        self._refreshed = {fp: t for fp, t in self._refreshed.items() if fp in live}
        due: dict[str, list[str]] = {}
        for summary in left:
            targets = [s for s in summary.sinks if s in self.refresh_sinks]
            last = self._refreshed.setdefault(summary.fingerprint, summary.updated_at)
            if (
                summary.status == AlertStatus.FIRING
                and targets
                and now - last >= self.refresh_seconds
            ):
                self._refreshed[summary.fingerprint] = now
                due[summary.fingerprint] = targets
        if due:
            for alert in await read.alerts(s for s in left if s.fingerprint in due):
                self.notify(alert.to_record() | {"notification": REFRESH}, due[alert.fingerprint])

    async def _publish_live(self, record: dict[str, Any]) -> None:
        if not self.live_channel:
            self._tell(record)
            return
        try:
            await self.store.redis.publish(
                self.live_channel, json.dumps(record, ensure_ascii=False)
            )
        except (RedisError, OSError) as exc:  # best effort: the console also polls
            log.warning("live alert feed not published (%s)", exc)

    def _tell(self, record: dict[str, Any]) -> None:
        for callback in list(self._subscribers):
            callback(record)

    # --- baselines --------------------------------------------------------------------
    async def _baseline_step(self, now: float, active: Sequence[Alert]) -> None:
        """Once per step (by one worker): feed every spike key's window into its baseline;
        keys with an active alert are frozen. Then every worker reloads the baselines."""
        if self.baselines is None or not any(r.spike for r in self.rules.values()):
            return
        # Taken whole before the first await: batches keep adding keys while this step
        # waits on Redis (iterating the live dict crashed the worker's timer).
        seen, self._seen_keys = self._seen_keys, defaultdict(set)
        try:
            for name, keys in seen.items():  # "last seen", so busy keys stay
                await self.baselines.register(name, keys, now)
        except BaseException:
            for name, keys in seen.items():  # registered again at the next step
                self._seen_keys[name] |= keys
            raise
        step = int(now // self.baseline_step_seconds)
        if step <= self._step:
            return
        self._step = step
        if await self.baselines.claim_step(step):
            frozen = {m.key for a in active for m in self._members_of(a)}
            for rule in (r for r in self.rules.values() if r.spike is not None):
                await self._learn(rule, now, frozen)
        await self._load_baselines()

    async def _learn(self, rule: Rule, now: float, frozen: set[str]) -> None:
        assert self.baselines is not None and rule.spike is not None  # noqa: S101
        keys = [k for k in await self.baselines.keys(rule.name, now) if k not in frozen]
        states = await self.windows.read(keys, now)
        learned = self._learned.get(rule.name, {})
        updated = {}
        for key in keys:
            counts = states[key].totals.get(rule.window_seconds, WindowCounts())
            if rule.measure in SURVEYS and not counts.trials(rule.measure):
                continue  # no responses is no information about NPS, CSAT or CES
            value = counts.measure(rule.measure, rule.window_seconds)
            updated[key] = learned.get(key, Baseline()).update(value, now, alpha=rule.spike.alpha)
        await self.baselines.save(rule.name, updated)

    async def _load_baselines(self) -> None:
        if self.baselines is None:
            return
        spike_rules = [r for r in self.rules.values() if r.spike is not None]
        self._learned = await self.baselines.load(r.name for r in spike_rules)
        self._warm = {
            r.name
            for r in spike_rules
            if r.spike is not None
            and any(b.samples >= r.spike.warmup for b in self._learned.get(r.name, {}).values())
        }


def _incident(rule: Rule, members: Iterable[Member]) -> Evaluation:
    """One evaluation of an incident from its members: breached if any is, its value and
    severity those of the worst member, its counts the sum."""
    members = list(members)
    worst = max(members, key=lambda m: (m.breached, m.holds, m.severity))
    total = WindowCounts()
    for member in members:
        total = total.plus(member.counts)
    return Evaluation(
        total,
        worst.value,
        any(m.breached for m in members),
        any(m.holds for m in members),
        worst.severity,
        worst.expected,
        worst.deviation,
    )


def _channel_of(key: str) -> str:
    """The channel a window key is about, if its key names one."""
    dims = parse_window_key(key)
    return dims.get("platform") or dims.get("channel") or dims.get("source") or ""


def _removed(alert: Alert) -> Rule:
    """Stand-in for a rule no longer configured, to resolve its alerts."""
    return Rule(
        name=alert.rule,
        description=alert.description,
        key=(),
        where={},
        window_seconds=alert.window_seconds,
        measure=alert.measure,
        threshold=alert.threshold,
        min_count=1,
        resolve_ratio=1.0,
        priority=alert.priority,
    )


def _same_to_a_reader(following: Alert | None, stored: Alert, now: float, fresh: float) -> bool:
    """Whether storing ``following`` in place of ``stored`` can wait: the same status,
    priority and acknowledgement, and ``stored`` evaluated less than ``fresh`` seconds ago.
    Its decaying figures (a customer's risk) are then at most ``fresh`` seconds old. With
    thousands of customer alerts open, storing each on every timer step was most of the
    step's cost (docs/performance.md)."""
    return (
        following is not None
        and following.status == stored.status
        and following.priority == stored.priority
        and following.acknowledged == stored.acknowledged
        and now - stored.window_end < fresh
    )
