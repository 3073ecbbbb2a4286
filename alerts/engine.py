"""The alert engine: turns window states into alert records and delivers them.

It is called by the pipeline after every batch with the window keys the batch touched,
and by a timer (:meth:`AlertEngine.reevaluate`) so that alerts resolve when their key
goes quiet. Decisions are made by the pure :func:`alerts.lifecycle.advance`; this class
only reads and writes state and hands records to the sinks.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence

from alerts.lifecycle import Alert, Sample, Window, advance, fingerprint, merge_samples
from alerts.rules import Rule, WindowCounts
from alerts.sinks import AlertSink
from alerts.store import RedisAlertStore
from alerts.windows import KeyState, RedisWindowStore
from vocwatch.metrics import Metrics

log = logging.getLogger(__name__)


class RecentSamples:
    """The best few example texts seen lately per window key, so an alert that fires on
    the batch that crosses the threshold still shows examples from earlier batches.
    Bounded: the least recently updated keys are forgotten first."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._by_key: OrderedDict[str, tuple[Sample, ...]] = OrderedDict()

    def add(self, key: str, samples: Sequence[Sample]) -> tuple[Sample, ...]:
        merged = merge_samples(self._by_key.pop(key, ()), samples)
        self._by_key[key] = merged
        while len(self._by_key) > self.max_keys:
            self._by_key.popitem(last=False)
        return merged


class AlertEngine:
    def __init__(self, rules: Sequence[Rule], windows: RedisWindowStore, store: RedisAlertStore,
                 sinks: Sequence[AlertSink], metrics: Metrics, *, update_seconds: float) -> None:
        self.recent = RecentSamples()
        self.rules = {rule.name: rule for rule in rules}
        self.windows = windows
        self.store = store
        self.sinks = list(sinks)
        self.metrics = metrics
        self.update_seconds = update_seconds

    async def on_batch(self, touched: Mapping[str, Iterable[str]], states: Mapping[str, KeyState],
                       samples: Mapping[str, Sequence[Sample]], now: float) -> list[Alert]:
        """Advance the alerts of every (rule, key) the batch touched; return those emitted."""
        pairs = [(self.rules[name], key) for name, keys in touched.items() for key in keys]
        current = await self.store.get_many([fingerprint(r.name, k) for r, k in pairs])
        recent = {key: self.recent.add(key, samples.get(key, ())) for _, key in pairs}
        emitted = []
        for rule, key in pairs:
            window = self._window(rule, states[key], now)
            alert = await self._advance(rule, key, window, now,
                                        current.get(fingerprint(rule.name, key)), recent[key])
            if alert is not None:
                emitted.append(alert)
        return emitted

    async def reevaluate(self, now: float) -> list[Alert]:
        """Re-read the window of every active alert; resolve those no longer breached."""
        active = await self.store.all_active()
        states = await self.windows.read(sorted({a.key for a in active}), now)
        emitted = []
        for alert in active:
            rule = self.rules.get(alert.rule)
            if rule is None:  # the rule was removed from the config: nothing keeps it alive
                log.info("alert %s: rule %s no longer configured; resolving", alert.id, alert.rule)
                rule = _never_holds(alert)
            window = self._window(rule, states[alert.key], now)
            result = await self._advance(rule, alert.key, window, now, alert, ())
            if result is not None:
                emitted.append(result)
        resolved = {a.fingerprint for a in emitted if a.status == "resolved"}
        firing = Counter(a.rule for a in active if a.fingerprint not in resolved)
        for name in {*self.rules, *firing}:
            self.metrics.alerts_firing.labels(name).set(firing.get(name, 0))
        return emitted

    async def _advance(self, rule: Rule, key: str, window: Window, now: float,
                       current: Alert | None, samples: Sequence[Sample]) -> Alert | None:
        alert, emit = advance(rule, key, window, now, current, samples,
                              update_seconds=self.update_seconds)
        if alert is None:
            return None
        if current is None and not await self.store.create(alert):
            # Another worker created it a moment ago: continue that one instead.
            existing = await self.store.get_many([alert.fingerprint])
            if alert.fingerprint not in existing:
                return None
            return await self._advance(rule, key, window, now, existing[alert.fingerprint],
                                       samples)
        if current is not None:
            await self.store.save(alert)
        if not emit:
            return None
        await self.emit(alert)
        return alert

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

    def _window(self, rule: Rule, state: KeyState, now: float) -> Window:
        # A rule removed from the config may have a span the store no longer keeps.
        counts = state.totals.get(rule.window_seconds, WindowCounts())
        return Window(start=self.windows.window_start(rule.window_seconds, now), end=now,
                      counts=counts)


def _never_holds(alert: Alert) -> Rule:
    return Rule(name=alert.rule, description=alert.description, key=(), where={},
                window_seconds=alert.window_seconds, measure=alert.measure,
                threshold=float("inf"), min_count=1, resolve_ratio=1.0,
                priority=alert.priority)
