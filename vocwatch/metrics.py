"""Every Prometheus metric of vocwatch, created against a registry that is passed in.

Two kinds, both defined here so that names, units and label sets live in one place
(catalogue: docs/metrics.md):

* :class:`Metrics` — counters, gauges and histograms the code updates as events pass
  (``metrics.events_valid.labels("call").inc(n)``);
* collectors (:func:`register_collectors`) — values computed when Prometheus scrapes, from
  callables handed in: the process, platform and garbage-collector metrics of the worker
  (prometheus_client's own collectors), the memory and CPU of its analysis processes, and
  consumer lag and stall time.

Every label has a bounded set of values: event sources, dead-letter reasons, categories,
priorities and rule names come from code or configuration, never from free text.
"""

from __future__ import annotations

import bisect
import functools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

NAMESPACE = "vocwatch"

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
LOOP_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SENTIMENT_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
WAIT_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 3600)
RATING_BUCKETS = (1, 2, 3, 4, 5)
SURVEY_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)  # le="6": NPS detractors, CSAT ≤ 2 …
RISK_BUCKETS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
# A KPI row of the scrape-time KPI collector: kpi, product, region, value, status level
# (0 green, 1 amber, 2 red); and a target row: kpi, target, red line.
KpiRow = tuple[str, str, str, float, int]
KpiTargetRow = tuple[str, float, float]
# The worker's load as the overload collector reads it: overloaded, the backlog in seconds of
# work, the expected catch-up time in seconds (inf: not shrinking).
OverloadRow = tuple[bool, float, float]


