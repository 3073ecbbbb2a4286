"""Faults against the real broker and Redis: nothing lost, nothing counted twice.

A worker killed with SIGKILL mid-stream loses its uncommitted progress; the restarted
worker re-reads from the last committed offset, and the windows' per-key id sets make
the redelivered events change nothing. Redis restarting mid-stream makes the worker wait
and retry, not crash or skip.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from kafka import KafkaProducer

from streams.liveness import STALLED_EXIT_CODE
from streams.topics import ensure_topics
from tests.support import ACCOUNTED, Server, counted_events, eventually, metric_value
from tests.workers import LiveWorker, WorkerFactory
from vocwatch.dev import embedded
from vocwatch.dev.demo import DemoTraffic
from vocwatch.settings import Settings

pytestmark = pytest.mark.integration
RECEIVED = "vocwatch_events_received_total"


def fault_worker(factory: WorkerFactory, redis: Server | None = None) -> LiveWorker:
    """A quiet worker (not started yet) that retries Redis each second, with the service's
    own evaluation and bucket sizes rather than the fast ones of the other tests."""
    return factory(
        name="fault",
        redis=redis,
        start=False,
        VOCWATCH_LOG_LEVEL="warning",
        VOCWATCH_RETRY_MAX_SECONDS="1",
        VOCWATCH_EVALUATION_SECONDS=None,
        VOCWATCH_BUCKET_SECONDS=None,
    )


def counted(settings: Settings) -> int:
    return counted_events(settings, span=900)


def accounted(worker: LiveWorker) -> float:
    """Messages the worker has dealt with, by its /metrics."""
    text = worker.metrics_text()
    return sum(metric_value(text, name) for name in ACCOUNTED)


def produce(settings: Settings, count: int, seed: int) -> int:
    """Produce ``count`` demo messages; return how many are valid events (unique ids)."""
    return len(produce_ids(settings, count, seed))


def produce_ids(settings: Settings, count: int, seed: int) -> set[tuple[str, str]]:
    """Produce ``count`` demo messages; return the (source, id) of the valid events."""
    from tests.support import valid_event_ids

    return valid_event_ids(send_demo(settings, count, seed)[0])


def send_demo(
    settings: Settings, count: int, seed: int
) -> tuple[list[tuple[str, bytes, bytes]], list[Any]]:
    """Produce ``count`` demo messages, confirmed by the broker; return them and their
    record metadata (topic, partition, offset)."""
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    traffic = DemoTraffic(seed=seed)
    messages = [traffic.background(time.time()) for _ in range(count)]
    futures = [
        producer.send(settings.input_topics[source], key=key, value=value)
        for source, key, value in messages
    ]
    producer.flush()
    producer.close()
    return messages, [future.get() for future in futures]


INCIDENT_KEY = {"channel": "store", "category": "logistics"}


def an_incident_alerts(settings: Settings) -> None:
    """Promise 3: after the fault, an incident that should alert does alert. 40 negative
    logistics complaints in a shop; a firing record for that key, emitted after they were
    sent, must reach the alerts topic (an update of an alert already firing counts)."""
    from datetime import datetime

    from tests.support import read_topic, values

    started = time.time()
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    tag = uuid.uuid4().hex[:8]
    for i in range(40):
        event = {
            "id": f"incident-{tag}-{i}",
            "customer_id": "u1",
            "channel": "store",
            "text": "快递丢件了，包裹一直没收到，物流太慢了",
            "created_at": time.time(),
        }
        producer.send(settings.complaints_topic, json.dumps(event, ensure_ascii=False).encode())
    producer.flush()
    producer.close()

    def alerted(record: dict[str, Any]) -> bool:
        return (
            record["key"] == INCIDENT_KEY
            and record["status"] == "firing"
            and datetime.fromisoformat(record["updated_at"]).timestamp() >= started - 1
        )

    records = read_topic(
        settings.bootstrap_servers,
        settings.alerts_topic,
        timeout=60,
        until=lambda rs: any(alerted(r) for r in values(rs)),
    )
    assert any(alerted(r) for r in values(records)), "the incident after the fault must alert"


def test_a_worker_killed_mid_stream_and_restarted_counts_each_event_once(
    worker_factory: WorkerFactory,
) -> None:
    worker = fault_worker(worker_factory)
    settings = worker.settings
    ensure_topics(settings)
    valid = produce(settings, 6000, seed=21)
    worker.start(wait=False)
    worker.wait_until(
        lambda: accounted(worker) >= 1500, timeout=90, what="the first worker to be mid-stream"
    )
    worker.stop(signal.SIGKILL)  # no shutdown, no final commit
    assert counted(settings) < valid, "the kill must land mid-stream for this test to mean much"

    worker.start(wait=False)  # the same settings and log
    worker.wait_until(
        lambda: counted(settings) >= valid, timeout=120, what="the restarted worker to catch up"
    )
    time.sleep(2)  # let any redelivered batch land
    assert counted(settings) == valid
    assert worker.running, worker.log_tail(2000)
    an_incident_alerts(settings)


def produce_with_offsets(settings: Settings, count: int, seed: int) -> dict[Any, int]:
    """Produce ``count`` demo messages; return the offset after the last one written to each
    partition, as the broker acknowledged them."""
    from kafka import TopicPartition

    ends: dict[Any, int] = {}
    for meta in send_demo(settings, count, seed)[1]:
        tp = TopicPartition(meta.topic, meta.partition)
        ends[tp] = max(ends.get(tp, 0), meta.offset + 1)
    return ends


def committed_offsets(settings: Settings, partitions: list[Any]) -> dict[Any, int | None]:
    """The worker's consumer group's committed offset of each partition."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.app_id,
        enable_auto_commit=False,
    )
    try:
        return {tp: consumer.committed(tp) for tp in partitions}
    finally:
        consumer.close()


