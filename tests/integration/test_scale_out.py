"""Two workers in one consumer group share a partitioned backlog: both do part of the
work, and every valid event is counted exactly once in the shared Redis windows. (How
much faster two are is a benchmark, vocwatch/bench/two_workers.py, not a test.)"""

from __future__ import annotations

import time

import pytest

from streams.topics import ensure_topics
from tests.support import counted_events, valid_event_ids
from tests.workers import WorkerFactory
from vocwatch.dev import embedded
from vocwatch.dev.demo import DemoTraffic

pytestmark = pytest.mark.integration
RECEIVED = "vocwatch_events_received_total"


@pytest.mark.timeout(180)
def test_two_workers_split_the_partitions_and_count_each_event_once(
    worker_factory: WorkerFactory,
) -> None:
    first = worker_factory(name="scale", start=False, VOCWATCH_LOG_LEVEL="warning")
    settings = first.settings
    ensure_topics(settings)
    assert settings.partitions > 1
    workers = [first, worker_factory.join(first, start=False)]
    for worker in workers:
        worker.start(wait=False)
    for worker in workers:
        worker.wait_until(worker.healthy, timeout=90, what=f"{worker} /health")
    # Traffic in chunks until both have received some: the second worker to join the
    # group gets partitions only from the rebalance its joining starts.
    traffic = DemoTraffic(seed=51)
    messages: list[tuple[str, bytes, bytes]] = []
    deadline = time.monotonic() + 90
    while not all(w.metric(RECEIVED) > 0 for w in workers) or len(messages) < 4000:
        assert time.monotonic() < deadline, f"one worker got nothing: {workers}"
        chunk = [traffic.background(time.time()) for _ in range(200)]
        for source, key, value in chunk:
            first.send(source, value, key=key)
        first.flush()
        messages += chunk
        time.sleep(0.25)
    valid = len(valid_event_ids(messages))
    embedded.wait_until(
        lambda: sum(w.metric(RECEIVED) for w in workers) >= len(messages),
        timeout=120,
        what="the two workers to receive the backlog",
    )
    time.sleep(2)  # anything redelivered after a rebalance lands
    shares = [w.metric(RECEIVED) for w in workers]
    assert all(share > 0 for share in shares), f"one worker did all the work: {shares}"
    assert counted_events(settings, span=900) == valid
    assert all(w.running for w in workers)
