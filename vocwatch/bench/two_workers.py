"""Scale-out check: N workers in one consumer group drain the same backlog.

    .venv/bin/python -m vocwatch.bench.two_workers 1     # one worker
    .venv/bin/python -m vocwatch.bench.two_workers 2     # two workers
    .venv/bin/python -m vocwatch.bench.two_workers 2 --pin   # worker i (and its analysis process)
                                                    # on core i only, as on separate machines

Starts its own broker and Redis (embedded stack), produces a backlog of demo events,
starts N workers with the benchmark's rules, and prints the events per second accounted
for by all of them together, from the first 1,000 to the whole backlog.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from streams.topics import ensure_topics
from vocwatch.bench.harness import RULES, _valid_ids, counted_events, metric_total
from vocwatch.dev import embedded
from vocwatch.dev.demo import DemoTraffic
from vocwatch.processes import descendants
from vocwatch.settings import Settings


def accounted(ports: list[int]) -> float:
    """Messages received by all the workers (a worker still starting adds nothing)."""
    return sum(
        max(0.0, metric_total(f"http://127.0.0.1:{port}", "vocwatch_events_received_total"))
        for port in ports
    )


def pin(workers: list[Any]) -> None:
    cores = sorted(os.sched_getaffinity(0))
    for i, worker in enumerate(workers):
        for pid in [worker.pid, *descendants(worker.pid)]:
            os.sched_setaffinity(pid, {cores[i % len(cores)]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workers", type=int)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin worker i and its children to core i (broker, Redis free)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vocwatch-scale-"))
    (work / "rules.yaml").write_text(RULES.format(threshold=40), encoding="utf-8")
    with embedded.broker() as kafka, embedded.redis_server() as redis:
        common = {
            "VOCWATCH_BROKER_URL": f"kafka://127.0.0.1:{kafka.port}",
            "VOCWATCH_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "VOCWATCH_LOG_LEVEL": "warning",
            "VOCWATCH_RULES_FILE": str(work / "rules.yaml"),
        }
        settings = Settings.from_env(common)
        ensure_topics(settings)
        producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers, linger_ms=50, batch_size=262_144
        )
        traffic, now = DemoTraffic(seed=3), time.time()
        backlog = [traffic.background(now) for _ in range(args.events)]
        for source, key, value in backlog:
            producer.send(settings.input_topics[source], key=key, value=value)
        producer.flush()
        producer.close()
        outside = {k: v for k, v in os.environ.items() if not k.startswith("VOCWATCH_")}
        ports = [embedded.free_port() for _ in range(args.workers)]
        workers = [
            embedded.start_worker(
                {
                    **outside,
                    **common,
                    "VOCWATCH_WEB_PORT": str(port),
                    "VOCWATCH_DATA_DIR": str(work / f"data{i}"),
                },
                work / f"worker{i}.log",
            )
            for i, port in enumerate(ports)
        ]
        try:
            if args.pin:
                pin(workers)
            while accounted(ports) < 1000:
                time.sleep(0.2)
            if args.pin:
                pin(workers)  # again: the analysis processes have been spawned by now
            first, started = accounted(ports), time.monotonic()
            while accounted(ports) < args.events:
                time.sleep(0.2)
            rate = (accounted(ports) - first) / (time.monotonic() - started)
            time.sleep(2)  # anything redelivered after a rebalance would land by now
            valid = sum(len(ids) for ids in _valid_ids(backlog).values())
            counted = counted_events(settings)
            print(
                f"{args.workers} worker(s): {rate:.0f} events/s; received "
                f"{accounted(ports):.0f} of {args.events} messages; windows count "
                f"{counted} of {valid} valid events (duplicates {max(0, counted - valid)}, "
                f"lost {max(0, valid - counted)})"
            )
        finally:
            for worker in workers:
                embedded.stop_process(worker)


if __name__ == "__main__":
    main()