@dataclass(frozen=True)
class Metrics:
    events_received: Counter
    events_valid: Counter
    events_duplicate: Counter
    events_late: Counter
    events_dead_lettered: Counter
    events_scored: Counter
    sentiment: Histogram
    window_events: Gauge
    window_negative_share: Gauge
    alerts: Counter
    alerts_firing: Gauge
    latency: Histogram
    batch_seconds: Histogram
    redis_errors: Counter
    publish_errors: Counter
    last_batch_timestamp: Gauge
    call_wait: Histogram
    call_first_contact: Counter
    call_satisfaction: Histogram
    social_posts: Counter
    social_negative_reach: Counter
    events_by_product: Counter
    events_by_region: Counter
    sink_deliveries: Counter
    sink_queue_depth: Gauge
    emerging_texts: Counter
    emerging_step_seconds: Histogram
    alert_step_seconds: Histogram
    loop_lag_seconds: Histogram
    emerging_errors: Counter
    customer_contacts: Counter
    survey_scores: Histogram
    customer_risk: Histogram
    corrections: Counter
    models_info: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Metrics:
        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(name, doc, labels, namespace=NAMESPACE, registry=registry)

        def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
            return Gauge(name, doc, labels, namespace=NAMESPACE, registry=registry)

        return cls(
            events_received=counter(
                "events_received", "Input messages taken from Kafka.", ("source",)
            ),
            events_valid=counter(
                "events_valid", "Valid events counted for the first time.", ("source",)
            ),
            events_duplicate=counter(
                "events_duplicate",
                "Valid events whose id was already counted (replays).",
                ("source",),
            ),
            events_late=counter(
                "events_late",
                "Valid events older than the longest window: counted nowhere.",
                ("source",),
            ),
            events_dead_lettered=counter(
                "events_dead_lettered",
                "Input messages sent to the dead-letter topic.",
                ("source", "reason"),
            ),
            events_scored=counter(
                "events_scored",
                "New events by primary category and priority.",
                ("source", "category", "priority"),
            ),
            sentiment=Histogram(
                "sentiment_score",
                "Probability that an event is positive.",
                ("source",),
                namespace=NAMESPACE,
                registry=registry,
                buckets=SENTIMENT_BUCKETS,
            ),
            window_events=gauge(
                "window_events",
                "Events in the sliding window per channel and category.",
                ("channel", "category", "window"),
            ),
            window_negative_share=gauge(
                "window_negative_share",
                "Share of negative events in the sliding window per channel and category.",
                ("channel", "category", "window"),
            ),
            alerts=counter(
                "alerts",
                "Alert records emitted (new, updated, resolved).",
                ("rule", "priority", "status"),
            ),
            alerts_firing=gauge("alerts_firing", "Alerts firing now.", ("rule",)),
            latency=Histogram(
                "processing_latency_seconds",
                "Event time to a processing stage (scored, alert).",
                ("source", "stage"),
                namespace=NAMESPACE,
                registry=registry,
                buckets=LATENCY_BUCKETS,
            ),
            batch_seconds=Histogram(
                "batch_duration_seconds",
                "Time to process one batch of input messages.",
                ("source",),
                namespace=NAMESPACE,
                registry=registry,
                buckets=LATENCY_BUCKETS,
            ),
            redis_errors=counter(
                "redis_errors", "Redis commands that failed (and were retried).", ()
            ),
            publish_errors=counter(
                "publish_errors", "Records to Kafka that failed and were re-sent.", ("topic",)
            ),
            last_batch_timestamp=gauge(
                "last_batch_timestamp_seconds", "Unix time the last batch finished.", ("source",)
            ),
            call_wait=Histogram(
                "call_wait_seconds",
                "Wait before a call was answered (new call records).",
                (),
                namespace=NAMESPACE,
                registry=registry,
                buckets=WAIT_BUCKETS,
            ),
            call_first_contact=counter(
                "call_first_contact",
                "Call records by first-contact resolution (FCR).",
                ("resolved",),
            ),
            call_satisfaction=Histogram(
                "call_satisfaction",
                "Satisfaction ratings of rated calls, 1 to 5.",
                (),
                namespace=NAMESPACE,
                registry=registry,
                buckets=RATING_BUCKETS,
            ),
            social_posts=counter(
                "social_posts",
                "New social posts by platform and polarity.",
                ("platform", "polarity"),
            ),
            social_negative_reach=counter(
                "social_negative_reach",
                "Reach of negative social posts (followers + 10×reposts + 2×comments + likes).",
                ("platform",),
            ),
            events_by_product=counter(
                "events_by_product",
                "New events per configured product (else other/none).",
                ("source", "product"),
            ),
            events_by_region=counter(
                "events_by_region",
                "New events per configured region (else other/none).",
                ("source", "region"),
            ),
            sink_deliveries=counter(
                "sink_deliveries",
                "Alert records handed to a sink, by outcome.",
                ("sink", "outcome"),
            ),
            sink_queue_depth=gauge(
                "sink_queue_depth", "Alert records waiting to be delivered to a sink.", ("sink",)
            ),
            emerging_texts=counter(
                "emerging_texts",
                "New texts seen by the emerging-topic clustering, by outcome.",
                ("outcome",),
            ),
            emerging_step_seconds=Histogram(
                "emerging_step_duration_seconds",
                "Time of one emerging-topic step of this worker (report, and decision if it "
                "took the step).",
                (),
                namespace=NAMESPACE,
                registry=registry,
                buckets=LATENCY_BUCKETS,
            ),
            alert_step_seconds=Histogram(
                "alert_step_duration_seconds",
                "Time of one alert re-evaluation step of this worker (the timer).",
                (),
                namespace=NAMESPACE,
                registry=registry,
                buckets=LATENCY_BUCKETS,
            ),
            loop_lag_seconds=Histogram(
                "event_loop_lag_seconds",
                "How much later than asked the worker's event loop woke a task that sleeps "
                "0.25 s: how long other work held the loop (streams/loop_lag.py).",
                (),
                namespace=NAMESPACE,
                registry=registry,
                buckets=LOOP_LAG_BUCKETS,
            ),
            emerging_errors=counter(
                "emerging_errors",
                "Errors of the emerging-topic detection (the stream goes on).",
                ("stage",),
            ),
            customer_contacts=counter(
                "customer_contacts",
                "Contacts given to customer histories, by source and outcome (new, "
                "duplicate: already in the history, late: older than the history keeps).",
                ("source", "outcome"),
            ),
            survey_scores=Histogram(
                "survey_score",
                "Scores of new survey responses (NPS 0-10, CSAT 1-5, CES 1-7).",
                ("kind",),
                namespace=NAMESPACE,
                registry=registry,
                buckets=SURVEY_BUCKETS,
            ),
            customer_risk=Histogram(
                "customer_risk_score",
                "Risk score (0-100) of each customer a batch brought contacts of.",
                (),
                namespace=NAMESPACE,
                registry=registry,
                buckets=RISK_BUCKETS,
            ),
            corrections=counter(
                "corrections",
                "Corrections (纠正) people made of a text's category or sentiment, by what "
                "they corrected (one correction of both counts in each).",
                ("kind",),
            ),
            models_info=gauge(
                "models_info",
                "Always 1: the text models this worker scores with, as scored records and "
                "/health name them.",
                ("version",),
            ),
        )


ANALYSIS_PREFIX = f"{NAMESPACE}_analysis"


