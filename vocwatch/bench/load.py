"""The benchmarks' load generator: events sent to the broker with librdkafka (confluent-kafka).

The benchmark runs the load, the worker, its analysis process, the broker and Redis on the
same two cores, so whatever the load costs is taken from the worker. Measured here on the
demo's events (20,000, process CPU including the client's own threads): kafka-python about
110 µs an event, confluent-kafka's producer about 4 µs. At the 3,000 events/s of the
latency phase kafka-python took a third of a core — a core that, in production, the
producers do not share with the worker (docs/performance.md).

Nothing sent is lost silently: a message the broker did not take is counted, and
:meth:`LoadProducer.flush` raises a :class:`StackError` naming how many and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vocwatch.errors import StackError

FLUSH_SECONDS = 60.0


class LoadProducer:
    """``send(topic, key=…, value=…)``, ``flush()`` and ``close()``, as kafka-python's
    producer, on librdkafka."""

    def __init__(self, bootstrap_servers: Sequence[str], *, linger_ms: int = 20) -> None:
        from confluent_kafka import Producer

        self._producer = Producer(
            {
                "bootstrap.servers": ",".join(bootstrap_servers),
                "linger.ms": linger_ms,
                "acks": 1,
                "log_level": 2,  # quiet: failures surface in flush(); idle disconnects are normal
            }
        )
        self.failures: list[str] = []

    def send(self, topic: str, *, key: bytes | None, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=self._delivered)
                break
            except BufferError:  # the client's queue is full: let it deliver some first
                self._producer.poll(0.05)
        self._producer.poll(0)

    def flush(self, timeout: float = FLUSH_SECONDS) -> None:
        waiting = self._producer.flush(timeout)
        if waiting or self.failures:
            reasons = sorted(set(self.failures))[:3]
            raise StackError(
                f"the broker did not take {len(self.failures) + waiting} benchmark messages "
                f"({waiting} still waiting after {timeout:.0f} s; errors: {reasons or 'none'})"
            )

    def close(self) -> None:
        self.flush()

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is not None:
            self.failures.append(str(error))
