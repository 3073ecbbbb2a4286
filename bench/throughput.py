"""Rough end-to-end throughput of one worker on the embedded stack.

    .venv/bin/python bench/throughput.py --events 20000

Pre-produces N demo events (mixed sources, realistic Chinese texts, about 1 in 60 broken),
starts ``vocwatch worker`` as a child process, and reads its /metrics until every message
is accounted for (valid + duplicate + late + dead-lettered = N). Prints one JSON object:
events, seconds from the first counted batch to the last, events_per_s, and the worker's
start-up time. A fuller harness (latency percentiles, RSS, ceilings) is the benchmark issue.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from kafka import KafkaProducer

from streams import embedded
from streams.demo import DemoPlan, DemoTraffic
from streams.topics import ensure_topics
from vocwatch.settings import Settings

COUNTERS = ("vocwatch_events_valid_total", "vocwatch_events_duplicate_total",
            "vocwatch_events_late_total", "vocwatch_events_dead_lettered_total")


def accounted(base_url: str) -> float:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as reply:  # noqa: S310
        text = reply.read().decode()
    return sum(float(v) for name in COUNTERS
               for v in re.findall(rf"^{name}{{[^}}]*}} (\S+)$", text, re.M))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    with embedded.broker() as kafka, embedded.redis_server() as redis:
        port = embedded.free_port()
        env = {**os.environ, "VOCWATCH_BROKER_URL": f"kafka://127.0.0.1:{kafka.port}",
               "VOCWATCH_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
               "VOCWATCH_WEB_PORT": str(port), "VOCWATCH_LOG_LEVEL": "warning"}
        settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("VOCWATCH_")})
        ensure_topics(settings)
        producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=50,
                                 batch_size=256 * 1024)
        traffic = DemoTraffic(DemoPlan(rate=1000.0, incident_start=5.0, incident_rate=300.0))
        produced, elapsed, now = 0, 0.0, time.time()
        while produced < args.events:
            for source, key, value in traffic.between(elapsed, elapsed + 0.1, now):
                if produced < args.events:
                    producer.send(settings.input_topics[source], key=key, value=value)
                    produced += 1
            elapsed += 0.1
        producer.flush()
        producer.close()

        log = Path(tempfile.mkstemp(prefix="vocwatch-bench-", suffix=".log")[1])
        started = time.monotonic()
        with log.open("wb") as output:
            worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"],
                                      env=env, stdout=output, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        base_url = f"http://127.0.0.1:{port}"
        try:
            first = last = None
            while True:
                try:
                    done = accounted(base_url)
                except OSError:
                    done = 0.0
                now_m = time.monotonic()
                if done > 0 and first is None:
                    first = now_m
                if done >= produced:
                    last = now_m
                    break
                if worker.poll() is not None:
                    raise SystemExit(f"worker exited; see {log}")
                time.sleep(0.1)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        seconds = last - first
        print(json.dumps({"events": produced, "seconds": round(seconds, 2),
                          "events_per_s": round(produced / seconds, 1),
                          "worker_start_to_first_batch_s": round(first - started, 2)}))


if __name__ == "__main__":
    main()
