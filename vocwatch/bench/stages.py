"""``vocwatch bench-stages``: what the worker's event loop spends per event on its own stages.

The worker's event loop limits its throughput (docs/performance.md): it receives the
analysis process's results, then counts each batch (:meth:`streams.pipeline.Pipeline.count`:
window keys, the window script, the alert engine, the scored records handed to the
producer) and finishes it (:meth:`streams.pipeline.Pipeline.finish`: customer histories,
KPI sums and customer alerts, the emerging-topic clustering, the console's series). This
times those two calls alone, in CPU seconds of this process, so that a change to them can
be measured apart from the broker, Faust and a busy machine's swings:

- the events are the demo's traffic (every source, customers, surveys, journeys), analysed
  once beforehand by the real analyzer, each batch pickled and unpickled as the worker
  receives it;
- Redis is real (an embedded valkey, started per run, so every run starts empty);
- the producer is a stub that confirms each record at once (the broker is not measured);
- the garbage collector is set as the worker sets it (:func:`vocwatch.memory.settle_heap`);
- log records of warnings and below are dropped (the log sink writes a line per alert,
  and the demo's customers raise hundreds).

Each of ``--runs`` runs starts a fresh service on the same batches; printed: µs of CPU per
event, the median and the worst run::

    vocwatch bench-stages --events 30000 --runs 5

Compare two commits by running it in each, one after the other, several times: a run
moves by a few per cent with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streams.pipeline import AnalysedBatch
from streams.records import RawMessage
from vocwatch.settings import Settings

BATCH = 1000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=30_000, help="events (default: 30000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11, help="of the demo's traffic")


class _ConfirmingProducer:
    """The pipeline's publisher, confirming every record as soon as the loop turns."""

    def __init__(self) -> None:
        self.sent = 0
        self._pending: list[asyncio.Future[None]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._confirm)
        self._pending.append(future)
        self.sent += 1
        return future

    def _confirm(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.set_result(None)


def run(args: argparse.Namespace) -> int:
    messages = _traffic(args.events, args.seed)
    logging.disable(logging.WARNING)
    try:
        results = [asyncio.run(_one_run(messages)) for _ in range(args.runs)]
    finally:
        logging.disable(logging.NOTSET)
    per_event = [r["us_per_event"] for r in results]
    print(
        json.dumps(
            {
                "events": results[0]["events"],
                "batches": results[0]["batches"],
                "published": results[0]["published"],
                "us_per_event_median": round(statistics.median(per_event), 1),
                "us_per_event_worst": round(max(per_event), 1),
                "runs": per_event,
            }
        )
    )
    return 0


def _traffic(events: int, seed: int) -> list[tuple[str, bytes]]:
    from vocwatch.dev.demo import DemoTraffic

    traffic = DemoTraffic(seed=seed)
    now = time.time()
    drawn = (traffic.background(now) for _ in range(events))
    return [(source, value) for source, _, value in drawn]


async def _one_run(messages: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
    from streams.analysis import analyze_batch, build_analyzer, phrases_if_readable
    from streams.app import create_service
    from vocwatch.bench.harness import rules_file
    from vocwatch.dev import embedded
    from vocwatch.memory import settle_heap

    with tempfile.TemporaryDirectory() as folder, embedded.redis_server() as redis:
        work = Path(folder)
        (work / "rules.yaml").write_text(rules_file(20), encoding="utf-8")
        settings = Settings.from_env(
            {
                "VOCWATCH_BROKER_URL": "kafka://127.0.0.1:1",  # never connected to
                "VOCWATCH_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
                "VOCWATCH_RULES_FILE": str(work / "rules.yaml"),
                "VOCWATCH_DATA_DIR": str(work / "data"),
                "VOCWATCH_LOG_LEVEL": "warning",
                "VOCWATCH_ANALYSIS_PROCESSES": "0",
            }
        )
        service = create_service(settings)
        pipeline = service.pipeline
        producer = pipeline.publisher = _ConfirmingProducer()
        analyzer, phrases = build_analyzer(settings), phrases_if_readable(settings)
        now = time.time()
        by_source: dict[str, list[bytes]] = {}
        for source, value in messages:
            by_source.setdefault(source, []).append(value)
        batches: list[tuple[str, list[RawMessage], bytes]] = []
        for source, values in by_source.items():
            topic = settings.input_topics[source]
            for start in range(0, len(values), BATCH):
                chunk = values[start : start + BATCH]
                results = analyze_batch(
                    analyzer,
                    source,
                    chunk,
                    max_bytes=settings.max_message_bytes,
                    now=now,
                    phrases=phrases,
                )
                raw = [RawMessage(v, topic, 0, start + i) for i, v in enumerate(chunk)]
                batches.append((source, raw, pickle.dumps(results, pickle.HIGHEST_PROTOCOL)))
        batches.sort(key=lambda b: b[1][0].offset)  # the sources' batches interleaved
        settle_heap()
        started = time.process_time()
        for source, raw, pickled in batches:
            results = pickle.loads(pickled)  # noqa: S301 — made above, in this process
            counted = await pipeline.count(AnalysedBatch(source, raw, results, time.perf_counter()))
            await pipeline.finish(counted)
        seconds = time.process_time() - started
        pipeline.runner.close()
    count = sum(len(raw) for _, raw, _ in batches)
    per_event = round(seconds / count * 1e6, 1)
    print(f"run: {per_event} µs per event", file=sys.stderr)
    return {
        "events": count,
        "batches": len(batches),
        "published": producer.sent,
        "us_per_event": per_event,
    }
