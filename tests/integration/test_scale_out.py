"""Two workers in one consumer group share a partitioned backlog: both do part of the
work, and every valid event is counted exactly once in the shared Redis windows. (How
much faster two are is a benchmark, vocwatch/bench/two_workers.py, not a test.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams.topics import ensure_topics
from tests.support import events_received, valid_event_ids, worker_env
from vocwatch.bench.harness import counted_events
from vocwatch.dev import embedded
from vocwatch.dev.demo import DemoTraffic
from vocwatch.settings import Settings

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
def test_two_workers_split_the_partitions_and_count_each_event_once(
    broker_server: embedded.ChildServer, redis_server: embedded.ChildServer, tmp_path: Path
) -> None:
    env = worker_env(
        broker_server, redis_server, tmp_path, None, name="scale", VOCWATCH_LOG_LEVEL="warning"
    )
    settings = Settings.from_env(env)
    ensure_topics(settings)
    assert settings.partitions > 1
    ports = [embedded.free_port() for _ in range(2)]
    workers = [
        embedded.start_worker({**env, "VOCWATCH_WEB_PORT": str(port)}, tmp_path / f"worker{i}.log")
        for i, port in enumerate(ports)
    ]
    try:
        # Traffic in chunks until both have received some: the second worker to join the
        # group gets partitions only from the rebalance its joining starts.
        producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
        traffic, messages = DemoTraffic(seed=51), []
        deadline = time.monotonic() + 90
        while not all(events_received(p) > 0 for p in ports) or len(messages) < 4000:
            assert time.monotonic() < deadline, f"one worker got nothing: {ports}"
            chunk = [traffic.background(time.time()) for _ in range(200)]
            for source, key, value in chunk:
                producer.send(settings.input_topics[source], key=key, value=value)
            producer.flush()
            messages += chunk
            time.sleep(0.25)
        producer.close()
        valid = len(valid_event_ids(messages))
        embedded.wait_until(
            lambda: sum(events_received(p) for p in ports) >= len(messages),
            timeout=120,
            what="the two workers to receive the backlog",
        )
        time.sleep(2)  # anything redelivered after a rebalance lands
        shares = [events_received(p) for p in ports]
        assert all(share > 0 for share in shares), f"one worker did all the work: {shares}"
        assert counted_events(settings, span=900) == valid
        assert all(w.poll() is None for w in workers)
    finally:
        for worker in workers:
            embedded.stop_process(worker)
