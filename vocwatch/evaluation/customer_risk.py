"""``vocwatch eval-customers``: precision and recall of ``customer_risk`` alerts on customer
journeys with known outcomes (:mod:`vocwatch.evaluation.journeys`).

Each journey's contacts are produced as the input topics would carry them, decoded and
analysed by the service's own code (the packaged models and policies), and given, one at a
time and in the order they arrive across all journeys, to the customer stage the worker
runs — the customer history in a real Redis (an embedded valkey started for the run, or
``VOCWATCH_REDIS_URL``), the packaged ``customers:`` policy, the alert engine — with the
clock at each contact's arrival. A journey is *alerted* if a ``customer_risk`` alert opened
for its customer at any time; precision and recall compare that with its ``at_risk``. The
engine's timer runs every six simulated hours, so risks also decay and resolve as in service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vocwatch.evaluation.journeys import CASES_FILE, HOUR, Journey, JourneyGenerator, load_cases

if TYPE_CHECKING:
    from classifiers.analyze import Analyzer

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z: the simulated month starts here
SPREAD_DAYS = 10  # journeys start at random times over this many days
TICK_HOURS = 6  # the engine's timer, in simulated time: risks decay, follow-ups fall due


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journeys", type=int, default=400, help="generated journeys")
    parser.add_argument("--seed", type=int, default=17, help="seed of the generator")
    parser.add_argument(
        "--hard-cases", type=Path, default=CASES_FILE, help="hand-written journeys (JSON lines)"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON figures")


def run(args: argparse.Namespace) -> int:
    generated = JourneyGenerator(args.seed).generate(args.journeys)
    figures = evaluate(generated, load_cases(args.hard_cases), seed=args.seed)
    if not args.json:
        for line in report(figures):
            print(line, file=sys.stderr)
    print(json.dumps(figures, ensure_ascii=False))
    return 0


def evaluate(
    generated: Sequence[Journey],
    hard: Sequence[Journey],
    *,
    seed: int = 17,
    analyzer: Analyzer | None = None,
) -> dict[str, Any]:
    """The figures of both sets, each journey's customer history in Redis; ``analyzer``:
    the text analysis (the packaged models by default)."""
    from vocwatch.dev import embedded
    from vocwatch.settings import Settings

    if "VOCWATCH_REDIS_URL" in os.environ:
        url = Settings.from_env(os.environ).redis_url
        return asyncio.run(_evaluate(url, generated, hard, seed, analyzer))
    with embedded.redis_server() as redis:
        url = f"redis://{redis.host}:{redis.port}/0"
        return asyncio.run(_evaluate(url, generated, hard, seed, analyzer))


async def _evaluate(
    redis_url: str,
    generated: Sequence[Journey],
    hard: Sequence[Journey],
    seed: int,
    analyzer: Analyzer | None,
) -> dict[str, Any]:
    alerted = await _alerted(redis_url, [*generated, *hard], seed, analyzer)
    return {
        "generated": _figures(generated, alerted),
        "hard_cases": _figures(hard, alerted, details=True),
        "all": _figures([*generated, *hard], alerted),
        "seed": seed,
    }


async def _alerted(
    redis_url: str, journeys: Sequence[Journey], seed: int, analyzer: Analyzer | None
) -> set[str]:
    """The names of the journeys whose customer got a customer_risk alert."""
    import redis.asyncio as aioredis
    from prometheus_client import CollectorRegistry

    from alerts.config import load_alerting
    from alerts.engine import AlertEngine
    from alerts.store import RedisAlertStore
    from alerts.windows import RedisWindowStore
    from streams.analysis import Scored, analyze_batch, build_analyzer
    from streams.customers import CustomerStage
    from vocwatch.metrics import Metrics
    from vocwatch.settings import Settings

    prefix = f"eval{uuid.uuid4().hex[:8]}"
    settings = Settings(app_id=prefix)
    alerting = load_alerting(settings.rules_file)
    assert alerting.customers is not None  # noqa: S101 — the packaged file has the section
    policy = alerting.customers
    client = aioredis.Redis.from_url(redis_url)
    metrics = Metrics.create(CollectorRegistry())
    opened: list[dict[str, Any]] = []

    class Collect:
        name = "evaluation"

        async def deliver(self, record: dict[str, Any]) -> None:
            if record["kind"] == "customer_risk" and record["notification"] == "new":
                opened.append(record)

    engine = AlertEngine(
        [],
        RedisWindowStore(client, prefix=prefix, bucket_seconds=10, spans=[60]),
        RedisAlertStore(client, prefix=prefix),
        [Collect()],
        metrics,
        update_seconds=30,
    )
    stage = CustomerStage.following(settings, policy, client, engine, metrics)
    analyzer = analyzer or build_analyzer(settings)
    rng = random.Random(seed)
    arrivals = sorted(
        (
            (at, source, event, journey.name)
            for journey in journeys
            for at, source, event in journey.events(
                journey.name, START + rng.uniform(0, SPREAD_DAYS) * 86400
            )
        ),
        key=lambda a: (a[0], a[3]),
    )
    try:
        next_tick = START
        for at, source, event, _ in arrivals:
            while next_tick <= at:
                await engine.tick(next_tick)
                next_tick += TICK_HOURS * HOUR
            raw = json.dumps(event, ensure_ascii=False).encode()
            [result] = analyze_batch(
                analyzer, source, [raw], max_bytes=settings.max_message_bytes, now=at
            )
            if not isinstance(result, Scored):
                raise ValueError(f"journey event {event['id']} is invalid: {result}")
            batch = stage.batch([result])
            states = await stage.record(batch, at)
            await stage.count(batch, states, at)
            await stage.alert(batch, states, at)
    finally:
        await client.aclose()
    return {record["customer_id"] for record in opened}


def _figures(
    journeys: Sequence[Journey], alerted: set[str], *, details: bool = False
) -> dict[str, Any]:
    tp = sum(j.at_risk and j.name in alerted for j in journeys)
    fp = sum(not j.at_risk and j.name in alerted for j in journeys)
    fn = sum(j.at_risk and j.name not in alerted for j in journeys)
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"journeys": 0, "alerted": 0})
    for j in journeys:
        by_kind[j.kind]["journeys"] += 1
        by_kind[j.kind]["alerted"] += j.name in alerted
    figures: dict[str, Any] = {
        "journeys": len(journeys),
        "at_risk": sum(j.at_risk for j in journeys),
        "alerted": tp + fp,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "by_kind": dict(sorted(by_kind.items())),
    }
    if details:
        figures["missed"] = [j.name for j in journeys if j.at_risk and j.name not in alerted]
        figures["false_alarms"] = [j.name for j in journeys if not j.at_risk and j.name in alerted]
    return figures


def report(figures: dict[str, Any]) -> list[str]:
    """The figures as a few readable lines."""
    lines = []
    for name in ("generated", "hard_cases", "all"):
        f = figures[name]
        lines.append(
            f"{name}: {f['journeys']} journeys, {f['at_risk']} at risk, {f['alerted']} alerted"
            f" — precision {f['precision']}, recall {f['recall']}"
        )
    hard = figures["hard_cases"]
    if hard["missed"] or hard["false_alarms"]:
        lines.append(f"hard cases missed: {hard['missed']}; false alarms: {hard['false_alarms']}")
    return lines