def test_a_stopped_worker_commits_every_offset_and_its_restart_replays_nothing(
    worker_factory: WorkerFactory,
) -> None:
    """Batches are acknowledged by the agents themselves, after they complete (the next
    batch is analysed meanwhile): the consumer group's offsets must still reach the end,
    or every restart would re-read everything (which the windows would hide)."""
    worker = fault_worker(worker_factory)
    settings = worker.settings
    ensure_topics(settings)
    produced = 3000
    ends = produce_with_offsets(settings, produced, seed=25)
    worker.start(wait=False)
    worker.wait_until(
        lambda: accounted(worker) >= produced,
        timeout=90,
        what="the worker to process the messages",
    )
    worker.stop()  # graceful: final commit
    assert len(ends) == len(settings.input_topics) * settings.partitions
    assert sum(ends.values()) == produced
    assert committed_offsets(settings, list(ends)) == ends

    worker.start(wait=False)
    more = 30
    worker.wait_until(
        lambda: worker.metric(RECEIVED) >= 0,
        timeout=60,
        what="the restarted worker to serve /metrics",
    )
    produce(settings, more, seed=26)
    worker.wait_until(
        lambda: worker.metric(RECEIVED) >= more,
        timeout=60,
        what="the restarted worker to consume",
    )
    time.sleep(2)  # anything replayed would arrive by now
    assert worker.metric(RECEIVED) == more  # only the new messages, nothing replayed


def test_redis_restart_mid_stream_is_waited_out_and_nothing_is_lost(
    worker_factory: WorkerFactory,
) -> None:
    redis = embedded.redis_server()  # a Redis of its own, to restart
    worker = fault_worker(worker_factory, redis)
    settings = worker.settings
    ensure_topics(settings)
    redis.start()
    try:
        worker.start(wait=False)
        first = produce(settings, 1500, seed=31)
        worker.wait_until(
            lambda: counted(settings) >= first, timeout=90, what="the first part to be counted"
        )
        redis.stop()  # everything in it is gone (no persistence)
        second = produce(settings, 1500, seed=32)
        time.sleep(3)
        assert worker.running, "the worker must wait for Redis, not crash"
        with pytest.raises(urllib.error.HTTPError) as health:
            urllib.request.urlopen(f"{worker.base_url}/health", timeout=10)  # noqa: S310 (loopback)
        assert health.value.code == 503
        redis.start()
        worker.wait_until(
            lambda: counted(settings) >= second,
            timeout=90,
            what="the second part to be counted after Redis is back",
        )
        assert counted(settings) == second  # the stated bound: windows restart empty
        assert accounted(worker) >= first + second
        an_incident_alerts(settings)
    finally:
        worker.stop()  # before its Redis
        redis.stop()


@pytest.mark.timeout(200)
def test_a_broker_outage_is_survived_without_a_manual_restart(
    worker_factory: WorkerFactory,
) -> None:
    """Tansu keeps data in memory, so a real restart would lose the topics themselves; the
    outage is a frozen broker (SIGSTOP) for longer than the consumer session timeout."""
    with embedded.broker() as kafka, embedded.redis_server() as redis:
        worker = worker_factory(
            name="outage",
            broker=kafka,
            redis=redis,
            start=False,
            VOCWATCH_STALL_SECONDS="20",
            VOCWATCH_EVALUATION_SECONDS="2",
            VOCWATCH_BUCKET_SECONDS=None,
            VOCWATCH_LOG_LEVEL="warning",
        )
        settings = worker.settings
        ensure_topics(settings)
        worker.start(wait=False)
        try:
            first_ids = produce_ids(settings, 800, seed=41)
            first = len(first_ids)
            worker.wait_until(
                lambda: counted(settings) >= first, timeout=90, what="the first part to be counted"
            )
            kafka.kill(signal.SIGSTOP)
            time.sleep(15)  # past the 10 s session timeout
            kafka.kill(signal.SIGCONT)
            second_ids = produce_ids(settings, 800, seed=42)
            second = len(second_ids - first_ids)  # new events only

            def resumed() -> bool:
                if worker.returncode == STALLED_EXIT_CODE:  # what compose's restart: policy does
                    worker.start(wait=False)
                return counted(settings) >= first + second

            try:
                eventually(resumed, timeout=60, what="the worker to resume after the outage")
            except AssertionError as exc:
                raise AssertionError(f"counted {counted(settings)} of {first} + {second}") from exc
            assert counted(settings) == first + second
            an_incident_alerts(settings)
        finally:
            kafka.kill(signal.SIGCONT)
            worker.stop()  # before its broker and Redis
