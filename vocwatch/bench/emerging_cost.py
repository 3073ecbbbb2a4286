"""``vocwatch bench-emerging``: what the emerging-topic clustering costs the worker per event.

The worker hands every batch's new texts of the configured polarities to
:meth:`alerts.emerging_monitor.EmergingMonitor.observe` on its event loop; this measures that
call alone, in CPU seconds of this process (the machine may be busy), on real background
reviews (``--data``, as ``vocwatch eval-emerging`` reads them) analysed by the real analyzer:
``--texts`` reviews, shuffled, played at ``--rate`` events a second in batches of ``--batch``
events. The first ``--warm-up`` events fill the caches and the clusters (a worker that has run
for a while: ``VOCWATCH_EMERGING_MAX_CLUSTERS`` clusters, its words known); the rest are timed.
Each of ``--runs`` runs starts a fresh monitor on the same events; printed: µs per event (all
events, also the positive ones the monitor does not cluster) and per clustered text, the
median and the worst run::

    vocwatch bench-emerging --data ../shared/data --texts 40000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alerts.emerging_clusters import TopicText
from alerts.emerging_monitor import EmergingConfig, EmergingMonitor
from vocwatch.bench.emerging import BACKGROUND_CHANNEL, MemoryStore, background_texts
from vocwatch.settings import Settings

START = 1_800_000_000.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--texts", type=int, default=40_000, help="events (default: 40000)")
    parser.add_argument(
        "--warm-up", type=int, default=15_000, help="events before the timing (default: 15000)"
    )
    parser.add_argument("--rate", type=float, default=5000.0, help="events a second")
    parser.add_argument("--batch", type=int, default=500, help="events a batch")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace) -> int:
    from classifiers.analyze import Analyzer

    settings = Settings.from_env({})
    analyzer = Analyzer()
    reviews = [text for _, text in background_texts(args.data)]
    random.Random(args.seed).shuffle(reviews)  # noqa: S311 — a reproducible order, no secret
    events = []
    started = time.perf_counter()
    for number, text in enumerate(reviews[: args.texts]):
        a = analyzer.analyze(text, channel=BACKGROUND_CHANNEL)
        topic_text = TopicText(
            f"e{number}",
            f"author-{number}",
            START + number / args.rate,
            "complaint",
            BACKGROUND_CHANNEL,
            a.text,
            a.tokens,
            a.priority.level,
            a.negative,
            a.category,
        )
        events.append((a.polarity, topic_text))
    print(
        f"{len(events)} events analysed in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )
    results = [measure(settings, events, args.warm_up, args.batch) for _ in range(args.runs)]
    per_event = [r["us_per_event"] for r in results]
    summary = {
        "events_timed": results[0]["events"],
        "clustered_share": results[0]["clustered_share"],
        "us_per_event_median": round(statistics.median(per_event), 1),
        "us_per_event_worst": round(max(per_event), 1),
        "us_per_clustered_text_median": round(
            statistics.median(r["us_per_clustered_text"] for r in results), 1
        ),
        "clusters": results[0]["clusters"],
        "runs": [r["us_per_event"] for r in results],
    }
    print(json.dumps(summary))
    return 0


def measure(
    settings: Settings, events: Sequence[tuple[str, TopicText]], warm_up: int, batch: int
) -> dict[str, Any]:
    """One run: a fresh monitor, the warm-up events, then the timed ones (CPU time)."""
    from prometheus_client import CollectorRegistry

    from vocwatch.metrics import Metrics

    config = EmergingConfig.from_settings(settings)
    monitor = EmergingMonitor(
        config, MemoryStore(60.0), Metrics.create(CollectorRegistry()), worker="bench"
    )
    batches = [events[i : i + batch] for i in range(0, len(events), batch)]
    warm = -(-warm_up // batch)
    for part in batches[:warm]:
        monitor.observe([t for polarity, t in part if monitor.wants(polarity)])
    timed = batches[warm:]
    clustered = sum(monitor.wants(p) for part in timed for p, _ in part)
    count = sum(map(len, timed))
    started = time.process_time()
    for part in timed:
        monitor.observe([t for polarity, t in part if monitor.wants(polarity)])
    seconds = time.process_time() - started
    return {
        "events": count,
        "clustered_share": round(clustered / max(1, count), 3),
        "us_per_event": round(seconds / max(1, count) * 1e6, 1),
        "us_per_clustered_text": round(seconds / max(1, clustered) * 1e6, 1),
        "clusters": len(monitor.clusters.clusters),
    }
