"""One batch of input messages, start to finish, in three stages: :meth:`Pipeline.analyse`
(decode → analyze, in the analysis process), :meth:`Pipeline.count` (publish → windows →
window alerts) and :meth:`Pipeline.finish` (the console's series, emerging topics, the
customer stage → delivery). An agent counts its next batch while the previous one
finishes, and analyses the one after (streams/overlap.py): a batch's window alerts do not
wait for the previous batch's customer stage. No stage raises (except on cancellation):
bad messages become dead letters, Redis outages are retried with back-off until they pass,
and an unexpected error dead-letters the batch with ``processing_error`` rather than
losing it. Only when ``finish`` returns does the agent acknowledge the batch, so every
message is counted or dead-lettered before its offset is committed (at-least-once).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar

from redis.exceptions import RedisError

from alerts.contacts import SAMPLE_CHARS
from alerts.emerging_clusters import TopicText
from alerts.emerging_monitor import EmergingMonitor
from alerts.engine import AlertEngine
from alerts.explain import content_terms
from alerts.lifecycle import Alert, Sample
from alerts.observation import Counted
from alerts.rules import KEYS_MEMO_SIZE, Rule, parse_window_key, window_key
from alerts.series import Point, RedisSeries
from alerts.windows import (
    DUPLICATE,
    LATE,
    KeyState,
    RedisWindowStore,
)
from classifiers.analyze import Analyzer
from streams.analysis import InlineRunner, Rejected, Result, Runner, Scored
from streams.customers import CustomerStage
from streams.records import RawMessage, dead_letter_record, dumps
from vocwatch.metrics import Metrics, observe_many
from vocwatch.settings import Settings
from vocwatch.vocabulary import Measure, Priority, Source, by_value

log = logging.getLogger(__name__)
T = TypeVar("T")
_PRIORITIES = by_value(Priority)  # a slim event's level → member


class Publisher(Protocol):
    """Sends a record to a topic; the returned awaitable resolves once it is delivered."""

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]: ...


class Outgoing(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes


InFlight = tuple[Outgoing, Awaitable[Any] | None]  # a record and its delivery, if sent


@dataclass
class BatchOutcome:
    valid: int = 0
    new: int = 0
    duplicates: int = 0
    late: int = 0
    dead_lettered: int = 0
    alerts: int = 0


@dataclass(frozen=True)
class AnalysedBatch:
    """A batch between the two stages: every message with its analysis or rejection."""

    source: str
    messages: Sequence[RawMessage]
    results: Sequence[Result]
    started: float  # perf_counter() when the batch was taken


@dataclass
class CountedBatch:
    """A batch between its count (windows and window alerts) and its finish (the rest,
    then delivery): what the finish needs."""

    batch: AnalysedBatch
    outcome: BatchOutcome
    in_flight: list[InFlight]
    valid: Sequence[tuple[RawMessage, Scored]]  # the valid messages and their events
    new: Sequence[Scored]  # the events counted for the first time
    now: float
    failed: bool  # dead-lettered whole: nothing more to do but deliver


@dataclass
class _Keyed:
    """What a batch contributes to each window key."""

    observations: dict[str, list[Counted]] = field(default_factory=lambda: defaultdict(list))
    touched: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))
    oldest: dict[str, float] = field(default_factory=dict)  # key → oldest event time in batch


class Pipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        rules: Sequence[Rule],
        windows: RedisWindowStore,
        engine: AlertEngine,
        publisher: Publisher,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        series: RedisSeries | None = None,
        analyzer: Analyzer | None = None,
        runner: Runner | None = None,
        emerging: EmergingMonitor | None = None,
        customers: CustomerStage | None = None,
    ) -> None:
        """Analysis runs through ``runner``, or in this thread with ``analyzer``;
        ``emerging`` clusters the new texts of every batch (emerging topics); events that
        name a customer go through ``customers`` (none: no customer history)."""
        self.settings = settings
        if runner is None:
            if analyzer is None:
                raise ValueError("a Pipeline needs an analyzer or a runner")
            runner = InlineRunner(analyzer, max_bytes=settings.max_message_bytes, clock=clock)
        self.runner = runner
        self.rules = list(rules)
        self.windows = windows
        self.engine = engine
        self.publisher = publisher
        self.metrics = metrics
        self.clock = clock
        self.series = series
        self.emerging = emerging
        self.customers = customers
        self.last_batch_at: dict[str, float] = {}  # source → when its last batch finished
        # (topic, partition) → offset after the last message processed: for consumer lag
        self.next_offsets: dict[tuple[str, int], int] = {}
        self.processed = 0  # messages completed since start: the overload meter's rate
        # the dimensions any rule reads (besides the categories): they decide an event's keys
        self._reads = tuple(sorted({d for rule in self.rules for d in rule.reads}))
        self._keys_memo: dict[
            tuple[str, tuple[str | None, ...], tuple[str, ...]],
            tuple[tuple[str, tuple[str, ...]], ...],
        ] = {}

    async def process(self, source: str, messages: Sequence[RawMessage]) -> BatchOutcome:
        """Every stage of one batch, one after the other."""
        return await self.complete(await self.analyse(source, messages))

    async def analyse(self, source: str, messages: Sequence[RawMessage]) -> AnalysedBatch:
        """Stage 1: decode and analyse (in the analysis process, if there is one). Touches
        no shared state, so it may run while the previous batch is being completed."""
        started = time.perf_counter()
        self.metrics.events_received.labels(source).inc(len(messages))
        results = await self.runner.run(source, [m.value for m in messages])
        return AnalysedBatch(source, messages, results, started)

    async def complete(self, batch: AnalysedBatch) -> BatchOutcome:
        """Stages 2 and 3, one after the other."""
        return await self.finish(await self.count(batch))

    async def count(self, batch: AnalysedBatch) -> CountedBatch:
        """Stage 2: publish the scored records, count the events in their windows, decide
        the window alerts. Batches of one source must be counted in the order they were
        taken: windows and the scored topic assume it."""
        source, messages = batch.source, batch.messages
        outcome = BatchOutcome()
        scored: list[tuple[RawMessage, Scored]] = []
        records: list[Outgoing] = []
        outgoing: list[Outgoing] = []
        topic = self.settings.scored_topic
        for message, result in zip(messages, batch.results, strict=True):
            if isinstance(result, Rejected):
                outgoing.append(self._dead_letter(source, message, result.reason, result.detail))
            else:
                scored.append((message, result))
                records.append(Outgoing(topic, result.id.encode(), result.record))
        outcome.dead_lettered = len(outgoing)
        # The records are sent now and their delivery awaited at the finish: the broker's
        # acknowledgements arrive while Redis works. Nothing is acknowledged before both.
        in_flight = await self._send(outgoing + records)
        events = [event for _, event in scored]
        now = self.clock()
        try:
            new = await self._count_and_alert(source, events, outcome, now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not lose the batch: dead-letter it as well
            in_flight += await self._failed(source, scored, exc, outcome)
            return CountedBatch(batch, outcome, in_flight, scored, [], now, failed=True)
        return CountedBatch(batch, outcome, in_flight, scored, new, now, failed=False)

    async def finish(self, counted: CountedBatch) -> BatchOutcome:
        """Stage 3: the console's series, the emerging topics' clustering and the customer
        stage; then the batch's records delivered and its offsets advanced. In the order
        the batches were counted; a batch's window alerts are out before its finish starts,
        and the next batch may be counted meanwhile."""
        batch, outcome = counted.batch, counted.outcome
        source, messages = batch.source, batch.messages
        in_flight = counted.in_flight
        if not counted.failed:
            try:
                outcome.alerts += await self._after_alerts(source, counted)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # as in count: dead-letter the batch rather than lose it
                in_flight = in_flight + await self._failed(source, counted.valid, exc, outcome)
        await self._delivered(in_flight)
        self._advance_offsets(messages)
        self.processed += len(messages)
        self.metrics.batch_seconds.labels(source).observe(time.perf_counter() - batch.started)
        self.last_batch_at[source] = self.clock()
        self.metrics.last_batch_timestamp.labels(source).set(self.last_batch_at[source])
        return outcome

    async def _failed(
        self,
        source: str,
        scored: Sequence[tuple[RawMessage, Scored]],
        exc: Exception,
        outcome: BatchOutcome,
    ) -> list[InFlight]:
        log.exception("batch of %d %s events failed; dead-lettering it", len(scored), source)
        outcome.dead_lettered += len(scored)
        return await self._send(
            [
                self._dead_letter(
                    source, message, "processing_error", f"{type(exc).__name__} in batch"
                )
                for message, _ in scored
            ]
        )

    def _dead_letter(self, source: str, message: RawMessage, reason: str, detail: str) -> Outgoing:
        self.metrics.events_dead_lettered.labels(source, reason).inc()
        record = dead_letter_record(message, source, reason, detail, now=self.clock())
        key = f"{message.topic}:{message.partition}:{message.offset}".encode()
        return Outgoing(self.settings.deadletter_topic, key, dumps(record))

    async def _count_and_alert(
        self, source: str, scored: Sequence[Scored], outcome: BatchOutcome, now: float
    ) -> list[Scored]:
        """Window updates and window alerts; the events counted for the first time."""
        keyed = self._keyed(scored)
        states = await self._retry(
            "window update", lambda: self.windows.record(keyed.observations, now)
        )
        new = (
            self._count_events(source, scored, states[_source_key(source)].flags, now, outcome)
            if scored
            else []
        )
        self._window_gauges(states)
        for key, key_samples in keyed.samples.items():
            self.engine.activity.add_samples(key, key_samples)
        alerts = await self._retry(
            "alert update", lambda: self.engine.on_batch(keyed.touched, states, now)
        )
        outcome.valid = len(scored)
        outcome.alerts = len(alerts)
        for alert in alerts:
            # From the oldest event of the batch in the alert's key: an upper bound of the
            # time from the event that crossed the threshold to the alert.
            self.metrics.latency.labels(source, "alert").observe(
                max(0.0, self.clock() - keyed.oldest[alert.key])
            )
        return new

    async def _after_alerts(self, source: str, counted: CountedBatch) -> int:
        """What does not hold a window alert up (the console's series, the emerging topics'
        clustering, the customer stage); the customer alerts it emitted."""
        new, now = counted.new, counted.now
        if self.series is not None and new:
            series = self.series
            points, posts = _series_points(new)
            await self._retry("series update", lambda: series.add(points, posts))
        if self.emerging is not None and new:
            self.emerging.observe(_topic_texts(self.emerging, new))
        if self.customers is None or not counted.valid:
            return 0
        events = [event for _, event in counted.valid]
        return len(await self._customers(self.customers, events, now))

    async def _customers(
        self,
        stage: CustomerStage,
        scored: Sequence[Scored],
        now: float,
    ) -> list[Alert]:
        """Customer histories, KPI sums and customer alerts: each step retried on its own
        (a history already written is not written twice: its dedup sees to that)."""
        batch = stage.batch(scored)
        if not batch.contacts:
            return []
        async with stage.lock:
            states = await self._retry("customer history", lambda: stage.record(batch, now))
            await self._retry("KPI update", lambda: stage.count(batch, states, now))
            return await self._retry("customer alerts", lambda: stage.alert(batch, states, now))

    def _window_gauges(self, states: Mapping[str, KeyState]) -> None:
        """Window values per channel × category (bounded label sets) for dashboards."""
        for key, state in states.items():
            dims = parse_window_key(key)
            if dims.keys() != {"channel", "category"} or "|" in key:
                continue
            for span, counts in state.totals.items():
                labels = (dims["channel"], dims["category"], f"{span}s")
                self.metrics.window_events.labels(*labels).set(counts.count)
                self.metrics.window_negative_share.labels(*labels).set(
                    counts.measure(Measure.NEGATIVE_SHARE)
                )

    def _keyed(self, scored: Sequence[Scored]) -> _Keyed:
        keyed = _Keyed()
        activity = self.engine.activity
        for event in scored:
            dims, at = event.dims, event.event_time
            sample = None
            terms = content_terms(event.tokens, event.text)
            activity.add_event(terms, at)
            for key, rule_names in self._keys(event.source, dims, event.categories):
                keyed.observations[key].append(event)  # packed by the analysis
                oldest = keyed.oldest.get(key)
                if oldest is None or at < oldest:
                    keyed.oldest[key] = at
                if not rule_names:
                    continue
                if sample is None:
                    sample = Sample(
                        event.id,
                        event.text[:SAMPLE_CHARS],
                        _PRIORITIES[event.priority],
                        at,
                        event.negative,
                        event.source,
                        dims.get("platform", event.channel or ""),
                    )
                keyed.samples[key].append(sample)
                activity.add(key, terms, at)
                for name in rule_names:
                    keyed.touched[name].add(key)
        return keyed

    def _keys(
        self, source: str, dims: Mapping[str, str], categories: Sequence[str]
    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The window keys an event counts in, each with the rules that read it: its
        source's key first (every event counts there: that is where duplicates are
        detected, by no rule), then each rule's. Remembered per combination of dimension
        values and categories (a worker sees few of them, and this runs for every event)."""
        memo_key = (source, tuple(map(dims.get, self._reads)), tuple(categories))
        found = self._keys_memo.get(memo_key)
        if found is None:
            keys: dict[str, list[str]] = {_source_key(source): []}
            for rule in self.rules:
                for key in rule.keys_for(dims, categories):
                    keys.setdefault(key, []).append(rule.name)
            if len(self._keys_memo) >= KEYS_MEMO_SIZE:
                self._keys_memo.clear()
            found = self._keys_memo[memo_key] = tuple(
                (key, tuple(names)) for key, names in keys.items()
            )
        return found

    def _count_events(
        self,
        source: str,
        scored: Sequence[Scored],
        flags: Sequence[int],
        now: float,
        outcome: BatchOutcome,
    ) -> list[Scored]:
        """Metrics for the events counted for the first time. Replays count only as
        duplicates, events older than the longest window only as late: every received
        message is exactly one of valid, duplicate, late or dead-lettered. Returns the
        events counted for the first time. Counters are summed per batch first: one label
        lookup per batch and label set, not one per event."""
        new = [
            event
            for event, flag in zip(scored, flags, strict=True)
            if flag not in (DUPLICATE, LATE)
        ]
        outcome.duplicates = sum(1 for flag in flags if flag == DUPLICATE)
        outcome.late = sum(1 for flag in flags if flag == LATE)
        outcome.new = len(new)
        m = self.metrics
        m.events_duplicate.labels(source).inc(outcome.duplicates)
        m.events_late.labels(source).inc(outcome.late)
        m.events_valid.labels(source).inc(outcome.new)
        observe_many(m.sentiment.labels(source), [event.sentiment for event in new])
        observe_many(
            m.latency.labels(source, "scored"), [max(0.0, now - e.event_time) for e in new]
        )
        counts: Counter[tuple[Any, tuple[str, ...]]] = Counter()
        for event in new:
            counts[(m.events_scored, (source, event.category, event.priority))] += 1
            self._source_metrics(event, counts)
        for (counter, labels), amount in counts.items():
            counter.labels(*labels).inc(amount)
        return new

    def _source_metrics(self, event: Scored, counts: Counter[tuple[Any, tuple[str, ...]]]) -> None:
        """What dashboards need beyond counts: call outcomes, social reach, products and
        regions (only the configured ones get a label of their own). Counter increments
        are added to ``counts``; histograms are observed at once."""
        m, fields, source = self.metrics, event.fields, event.source
        counts[
            (m.events_by_product, (source, _bounded(event.product, self.settings.metric_products)))
        ] += 1
        counts[
            (m.events_by_region, (source, _bounded(event.region, self.settings.metric_regions)))
        ] += 1
        if source == Source.CALL:
            m.call_wait.observe(fields["wait_seconds"])
            counts[(m.call_first_contact, (str(fields["resolved_first_contact"]).lower(),))] += 1
            if fields["satisfaction"] is not None:
                m.call_satisfaction.observe(fields["satisfaction"])
        elif source == Source.SOCIAL:
            counts[(m.social_posts, (fields["platform"], event.polarity))] += 1
            if event.negative:
                counts[(m.social_negative_reach, (fields["platform"],))] += event.reach

    def _advance_offsets(self, messages: Sequence[RawMessage]) -> None:
        for message in messages:
            key = (message.topic, message.partition)
            self.next_offsets[key] = max(self.next_offsets.get(key, 0), message.offset + 1)

    async def _retry(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        delay = 0.1
        while True:
            try:
                return await operation()
            except (RedisError, OSError) as exc:
                self.metrics.redis_errors.inc()
                log.warning(
                    "%s failed (%s: %s); retrying in %.1f s", what, type(exc).__name__, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)

    async def publish(self, outgoing: Sequence[Outgoing]) -> None:
        """Send every record and wait until each is delivered, re-sending the ones that
        failed with back-off: a batch is acknowledged only after this returns. A re-send
        may duplicate a record; consumers deduplicate by key (at-least-once)."""
        await self._delivered(await self._send(outgoing))

    async def _send(self, outgoing: Sequence[Outgoing]) -> list[InFlight]:
        """Hand each record to the producer; None for one it refused at once."""
        in_flight: list[InFlight] = []
        for record in outgoing:
            try:
                in_flight.append((record, await self.publisher.send(*record)))
            except Exception as exc:
                log.warning("sending to %s failed: %s", record.topic, exc)
                in_flight.append((record, None))
        return in_flight

    async def _delivered(self, in_flight: list[InFlight]) -> None:
        delay = 0.1
        while in_flight:
            results = await asyncio.gather(
                *(f for _, f in in_flight if f is not None), return_exceptions=True
            )
            outcomes = iter(results)
            failed = [
                record
                for record, future in in_flight
                if future is None or isinstance(next(outcomes), Exception)
            ]
            for record in failed:
                self.metrics.publish_errors.labels(record.topic).inc()
            if not failed:
                return
            log.warning("%d records not delivered; re-sending in %.1f s", len(failed), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.retry_max_seconds)
            in_flight = await self._send(failed)


def _series_points(new: Sequence[Scored]) -> tuple[list[Point], list[dict[str, Any]]]:
    """The console's minute series: every new event by its top category, social posts by
    platform too; and the negative posts with their reach (masked text only)."""
    points, posts = [], []
    for event in new:
        minute = int(event.event_time // 60)
        points.append(Point("category", event.category, minute, event.negative))
        if event.source == Source.SOCIAL:
            platform, reach = event.fields["platform"], float(event.reach)
            points.append(Point("platform", platform, minute, event.negative, reach))
            if event.negative:
                posts.append(
                    {
                        "id": event.id,
                        "platform": platform,
                        "reach": reach,
                        "text": event.text[:SAMPLE_CHARS],
                        "sentiment": event.sentiment,
                        "priority": event.priority,
                        "time": event.event_time,
                    }
                )
    return points, posts


def _topic_texts(monitor: EmergingMonitor, new: Sequence[Scored]) -> list[TopicText]:
    """What the emerging-topic clustering needs of the new events it wants (by polarity).
    A person is the customer of a complaint or call, the author of a social post."""
    return [
        TopicText(
            event.id,
            str(event.fields.get("customer_id") or event.fields.get("author") or event.id),
            event.event_time,
            event.source,
            event.fields.get("platform", "")
            if event.source == Source.SOCIAL
            else event.channel or "",
            event.text,
            event.tokens,
            _PRIORITIES[event.priority],
            event.negative,
            event.category,
        )
        for event in new
        if monitor.wants(event.polarity)
    ]


@functools.cache  # a handful of sources; built for every event otherwise
def _source_key(source: str) -> str:
    """The window key every event of ``source`` counts in."""
    return window_key({"source": source})


def _bounded(value: str | None, known: Sequence[str]) -> str:
    """A metric label from free text: the value if configured, else ``other`` / ``none``."""
    if not value:
        return "none"
    return value if value in known else "other"
