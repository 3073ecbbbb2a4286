"""Helpers for tests that read what the worker publishes: its topics, its /metrics, its
Redis windows; and ``eventually``, the one way a test waits for a condition."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

if TYPE_CHECKING:
    from vocwatch.settings import Settings

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
# The counters that, summed, say how many input messages a worker has dealt with: each
# message ends in exactly one of them (received counts it on arrival, before the batch).
ACCOUNTED = (
    "vocwatch_events_valid_total",
    "vocwatch_events_duplicate_total",
    "vocwatch_events_late_total",
    "vocwatch_events_dead_lettered_total",
)
T = TypeVar("T")


class Server(Protocol):
    """Where a server listens: an embedded ChildServer, a RedisCluster (its first node)."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


def eventually(check: Callable[[], T], timeout: float = 30.0, what: str = "") -> T:
    """The first true answer of ``check``, asked every 0.2 s; AssertionError naming
    ``what`` if none comes within ``timeout`` seconds. Exceptions of ``check`` propagate."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)


def metric_samples(text_or_url: str, name: str, **labels: str) -> list[Sample]:
    """The samples called ``name`` whose labels include ``labels``, from a Prometheus text
    exposition or the URL that serves one. ``name`` is the sample's name as exposed
    (``vocwatch_events_valid_total``, ``…_seconds_count``): the parser strips ``_total``
    from a counter's family name, not from its samples."""
    text = text_or_url
    if text_or_url.startswith(("http://", "https://")):
        with urllib.request.urlopen(text_or_url, timeout=5) as reply:  # noqa: S310 (loopback)
            text = reply.read().decode()
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]


def metric_value(text_or_url: str, name: str, **labels: str) -> float:
    """The sum of the samples :func:`metric_samples` finds (0 when there are none)."""
    return sum(sample.value for sample in metric_samples(text_or_url, name, **labels))


class HttpReceiver:
    """A local HTTP server (127.0.0.1, free port, own thread) that answers 200 and keeps
    every POST as (path, JSON body). Use as a context manager; it stops on exit."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received: list[tuple[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode": 0, "code": 0}')

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class ListSink:
    """An alert sink that keeps what it is given."""

    name = "list"

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def deliver(self, record: dict[str, Any]) -> None:
        self.records.append(record)


def read_topic(
    bootstrap: list[str], topic: str, *, until: Callable[[list[Any]], bool], timeout: float = 30.0
) -> list[Any]:
    """Consume ``topic`` from the beginning (no group) until ``until(records)`` holds."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )
    try:
        deadline = time.monotonic() + timeout
        partitions = None
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                time.sleep(0.2)
        assert partitions, f"topic {topic} does not exist"
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        consumer.seek_to_beginning()
        records: list[Any] = []
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(batch)
            if until(records):
                return records
        return records
    finally:
        consumer.close()


def values(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]


def valid_event_count(messages: list[tuple[str, bytes, bytes]]) -> int:
    """How many distinct ids the messages that decode as valid events have."""
    return len(valid_event_ids(messages))


def valid_event_ids(messages: list[tuple[str, bytes, bytes]]) -> set[tuple[str, str]]:
    """(source, id) of the messages that decode as valid events."""
    from streams.events import decode
    from vocwatch.errors import InvalidEvent
    from vocwatch.settings import Settings

    ids = set()
    for source, _, value in messages:
        try:
            ids.add((source, decode(source, value, max_bytes=Settings().max_message_bytes).id))
        except InvalidEvent:
            continue
    return ids


def worker_env(
    broker: Server, redis: Server, tmp: Any, rules: str | None, *, name: str, **extra: str
) -> dict[str, str]:
    """The environment of a test worker: its own app id and topic prefix, a free web port,
    the rules given (None: the packaged ones), fast evaluation (1 s) and updates (2 s),
    5-second buckets; ``extra`` variables (``VOCWATCH_…``) on top. Outside VOCWATCH_
    variables are passed through."""
    import os
    import uuid

    from vocwatch.dev import embedded

    app_id = f"{name}{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VOCWATCH_")},
        "VOCWATCH_BROKER_URL": f"kafka://{broker.host}:{broker.port}",
        "VOCWATCH_REDIS_URL": f"redis://{redis.host}:{redis.port}/0",
        "VOCWATCH_APP_ID": app_id,
        "VOCWATCH_TOPIC_PREFIX": f"{app_id}.",
        "VOCWATCH_WEB_PORT": str(embedded.free_port()),
        "VOCWATCH_ALERT_UPDATE_SECONDS": "2",
        "VOCWATCH_EVALUATION_SECONDS": "1",
        "VOCWATCH_BUCKET_SECONDS": "5",
        "VOCWATCH_DATA_DIR": str(tmp / "data"),
    }
    if rules is not None:
        (tmp / "rules.yaml").write_text(rules, encoding="utf-8")
        env["VOCWATCH_RULES_FILE"] = str(tmp / "rules.yaml")
    return {**env, **extra}


def start_alertmanager(config: Any, workdir: Any) -> Any:
    """Debian's Alertmanager on a free loopback port with ``config`` (a path), clustering
    off, data under ``workdir``; started and ready. Stop it with ``.stop()``."""
    import urllib.request

    from vocwatch.dev import embedded

    port = embedded.free_port()

    def ready(host: str, port: int) -> bool:
        with urllib.request.urlopen(f"http://{host}:{port}/-/ready", timeout=2) as reply:
            return bool(reply.status == 200)

    server = embedded.ChildServer(
        "alertmanager",
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        "127.0.0.1",
        port,
        ready,
    )
    server.start(timeout=20)
    return server


def counted_events(settings: Settings, span: int = 900) -> int:
    """Valid events the Redis windows of the worker configured by ``settings`` hold over
    the last ``span`` seconds, all sources (each source keeps a window of its own)."""
    import asyncio

    from alerts.rules import window_key
    from alerts.windows import RedisWindowStore
    from streams.app import redis_client_for

    async def read() -> int:
        client = redis_client_for(settings)
        try:
            store = RedisWindowStore(
                client, prefix=settings.app_id, bucket_seconds=settings.bucket_seconds, spans=[span]
            )
            keys = [window_key({"source": s}) for s in settings.input_topics]
            states = await store.read(keys, time.time())
            return sum(s.totals[span].count for s in states.values())
        finally:
            await client.aclose()

    return asyncio.run(read())
