"""Scale-out check: N workers in one consumer group drain the same backlog.

    .venv/bin/python bench/two_workers.py 1     # one worker
    .venv/bin/python bench/two_workers.py 2     # two workers

Starts its own broker and Redis (embedded stack), produces a backlog of demo events,
starts N workers with the benchmark's rules, and prints the events per second accounted
for by all of them together, from the first 1,000 to the whole backlog.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
import urllib.request
from pathlib import Path

from kafka import KafkaProducer

from streams import embedded
from streams.bench import RULES
from streams.demo import DemoTraffic
from streams.topics import ensure_topics
from vocwatch.settings import Settings


def accounted(ports: list[int]) -> float:
    total = 0.0
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            continue
        total += sum(float(v) for v in re.findall(
            r"^vocwatch_events_received_total\{[^}]*\} (\S+)$", text, re.M))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workers", type=int)
    parser.add_argument("--events", type=int, default=30_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vocwatch-scale-"))
    (work / "rules.yaml").write_text(RULES.format(threshold=40), encoding="utf-8")
    with embedded.broker() as kafka, embedded.redis_server() as redis:
        common = {"VOCWATCH_BROKER_URL": f"kafka://127.0.0.1:{kafka.port}",
                  "VOCWATCH_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
                  "VOCWATCH_LOG_LEVEL": "warning",
                  "VOCWATCH_RULES_FILE": str(work / "rules.yaml")}
        settings = Settings.from_env(common)
        ensure_topics(settings)
        producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=50,
                                 batch_size=262_144)
        traffic, now = DemoTraffic(seed=3), time.time()
        for _ in range(args.events):
            source, key, value = traffic.background(now)
            producer.send(settings.input_topics[source], key=key, value=value)
        producer.flush()
        producer.close()
        outside = {k: v for k, v in os.environ.items() if not k.startswith("VOCWATCH_")}
        ports = [embedded.free_port() for _ in range(args.workers)]
        workers = [embedded.start_worker(
            {**outside, **common, "VOCWATCH_WEB_PORT": str(port),
             "VOCWATCH_DATA_DIR": str(work / f"data{i}")}, work / f"worker{i}.log")
            for i, port in enumerate(ports)]
        try:
            while accounted(ports) < 1000:
                time.sleep(0.2)
            first, started = accounted(ports), time.monotonic()
            while accounted(ports) < args.events:
                time.sleep(0.2)
            rate = (accounted(ports) - first) / (time.monotonic() - started)
            print(f"{args.workers} worker(s): {rate:.0f} events/s")
        finally:
            for worker in workers:
                embedded.stop_process(worker)


if __name__ == "__main__":
    main()
