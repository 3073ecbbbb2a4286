"""Helpers for tests that read what the worker publishes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


class ListSink:
    """An alert sink that keeps what it is given."""

    name = "list"

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def deliver(self, record: dict[str, Any]) -> None:
        self.records.append(record)


def read_topic(bootstrap: list[str], topic: str, *, until: Callable[[list[Any]], bool],
               timeout: float = 30.0) -> list[Any]:
    """Consume ``topic`` from the beginning (no group) until ``until(records)`` holds."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, consumer_timeout_ms=500)
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
    """Distinct ids of the messages that decode as valid events."""
    from streams.events import decode
    from vocwatch.errors import InvalidEvent
    from vocwatch.settings import Settings

    ids = set()
    for source, _, value in messages:
        try:
            ids.add((source, decode(source, value, max_bytes=Settings().max_message_bytes).id))
        except InvalidEvent:
            continue
    return len(ids)