def observe_many(histogram: Histogram, amounts: Iterable[float]) -> None:
    """Observe every amount, as ``histogram.observe`` one by one would, but binned in one
    pass and added with one increment per bucket: the pipeline observes a batch's events
    together (an ``observe`` per event was a twentieth of completing a batch). NaN counts
    in the sum and in no bucket, as with ``observe``. On a client without the internals
    this relies on, it falls back to ``observe`` per amount."""
    bounds: Sequence[float] | None = getattr(histogram, "_upper_bounds", None)
    buckets: Sequence[Any] | None = getattr(histogram, "_buckets", None)
    total: Any = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:
        for amount in amounts:
            histogram.observe(amount)
        return
    # a parent with labels refuses, as its observe() does; untyped in prometheus_client
    histogram._raise_if_not_observable()  # type: ignore[no-untyped-call]
    counts = [0] * len(bounds)
    added = 0.0
    observed = False
    for amount in amounts:
        observed = True
        added += amount
        if amount == amount:  # not NaN
            counts[bisect.bisect_left(bounds, amount)] += 1
    if not observed:
        return
    total.inc(added)
    for bucket, count in zip(buckets, counts, strict=True):
        if count:
            bucket.inc(count)


def register_collectors(
    registry: CollectorRegistry,
    *,
    analysis_pids: Callable[[], Sequence[int]],
    consumer_lag: Callable[[], Mapping[str, int]],
    stalled_seconds: Callable[[], float],
    emerging_clusters: Callable[[], int] | None = None,
    kpis: Callable[[], tuple[Sequence[KpiRow], Sequence[KpiTargetRow]]] | None = None,
    overload: Callable[[], OverloadRow] | None = None,
) -> None:
    """Register the scrape-time collectors of a worker on ``registry``:

    * ``process_*`` (memory, CPU, file descriptors of the worker), ``python_info`` and
      ``python_gc_*`` — prometheus_client's own collectors;
    * ``vocwatch_analysis_process_*{process="0"}`` — the same process metrics for each
      analysis process, ``analysis_pids()`` giving their pids;
    * ``vocwatch_consumer_lag_messages{topic}`` and ``vocwatch_stalled_seconds``, from the
      two callables;
    * ``vocwatch_emerging_clusters``, the emerging-topic clusters the worker holds, when
      ``emerging_clusters`` is given.
    * ``vocwatch_kpi{kpi, product, region}``, ``vocwatch_kpi_status{…}``,
      ``vocwatch_kpi_target{kpi}`` and ``vocwatch_kpi_red{kpi}``, from ``kpis`` (the last
      KPI board the worker read from Redis);
    * ``vocwatch_overloaded``, ``vocwatch_backlog_seconds`` and ``vocwatch_catch_up_seconds``,
      from ``overload`` (the worker's last load observation, streams/overload.py).
    """
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(AnalysisProcessCollector(analysis_pids))
    registry.register(ConsumerProgressCollector(consumer_lag, stalled_seconds))
    if emerging_clusters is not None:
        registry.register(EmergingCollector(emerging_clusters))
    if kpis is not None:
        registry.register(KpiCollector(kpis))
    if overload is not None:
        registry.register(OverloadCollector(overload))


class EmergingCollector(Collector):
    """``vocwatch_emerging_clusters``: the clusters of similar texts a worker holds now."""

    def __init__(self, clusters: Callable[[], int]) -> None:
        self.clusters = clusters

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            f"{NAMESPACE}_emerging_clusters",
            "Clusters of similar texts the emerging-topic detection holds (bounded).",
            value=self.clusters(),
        )


class AnalysisProcessCollector(Collector):
    """What :class:`prometheus_client.ProcessCollector` reports of a process, for each
    analysis process, with a ``process`` label (0, 1 …) and the ``vocwatch_analysis_``
    prefix: ``vocwatch_analysis_process_resident_memory_bytes{process="0"}``,
    ``vocwatch_analysis_process_cpu_seconds_total{process="0"}`` … Read from /proc when
    scraped; a process that has just exited is left out."""

    def __init__(self, pids: Callable[[], Sequence[int]]) -> None:
        self.pids = pids

    def describe(self) -> Iterable[Metric]:
        return []  # the families depend on the platform: checked at scrape time

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for index, pid in enumerate(self.pids()):
            process = ProcessCollector(
                namespace=ANALYSIS_PREFIX, pid=functools.partial(int, pid), registry=None
            )
            for family in process.collect():
                merged = families.setdefault(
                    family.name,
                    Metric(
                        family.name, family.documentation + " (an analysis process)", family.type
                    ),
                )
                for sample in family.samples:
                    merged.add_sample(
                        sample.name, {**sample.labels, "process": str(index)}, sample.value
                    )
        return list(families.values())


