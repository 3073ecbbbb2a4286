"""The Faust application: one agent per input topic, a re-evaluation timer, and the HTTP
endpoints ``/metrics`` (Prometheus) and ``/health``.

Agents take batches with ``noack_take`` and acknowledge them themselves, once
:class:`streams.pipeline.Pipeline` (which never raises) has finished them; the next batch
is counted and the one after analysed meanwhile (streams/overlap.py). Agent concurrency
stays 1 and batches finish in order, so offsets are never committed past an unfinished
batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import faust
import redis.asyncio as aioredis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from alerts.config import Alerting, alerting_from, load_alerting
from alerts.delivery import Dispatcher
from alerts.emerging_monitor import EmergingConfig, EmergingMonitor
from alerts.emerging_store import RedisEmergingStore
from alerts.engine import AlertEngine
from alerts.kpis import ALL, RedisKpis, board
from alerts.rules import Rule
from alerts.series import RedisSeries
from alerts.sinkconfig import SinkSpec, build_dispatcher
from alerts.sinks import AlertSink, JsonLinesSink, LogSink, TopicSink
from alerts.store import RedisAlertStore, RedisBaselineStore
from alerts.windows import RedisWindowStore
from classifiers.polarity import PolarityPolicy
from classifiers.priority import PriorityPolicy
from streams.analysis import (
    InlineRunner,
    Runner,
    build_analyzer,
    models_in_use,
    phrases_if_readable,
)
from streams.analysis_process import ProcessRunner
from streams.api import AlertApi
from streams.console import install_console
from streams.consumer import Transport
from streams.corrections_store import RedisCorrections
from streams.customers import CustomerStage
from streams.liveness import StallWatch
from streams.loop_lag import watch_loop_lag
from streams.overlap import overlapped
from streams.overload import Load, OverloadMeter
from streams.pipeline import AnalysedBatch, CountedBatch, Outgoing, Pipeline
from streams.progress import ConsumerProgress
from streams.records import RawMessage
from vocwatch import redis_keys
from vocwatch.loops import running_loop_name
from vocwatch.metrics import KpiRow, KpiTargetRow, Metrics, register_collectors
from vocwatch.settings import Settings
from vocwatch.vocabulary import CorrectionKind

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 5.0  # a stopping agent's wait for the batch it is completing


@dataclass
class Service:
    """The app and the parts tests and the CLI need to reach."""

    app: faust.App
    pipeline: Pipeline
    engine: AlertEngine
    redis: Any
    registry: CollectorRegistry
    metrics: Metrics
    stall_watch: StallWatch
    delivery: AlertDelivery
    emerging: EmergingMonitor | None = None  # VOCWATCH_EMERGING
    api: AlertApi | None = None  # set once the HTTP pages are added
    models: str = ""  # the text models in use, as scored records name them


class FaustPublisher:
    """:class:`streams.pipeline.Publisher` over the app's producer. Records go straight to
    the producer: Faust's ``Topic.send`` path of channels, futures and sensors was more than
    half of the time spent sending (9.8 % → 3.9 % of a busy worker's samples without it),
    for nothing the pipeline uses."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        # Handed to the Kafka client's buffer now; the returned delivery future is awaited
        # by the pipeline before the batch is acknowledged.
        return await self.app.producer.send(
            topic, key, value, partition=None, timestamp=None, headers=None
        )


class AlertDelivery:
    """The routed sinks of a worker (chat robots, Alertmanager, webhook, stream). Their
    HTTP session and queues live in the worker's event loop, so they start with the app;
    alerts routed before that are held and handed over at start."""

    def __init__(
        self,
        specs: Mapping[str, SinkSpec],
        env: Mapping[str, str],
        redis: Any,
        metrics: Metrics,
        clock: Callable[[], float],
    ) -> None:
        self.specs, self.env, self.redis, self.metrics, self.clock = (
            specs,
            env,
            redis,
            metrics,
            clock,
        )
        self.dispatcher: Dispatcher | None = None
        self._session: aiohttp.ClientSession | None = None
        self._early: list[tuple[dict[str, Any], Sequence[str]]] = []

    def notify(self, record: dict[str, Any], sinks: Sequence[str]) -> None:
        if self.dispatcher is None:
            self._early.append((record, sinks))
        else:
            self.dispatcher.dispatch(record, sinks)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self.dispatcher = build_dispatcher(
            self.specs, self.env, self._session, self.redis, self.metrics, self.clock
        )
        await self.dispatcher.start()
        for record, sinks in self._early:
            self.dispatcher.dispatch(record, sinks)
        self._early.clear()

    async def stop(self, timeout: float = 10.0) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop(timeout)
        if self._session is not None:
            await self._session.close()


def create_service(
    settings: Settings,
    *,
    registry: CollectorRegistry | None = None,
    rules: tuple[Rule, ...] | None = None,
    alerting: Alerting | None = None,
    clock: Callable[[], float] = time.time,
) -> Service:
    alerting = alerting if alerting is not None else load_alerting(settings.rules_file)
    if rules is not None:
        alerting = alerting_from(dataclasses.replace(alerting.config, rules=rules))
    rules = alerting.rules
    registry = registry if registry is not None else CollectorRegistry()
    metrics = Metrics.create(registry)
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_session_timeout=10.0,
        broker_rebalance_timeout=10.0,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_transport="tcp://",
        autodiscover=False,
    )
    # Faust's Kafka transport with a lighter message loop, a shorter fetch wait and fewer,
    # fuller fetches (streams/consumer.py); set before anything (the agents' topics) makes
    # the default one.
    app.transport = Transport(
        app.conf.broker_consumer,
        app,
        fetch_wait_seconds=settings.fetch_wait_seconds,
        fetch_min_bytes=settings.fetch_min_bytes,
    )
    redis = redis_client(settings.redis_url, cluster=settings.redis_cluster)
    prefix = settings.app_id
    windows = RedisWindowStore(
        redis,
        prefix=prefix,
        bucket_seconds=settings.bucket_seconds,
        spans=[r.window_seconds for r in rules],
    )
    publisher = FaustPublisher(app)
    # Alert records go to the alerts topic the way scored records do: re-sent until
    # Kafka confirms them (the pipeline is built below; the sink is used only after).
    sinks: list[AlertSink] = [
        LogSink(),
        TopicSink(
            lambda key, value: pipeline.publish([Outgoing(settings.alerts_topic, key, value)])
        ),
    ]
    if settings.alerts_out is not None:
        sinks.append(JsonLinesSink(settings.alerts_out))
    delivery = AlertDelivery(alerting.sinks, settings.sink_env, redis, metrics, clock)
    engine = AlertEngine(
        rules,
        windows,
        RedisAlertStore(redis, prefix=prefix),
        sinks,
        metrics,
        update_seconds=settings.alert_update_seconds,
        baselines=RedisBaselineStore(redis, prefix=prefix),
        router=alerting.router,
        notify=delivery.notify,
        chat_sinks=alerting.chat_sinks,
        refresh_sinks=alerting.refresh_sinks,
        baseline_step_seconds=settings.baseline_step_seconds,
        live_channel=redis_keys.live_channel(prefix),
    )
    series = RedisSeries(redis, prefix=prefix)
    emerging = _emerging_monitor(settings, redis, engine, metrics)
    kpis = RedisKpis(redis, prefix=prefix)
    customers = _customer_stage(settings, alerting, redis, engine, metrics, kpis)
    models = models_in_use(settings)  # a folder of models it cannot read stops it here
    metrics.models_info.labels(models).set(1)
    pipeline = Pipeline(
        settings=settings,
        runner=analysis_runner(settings, clock),
        rules=rules,
        windows=windows,
        engine=engine,
        publisher=publisher,
        metrics=metrics,
        clock=clock,
        series=series,
        emerging=emerging,
        customers=customers,
    )
    # Counters with labels appear only once used: start the ones dashboards and alerting
    # rules read at 0, so "no errors" is a 0 rather than no data.
    for topic in (settings.scored_topic, settings.deadletter_topic, settings.alerts_topic):
        metrics.publish_errors.labels(topic)
    for sink in sinks:
        for outcome in ("sent", "failed"):
            metrics.sink_deliveries.labels(sink.name, outcome)
    for kind in CorrectionKind:
        metrics.corrections.labels(kind)
    service = Service(
        app,
        pipeline,
        engine,
        redis,
        registry,
        metrics,
        StallWatch(settings.stall_seconds),
        delivery,
        emerging,
        models=models,
    )
    app.task(delivery.start)

    async def loop_lag() -> None:
        await watch_loop_lag(metrics.loop_lag_seconds.observe)

    app.task(loop_lag)
    runner = pipeline.runner
    if isinstance(runner, ProcessRunner):
        app.task(runner.warm_up)

    @app.on_before_shutdown.connect
    async def stop_delivery(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await delivery.stop()
        runner.close()

    _add_agents(service, settings)
    _add_timer(service, settings, clock)
    _add_emerging_timer(service, settings, clock)
    report = KpiReport(kpis, alerting, clock)
    service.app.timer(settings.evaluation_seconds)(report.refresh)
    meter = _add_progress(service, settings, report)
    service.api = _add_pages(service, settings, clock, report, meter)
    return service


def _emerging_monitor(
    settings: Settings, redis: Any, engine: AlertEngine, metrics: Metrics
) -> EmergingMonitor | None:
    """The emerging-topic detection (``VOCWATCH_EMERGING``), its state shared in Redis;
    a report lives a few evaluation steps."""
    if not settings.emerging:
        return None
    config = EmergingConfig.from_settings(settings)
    store = RedisEmergingStore(
        redis, prefix=settings.app_id, ttl_seconds=3 * settings.evaluation_seconds + 5
    )
    return EmergingMonitor(config, store, metrics, engine=engine)


def _customer_stage(
    settings: Settings,
    alerting: Alerting,
    redis: Any,
    engine: AlertEngine,
    metrics: Metrics,
    kpis: RedisKpis,
) -> CustomerStage | None:
    """The customer stage, when the alert configuration has a ``customers:`` section; it
    follows the customer alerts of the engine too."""
    policy = alerting.customers
    if policy is None:
        return None
    return CustomerStage.following(settings, policy, redis, engine, metrics, kpis)


class KpiReport:
    """The KPI board (指标) against the configured targets: read from Redis for the API,
    and kept from the last timer refresh for ``/metrics``."""

    def __init__(self, kpis: RedisKpis, alerting: Alerting, clock: Callable[[], float]) -> None:
        self.kpis = kpis
        self.targets = alerting.kpis
        self.clock = clock
        self.rows: list[KpiRow] = []

    async def board(self) -> list[dict[str, Any]]:
        if not self.targets:
            return []
        return board(await self.kpis.read(self.clock()), self.targets)

    async def refresh(self) -> None:
        try:
            rows = await self.board()
        except (RedisError, OSError) as exc:
            log.warning("KPI board not refreshed (%s)", exc)
            return
        self.rows = [
            (row["kpi"], *_product_region(row["scope"]), row["value"], row["status"].level)
            for row in rows
            if row["value"] is not None
        ]

    def metrics(self) -> tuple[list[KpiRow], list[KpiTargetRow]]:
        return self.rows, [(t.kpi, t.target, t.red) for t in self.targets.values()]


def _product_region(scope: str) -> tuple[str, str]:
    """The product and region labels of a KPI scope (``all`` where it is not broken down)."""
    dimension, _, value = scope.partition("=")
    return (value if dimension == "product" else ALL, value if dimension == "region" else ALL)


def faust_worker(app: faust.App, loglevel: str) -> faust.Worker:
    """A Faust worker without its terminal spinner. With a level of WARNING or above,
    Faust's spinner sets the root logger to DEBUG so that every message spins it: every
    ``log.debug`` of Faust and its Kafka client then builds a record (one per record sent),
    about 4 % of a busy worker's time for nothing shown."""
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.spinner = None
    return worker


def analysis_runner(settings: Settings, clock: Callable[[], float]) -> Runner:
    """Text analysis in a second process (``VOCWATCH_ANALYSIS_PROCESSES=1``) or in the
    worker. The policy files and the folder of models are read here either way, so a bad
    one stops the worker at start-up, not at its first batch."""
    PriorityPolicy.load(settings.priority_file)
    PolarityPolicy.load(settings.polarity_file)
    if settings.analysis_processes:
        return ProcessRunner(settings, clock)
    return InlineRunner(
        build_analyzer(settings),
        max_bytes=settings.max_message_bytes,
        clock=clock,
        phrases=phrases_if_readable(settings),
    )


def redis_client(url: str, *, cluster: bool = False) -> Any:
    """The Redis client the service uses: of one server, or with ``cluster`` of a Redis
    Cluster that ``url`` names a node of (:mod:`streams.redis_cluster`). redis-py's own
    silent retries are off: the pipeline retries with back-off itself, and logs and counts
    every failure; a cluster client still follows MOVED and ASK redirections."""
    options: dict[str, Any] = {
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
        "health_check_interval": 30,
        "retry": Retry(NoBackoff(), 0),
    }
    if not cluster:
        return aioredis.from_url(url, **options)
    from streams.redis_cluster import ClusterClient

    return ClusterClient.from_url(url, **options)


def redis_client_for(settings: Settings) -> Any:
    """The Redis client for ``settings`` (``VOCWATCH_REDIS_URL``, ``VOCWATCH_REDIS_CLUSTER``),
    for every tool that reads what the service keeps in Redis. Close it with ``aclose()``."""
    return redis_client(settings.redis_url, cluster=settings.redis_cluster)


def _add_agents(service: Service, settings: Settings) -> None:
    for source, topic_name in settings.input_topics.items():
        topic = service.app.topic(topic_name, key_serializer="raw", value_serializer="raw")
        service.app.agent(topic, name=f"vocwatch.{source}", concurrency=1)(
            _consumer(service.pipeline, source, settings)
        )


def _consumer(
    pipeline: Pipeline, source: str, settings: Settings
) -> Callable[[Any], Awaitable[None]]:
    async def consume(stream: Any) -> None:
        async def analyse(events: Sequence[Any]) -> AnalysedBatch:
            return await pipeline.analyse(
                source,
                [
                    RawMessage(
                        e.value,
                        e.message.topic,
                        e.message.partition,
                        e.message.offset,
                        e.message.timestamp,
                    )
                    for e in events
                ],
            )

        async def finish(batch: CountedBatch, events: Sequence[Any]) -> None:
            await pipeline.finish(batch)
            for event in events:
                await stream.ack(event)

        await overlapped(
            stream.noack_take(settings.batch_size, within=settings.batch_seconds),
            analyse,
            pipeline.count,
            finish,
            grace_seconds=STOP_GRACE_SECONDS,
        )

    consume.__name__ = consume.__qualname__ = f"consume_{source}"
    return consume


def _add_timer(service: Service, settings: Settings, clock: Callable[[], float]) -> None:
    async def reevaluate_alerts() -> None:
        started = time.perf_counter()
        try:
            await service.engine.tick(clock())
        except (RedisError, OSError) as exc:
            service.metrics.redis_errors.inc()
            log.warning(
                "alert re-evaluation failed (%s); next try in %.0f s",
                exc,
                settings.evaluation_seconds,
            )
        else:
            service.metrics.alert_step_seconds.observe(time.perf_counter() - started)

    service.app.timer(settings.evaluation_seconds)(reevaluate_alerts)


def _add_emerging_timer(service: Service, settings: Settings, clock: Callable[[], float]) -> None:
    """Every ``evaluation_seconds``: this worker's emerging-topic step (its report, and the
    decision when it takes the step)."""
    monitor = service.emerging
    if monitor is None:
        return

    async def emerging_step() -> None:
        try:
            await monitor.step(clock())
        except (RedisError, OSError) as exc:
            service.metrics.redis_errors.inc()
            log.warning(
                "emerging-topic step failed (%s); next try in %.0f s",
                exc,
                settings.evaluation_seconds,
            )
        except Exception:  # a bug here must not stop the timer, nor the worker
            service.metrics.emerging_errors.labels("step").inc()
            log.exception("emerging-topic step failed")

    service.app.timer(settings.evaluation_seconds)(emerging_step)


def _add_progress(service: Service, settings: Settings, report: KpiReport) -> OverloadMeter:
    """Consumer lag, stall time and overload as scrape-time metrics; the broker's end
    offsets refreshed, the stall watchdog run and the load observed, every
    ``evaluation_seconds``."""
    progress = ConsumerProgress(
        service.app,
        service.pipeline.next_offsets,
        set(settings.input_topics.values()),
        service.stall_watch,
    )
    runner = service.pipeline.runner
    meter = OverloadMeter(settings.overload_seconds)
    emerging = service.emerging
    register_collectors(
        service.registry,
        analysis_pids=runner.pids,
        consumer_lag=progress.lag,
        stalled_seconds=progress.stalled_seconds,
        emerging_clusters=None if emerging is None else lambda: len(emerging.clusters.clusters),
        kpis=report.metrics,
        overload=lambda: _overload_row(meter.last),
    )
    service.app.timer(settings.evaluation_seconds)(progress.refresh)

    async def watch_load() -> None:
        """Say so when the worker falls behind (streams/overload.py). It only measures:
        the agents go on as they are, counting every event once and alerting as they go."""
        now = time.monotonic()
        meter.observe(now, service.pipeline.processed, sum(progress.lag().values()))
        line = meter.report(now)
        if line is not None:
            log.log(logging.WARNING if meter.last.overloaded else logging.INFO, line)

    service.app.timer(settings.evaluation_seconds)(watch_load)
    return meter


def _overload_row(load: Load) -> tuple[bool, float, float]:
    return load.overloaded, load.backlog_seconds, load.catch_up_seconds


def _add_pages(
    service: Service,
    settings: Settings,
    clock: Callable[[], float],
    report: KpiReport,
    meter: OverloadMeter,
) -> AlertApi:
    app, registry = service.app, service.registry
    sources = list(settings.input_topics)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health() -> tuple[dict[str, Any], bool]:
        try:
            redis_ok = bool(await service.redis.ping())
        except (RedisError, OSError):
            redis_ok = False
        now = clock()
        last = service.pipeline.last_batch_at
        stalled = service.stall_watch.stalled_for(time.monotonic())
        healthy = redis_ok and stalled == 0
        return {
            "status": "ok" if healthy else "degraded",
            "event_loop": running_loop_name(asyncio.get_running_loop()),
            "stalled_seconds": round(stalled, 1),
            "overloaded": meter.last.overloaded,
            "catch_up_seconds": _seconds(meter.last.catch_up_seconds),
            "redis": redis_ok,
            "api": api.mode,
            "models": service.models,
            "last_batch_age_seconds": {
                s: round(now - last[s], 3) if s in last else None for s in sources
            },
        }, healthy

    @app.page("/health")
    async def health_page(web: Any, request: Any) -> Any:
        body, healthy = await health()
        return web.json(body, status=200 if healthy else 503)

    api = AlertApi(
        service.engine,
        clock=clock,
        token=settings.api_token,
        writable=settings.web_loopback,
        max_body_bytes=settings.api_max_body_bytes,
        health=health,
        series=service.pipeline.series,
        emerging=service.emerging,
        kpis=report.board,
        corrections=RedisCorrections(service.redis, prefix=settings.app_id),
        metrics=service.metrics,
    )
    if not api.writable:
        log.warning(
            "the HTTP API is read-only: this worker listens on %s without VOCWATCH_API_TOKEN, "
            "so acknowledging and silencing alerts and corrections are refused; set a token to "
            "allow them",
            settings.web_host,
        )

    def on_webserver_init(web: Any) -> None:
        api.install(web.web_app.router)
        install_console(web.web_app)

    app.on_webserver_init = on_webserver_init  # type: ignore[method-assign]  # Faust's hook
    return api


def _seconds(value: float) -> float | None:
    """Seconds for a JSON body: None for infinity (JSON has no such number)."""
    return round(value, 1) if math.isfinite(value) else None
