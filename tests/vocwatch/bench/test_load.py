"""The benchmarks' load generator (vocwatch/bench/load.py) against the real broker: every
message arrives, in order per key; a broker that takes nothing is an error, not a silence."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer

from vocwatch.bench.load import LoadProducer
from vocwatch.dev import embedded
from vocwatch.errors import StackError


@pytest.mark.integration
def test_every_message_sent_is_in_the_topic(broker_server: embedded.ChildServer) -> None:
    bootstrap = f"{broker_server.host}:{broker_server.port}"
    topic = f"load-{uuid.uuid4().hex[:8]}"
    producer = LoadProducer([bootstrap])
    sent = [(f"k{i % 7}".encode(), f"message {i}".encode()) for i in range(3000)]
    for key, value in sent:
        producer.send(topic, key=key, value=value)
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    try:
        received = [(m.key, m.value) for m in consumer]
    finally:
        consumer.close()
    assert sorted(received) == sorted(sent)
    for key in {k for k, _ in sent}:  # one key, one partition: its order is kept
        assert [v for k, v in received if k == key] == [v for k, v in sent if k == key]


@pytest.mark.timeout(30)
def test_messages_the_broker_never_takes_are_an_error() -> None:
    producer = LoadProducer([f"127.0.0.1:{embedded.free_port()}"])  # nothing listens there
    producer.send("nowhere", key=None, value=b"lost?")
    with pytest.raises(StackError, match=r"did not take 1 benchmark messages \(1 still waiting"):
        producer.flush(timeout=1.0)
