"""A worker behind a backlog (过载): it says so (``vocwatch_overloaded``, the log line with
the backlog and the expected catch-up time, ``/health``), a burst already in its windows
still alerts while the backlog drains — through the re-evaluation timer, since the rule
waits ``for:`` a second — and every valid event is counted exactly once. How fast it
drains is the benchmark's business, not this test's: nothing here is timed."""

from __future__ import annotations

import time

import pytest

from streams.topics import ensure_topics
from tests.support import counted_events, metric_value, valid_event_ids
from tests.workers import WorkerFactory
from vocwatch.dev.demo import DemoTraffic

pytestmark = pytest.mark.integration

RULES = """
rules:
  - name: surge
    key: [region]
    where: {source: [complaint]}
    window: 1m
    measure: count
    threshold: 20
    min_count: 20
    for: 1s
    priority: P2
"""
ACCOUNTED = (
    "vocwatch_events_valid_total",
    "vocwatch_events_duplicate_total",
    "vocwatch_events_late_total",
    "vocwatch_events_dead_lettered_total",
)
BACKLOG = 20_000


@pytest.mark.timeout(240)
def test_an_overloaded_worker_says_so_alerts_while_draining_and_counts_once(
    worker_factory: WorkerFactory,
) -> None:
    worker = worker_factory(
        RULES,
        name="overload",
        start=False,
        VOCWATCH_LOG_LEVEL="info",
        VOCWATCH_EVALUATION_SECONDS="0.5",
        VOCWATCH_OVERLOAD_SECONDS="0.5",
    )
    ensure_topics(worker.settings)
    traffic = DemoTraffic(seed=16)
    now = time.time()
    # The surge first, then the backlog behind it, all waiting before the worker starts.
    burst = [traffic.incident(now, "app", region="surge-zone") for _ in range(25)]
    backlog = [traffic.background(now) for _ in range(BACKLOG)]
    messages = burst + backlog
    for source, key, value in messages:
        worker.send(source, value, key=key)
    worker.flush()
    valid = len(valid_event_ids(messages))

    worker.start(wait=False)
    fired_at: float | None = None  # messages accounted for when the alert was seen firing
    overloaded_seen = False
    deadline = time.monotonic() + 180
    while True:
        assert time.monotonic() < deadline, f"the backlog was not drained: {worker}"
        try:
            text = worker.metrics_text()
        except OSError:  # still starting
            time.sleep(0.2)
            continue
        accounted = sum(metric_value(text, name) for name in ACCOUNTED)
        overloaded_seen |= metric_value(text, "vocwatch_overloaded") == 1
        if fired_at is None and any(
            a["rule"] == "surge" and a["status"] == "firing" for a in worker.alerts()
        ):
            fired_at = accounted
        if accounted >= len(messages):
            break
        time.sleep(0.1)

    assert fired_at is not None, "the surge did not alert"
    assert fired_at < len(messages), "the surge alerted only once the backlog was drained"
    assert overloaded_seen, "the worker never said it was overloaded"
    log = worker.log.read_text(errors="replace")
    assert "overloaded:" in log and "messages waiting" in log and "expected to catch up" in log
    # Caught up: the gauge goes back to 0, the log says so once, counts are exact.
    worker.wait_until(
        lambda: worker.metric("vocwatch_overloaded") == 0 and not worker.health()["overloaded"],
        timeout=60,
        what="the worker to report it has caught up",
    )
    worker.wait_until(
        lambda: "caught up:" in worker.log.read_text(errors="replace"),
        timeout=30,
        what="the caught-up line",
    )
    assert counted_events(worker.settings, span=900) == valid
    assert worker.health()["event_loop"] in ("uvloop", "asyncio")