class ConsumerProgressCollector(Collector):
    """Consumer lag per input topic and the stall time, computed when scraped."""

    def __init__(
        self, lag: Callable[[], Mapping[str, int]], stalled_seconds: Callable[[], float]
    ) -> None:
        self.lag = lag
        self.stalled_seconds = stalled_seconds

    def describe(self) -> Iterable[Metric]:
        return [self._lag_family(), self._stalled_family()]

    def collect(self) -> Iterable[Metric]:
        lag = self._lag_family()
        for topic, messages in sorted(self.lag().items()):
            lag.add_metric([topic], messages)
        stalled = self._stalled_family()
        stalled.add_metric([], self.stalled_seconds())
        return [lag, stalled]

    @staticmethod
    def _lag_family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            f"{NAMESPACE}_consumer_lag_messages",
            "Input messages not yet processed by this worker, summed over its partitions of "
            "the topic.",
            labels=["topic"],
        )

    @staticmethod
    def _stalled_family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            f"{NAMESPACE}_stalled_seconds",
            "For how long input has waited while no offset moved (0 when healthy); the "
            "worker exits to be restarted past VOCWATCH_STALL_SECONDS.",
        )


class OverloadCollector(Collector):
    """Whether the worker keeps up, from its last load observation (every
    ``VOCWATCH_EVALUATION_SECONDS``): read when scraped."""

    def __init__(self, overload: Callable[[], OverloadRow]) -> None:
        self.overload = overload

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        overloaded, backlog_seconds, catch_up_seconds = self.overload()
        families = self._families()
        for family, value in zip(
            families, (float(overloaded), backlog_seconds, catch_up_seconds), strict=True
        ):
            family.add_metric([], value)
        return families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                f"{NAMESPACE}_overloaded",
                "1 while the backlog would take longer than VOCWATCH_OVERLOAD_SECONDS to "
                "process at the current rate, else 0.",
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_backlog_seconds",
                "The input waiting, in seconds of work at the current processing rate.",
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_catch_up_seconds",
                "Expected time until the backlog is processed at the current processing and "
                "arrival rates; +Inf while it is not shrinking, 0 without a backlog.",
            ),
        ]


class KpiCollector(Collector):
    """The service KPIs against their targets, as last read from Redis (a timer refreshes
    them): every worker reports the same, deployment-wide values, so dashboards take the
    ``max`` over workers, not the sum."""

    def __init__(self, kpis: Callable[[], tuple[Sequence[KpiRow], Sequence[KpiTargetRow]]]) -> None:
        self.kpis = kpis

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        value, status, target, red = self._families()
        rows, targets = self.kpis()
        for kpi, product, region, measured, level in rows:
            value.add_metric([kpi, product, region], measured)
            status.add_metric([kpi, product, region], level)
        for kpi, goal, line in targets:
            target.add_metric([kpi], goal)
            red.add_metric([kpi], line)
        return [value, status, target, red]

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        scope = ["kpi", "product", "region"]
        return [
            GaugeMetricFamily(
                f"{NAMESPACE}_kpi",
                "Service KPI over the last 24 hours, overall (product and region all), per "
                "product or per region.",
                labels=scope,
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_kpi_status",
                "A KPI against its target: 0 green (met), 1 amber (missed, not past the red "
                "line), 2 red.",
                labels=scope,
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_kpi_target", "The KPI's target (configuration).", labels=["kpi"]
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_kpi_red",
                "The KPI's red line, on the worse side of its target (configuration).",
                labels=["kpi"],
            ),
        ]


def catalogue() -> tuple[CollectorRegistry, Metrics]:
    """A registry with everything a worker exposes — its :class:`Metrics` (returned too)
    and every collector of :func:`register_collectors`, with this process standing in for
    an analysis process and one input topic for the lag — against which docs/metrics.md,
    the dashboards and the Prometheus rules are checked."""
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    register_collectors(
        registry,
        analysis_pids=lambda: [os.getpid()],
        consumer_lag=lambda: {"vocwatch.complaints": 0},
        stalled_seconds=lambda: 0.0,
        kpis=lambda: (
            [
                ("first_contact_resolution", "all", "all", 0.8, 0),
                ("first_contact_resolution", "other", "all", 0.75, 1),
                ("first_contact_resolution", "all", "other", 0.6, 2),
            ],
            [("first_contact_resolution", 0.8, 0.7)],
        ),
        overload=lambda: (False, 0.0, 0.0),
    )
    return registry, metrics
