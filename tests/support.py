"""Helpers for tests that read what the worker publishes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


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

    def __enter__(self) -> HttpReceiver:
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
    broker: Any, redis: Any, tmp: Any, rules: str | None, *, name: str, **extra: str
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


def events_received(port: int) -> float:
    """Input messages a worker on ``port`` has received; -1 while its /metrics cannot be
    read (the worker is starting)."""
    from vocwatch.bench.harness import metric_total

    return metric_total(f"http://127.0.0.1:{port}", "vocwatch_events_received_total")
