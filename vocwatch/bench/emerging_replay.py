"""Replay the live emerging-topic test's timing through one monitor, many ways.

``tests/integration/test_emerging_live.py`` runs a real worker: ordinary complaints of the
project's labelled sets spread over the last minute and a half, then 20 texts of
``bottle_cap_mould``, then, once that topic has alerted, 20 texts of a second incident;
each must alert within 90 s. In a real run the texts of one Kafka partition come in before
another's, and the minute boundaries fall anywhere: this plays the same texts through an
:class:`~alerts.emerging_monitor.EmergingMonitor` (the real analyzer, the test's settings:
a one-minute window, ten minutes of baseline, a step every second) in simulated time,
over offsets of the start within the minute, orders of the second incident's texts
(as written, or shuffled) and splits of them into two batches, and counts the runs in
which an incident was not alerted in time::

    python -m vocwatch.bench.emerging_replay hotel_bedbugs
    python -m vocwatch.bench.emerging_replay brand_scam_calls --json

Used to find why that test once failed in CI (docs/alerts.md, "A problem counted whole is
explained whole").
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
FIRST = "bottle_cap_mould"
START = 1_800_000_000.0  # a minute boundary; the offsets move the start within the minute
BACKGROUND_TEXTS = 240
INCIDENT_TEXTS = 20
DEADLINE_SECONDS = 90.0
READY_SECONDS = 6.0  # the worker takes the background this long after it was sent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("incident", help="the second incident (data/emerging/incidents.yaml)")
    parser.add_argument("--offsets", type=int, default=10, help="starts within the minute")
    parser.add_argument("--orders", type=int, default=3, help="as written, then shuffled")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from classifiers.analyze import Analyzer
    from vocwatch.bench.emerging import analyse

    analyzer = Analyzer()
    texts = {
        "bg": [analyse(analyzer, t, "app") for t in background(BACKGROUND_TEXTS)],
        FIRST: [analyse(analyzer, t, "app") for t in incident(FIRST)],
        args.incident: [analyse(analyzer, t, "app") for t in incident(args.incident)],
    }
    missed: list[dict[str, Any]] = []
    runs = 0
    for offset in range(0, 60, max(1, 60 // args.offsets)):
        for split in (None, 5, 10, 15):
            for order in range(args.orders):
                runs += 1
                missing = asyncio.run(replay(texts, args.incident, float(offset), split, order))
                if missing is not None:
                    missed.append(
                        {"missed": missing, "offset": offset, "split": split, "order": order}
                    )
    figures = {"incident": args.incident, "runs": runs, "missed": len(missed), "cases": missed}
    if not args.json:
        for case in missed:
            print(f"missed {case}", file=sys.stderr)
    shown = figures if args.json else {k: figures[k] for k in ("incident", "runs", "missed")}
    print(json.dumps(shown))
    return 0


def background(count: int) -> list[str]:
    """The live test's ordinary complaints: the first four labelled sets, shuffled."""
    texts: list[str] = []
    for path in sorted((ROOT / "data" / "labelled").glob("*.csv"))[:4]:
        with path.open(encoding="utf-8") as file:
            texts += [row["text"] for row in csv.DictReader(file) if row["text"]]
    random.Random(7).shuffle(texts)  # noqa: S311 — the test's order, no secret
    return texts[:count]


def incident(name: str) -> list[str]:
    data = yaml.safe_load((ROOT / "data" / "emerging" / "incidents.yaml").read_text("utf-8"))
    texts: list[str] = next(i["texts"] for i in data["incidents"] if i["id"] == name)
    return texts[:INCIDENT_TEXTS]


async def replay(
    texts: dict[str, list[Any]], second: str, offset: float, split: int | None, order: int
) -> str | None:
    """One run; the incident not alerted within the deadline, or None."""
    run = _Replay(texts, second, START + offset, split)
    count = len(texts["bg"])
    await run.observe("bg", [run.start - 90 + 90 * i / count for i in range(count)])
    await run.steps_until(run.start + READY_SECONDS + 3)  # the test waits a few steps
    for name in (FIRST, second):
        sent = run.clock
        at = [sent - 5 + 5 * n / INCIDENT_TEXTS for n in range(INCIDENT_TEXTS)]
        rng = random.Random(order) if order and name == second else None  # noqa: S311
        await run.observe(name, at, rng)
        await run.steps_until(sent + DEADLINE_SECONDS, name)
        if name not in run.alerted:
            return name
    return None


class _Replay:
    """A monitor with the live test's settings, its clock at its next step."""

    def __init__(
        self, texts: dict[str, list[Any]], second: str, start: float, split: int | None
    ) -> None:
        from prometheus_client import CollectorRegistry

        from alerts.emerging_monitor import EmergingConfig, EmergingMonitor
        from alerts.explain import KeyActivity
        from vocwatch.bench.emerging import MemoryStore
        from vocwatch.metrics import Metrics
        from vocwatch.settings import Settings

        settings = Settings.from_env(
            {
                "VOCWATCH_EMERGING_WINDOW_SECONDS": "60",
                "VOCWATCH_EMERGING_BASELINE_SECONDS": "600",
                "VOCWATCH_EVALUATION_SECONDS": "1",
            }
        )
        self.texts, self.second, self.start, self.split = texts, second, start, split
        self.activity = KeyActivity()
        self.monitor = EmergingMonitor(
            EmergingConfig.from_settings(settings),
            MemoryStore(10),
            Metrics.create(CollectorRegistry()),
            activity=self.activity,
            worker="replay",
        )
        self.alerted: set[str] = set()
        self.clock = start + READY_SECONDS + 0.5  # the next step

    async def observe(self, name: str, at: list[float], rng: random.Random | None = None) -> None:
        """The texts of ``name`` at times ``at`` (those the monitor clusters, in one batch,
        or in two with a step between them for the second incident when split)."""
        from alerts.explain import content_terms
        from vocwatch.bench.emerging import _topic_text

        made = [
            (_topic_text(f"{name}-{n}", t, "complaint", "app", a), a.polarity)
            for n, (t, a) in enumerate(zip(at, self.texts[name], strict=False))
        ]
        for text, _ in made:
            self.activity.add_event(content_terms(text.tokens, text.text), text.event_time)
        wanted = [text for text, polarity in made if self.monitor.wants(polarity)]
        if rng is not None:
            rng.shuffle(wanted)
        if self.split and name == self.second:
            self.monitor.observe(wanted[: self.split])
            await self.steps_until(self.clock)
            self.monitor.observe(wanted[self.split :])
        else:
            self.monitor.observe(wanted)

    async def steps_until(self, moment: float, target: str | None = None) -> None:
        """Step every second up to ``moment`` (or until ``target`` has alerted), noting the
        incident each emerging topic's texts mostly are."""
        while self.clock <= moment and target not in self.alerted:
            for decision in await self.monitor.decide(self.clock) or ():
                if decision.topic and decision.group and decision.assessment.emerging:
                    ids = decision.group.event_ids
                    self.alerted.add(
                        max(self.texts, key=lambda n: sum(i.startswith(n) for i in ids))
                    )
            self.clock += 1.0


if __name__ == "__main__":
    raise SystemExit(main())
