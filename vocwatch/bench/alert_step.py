"""``vocwatch bench-alert-step``: how long the alert timer's step takes with many open
customer alerts.

Every ``VOCWATCH_EVALUATION_SECONDS`` each worker re-evaluates the active alerts
(:meth:`alerts.engine.AlertEngine.tick`) on its event loop, where the batches wait for it.
In the demo's traffic thousands of customer alerts (at risk, detractor follow-ups) are open
within a minute, so the step's cost per open alert matters as much as an event's.

This opens ``--alerts`` customer_risk alerts (each customer: three negative complaints and
an unresolved call threatening to leave) through the real pipeline — the in-process
analyzer, the packaged rules and customer policy — on an embedded Redis, all at one
moment (the worst case: they all fall due together), then times ``--steps`` steps 5 s of
simulated time apart, and prints the median, mean and worst step, and the longest the event
loop was held up by a step (``worst_stall_ms``: what a batch arriving meanwhile waits)::

    vocwatch bench-alert-step --alerts 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable
from typing import Any

from prometheus_client import CollectorRegistry

NOW = 1_800_000_000.0
HOUR = 3600.0
STEP_SECONDS = 5.0
BATCH = 250  # customers a batch
COMPLAINTS = (
    "宽带又断网了，三天了都没人来修，太差劲了",
    "还是没修好，客服只会说在处理，敷衍",
    "第三次投诉了，到底什么时候能修好？",
)
CALL = "客户来电反映宽带多次报修未解决，排队很久，表示再不解决就销户"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alerts", type=int, default=3000, help="open customer alerts")
    parser.add_argument("--steps", type=int, default=24, help="timer steps timed")
    parser.add_argument("--json", action="store_true", help="print only the JSON figures")


def run(args: argparse.Namespace) -> int:
    if args.alerts < 1 or args.steps < 1:
        print("--alerts and --steps must be 1 or more", file=sys.stderr)
        return 2
    figures = asyncio.run(measure(args.alerts, args.steps))
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{figures['open_alerts']} open customer alerts, {figures['steps']} steps: "
            f"median {figures['median_ms']:.1f} ms, mean {figures['mean_ms']:.1f} ms, "
            f"worst {figures['worst_ms']:.1f} ms; the event loop held up for at most "
            f"{figures['worst_stall_ms']:.2f} ms"
        )
    return 0


class _Discard:
    """The scored and alert topics: the step does not wait for Kafka."""

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def measure(alerts: int, steps: int) -> dict[str, Any]:
    from alerts.config import load_alerting
    from alerts.engine import AlertEngine
    from alerts.store import RedisAlertStore
    from alerts.windows import RedisWindowStore
    from classifiers.analyze import Analyzer
    from streams.app import redis_client
    from streams.customers import CustomerStage
    from streams.pipeline import Pipeline
    from streams.records import RawMessage
    from vocwatch.dev import embedded
    from vocwatch.metrics import Metrics
    from vocwatch.settings import Settings

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(app_id=prefix)
    alerting = load_alerting(settings.rules_file)
    policy = alerting.customers
    if policy is None:
        raise ValueError(f"{settings.rules_file} has no customers: section")
    clock = [NOW]
    with embedded.redis_server() as server:
        client = redis_client(f"redis://127.0.0.1:{server.port}/0")
        try:
            metrics = Metrics.create(CollectorRegistry())
            windows = RedisWindowStore(
                client,
                prefix=prefix,
                bucket_seconds=settings.bucket_seconds,
                spans=[r.window_seconds for r in alerting.rules],
            )
            engine = AlertEngine(
                alerting.rules,
                windows,
                RedisAlertStore(client, prefix=prefix),
                [],
                metrics,
                update_seconds=settings.alert_update_seconds,
                router=alerting.router,
            )
            stage = CustomerStage.following(settings, policy, client, engine, metrics)
            pipeline = Pipeline(
                settings=settings,
                analyzer=Analyzer(),
                rules=alerting.rules,
                windows=windows,
                engine=engine,
                publisher=_Discard(),
                metrics=metrics,
                clock=lambda: clock[0],
                customers=stage,
            )
            offset = 0
            for first in range(0, alerts, BATCH):
                complaints, calls = [], []
                for number in range(first, min(alerts, first + BATCH)):
                    customer = f"u{number}"
                    complaints += [
                        {
                            "id": f"c{number}-{i}",
                            "customer_id": customer,
                            "channel": "app",
                            "text": text,
                            "created_at": NOW - (20 - 5 * i) * HOUR,
                        }
                        for i, text in enumerate(COMPLAINTS)
                    ]
                    calls.append(
                        {
                            "id": f"k{number}",
                            "customer_id": customer,
                            "agent_id": "a1",
                            "text": CALL,
                            "started_at": NOW - HOUR,
                            "wait_seconds": 600,
                            "talk_seconds": 300,
                            "resolved_first_contact": False,
                        }
                    )
                for source, events in (("complaint", complaints), ("call", calls)):
                    messages = []
                    for event in events:
                        value = json.dumps(event, ensure_ascii=False).encode()
                        messages.append(RawMessage(value, f"vocwatch.{source}", 0, offset))
                        offset += 1
                    await pipeline.process(source, messages)
            opened = len(await engine.store.all_active())
            times, stalls = [], []
            for step in range(1, steps + 1):
                clock[0] = NOW + step * STEP_SECONDS
                watch = asyncio.create_task(_longest_stall())
                started = time.perf_counter()
                await engine.tick(clock[0])
                times.append(time.perf_counter() - started)
                watch.cancel()
                stalls.append(await watch)
        finally:
            await client.aclose()
    return {
        "open_alerts": opened,
        "steps": steps,
        # to the microsecond, steps and stalls alike: a step whose slices all stay under
        # 0.05 ms is not a stall of 0, and a stall, within its step, is never above it
        "median_ms": round(statistics.median(times) * 1000, 3),
        "mean_ms": round(statistics.mean(times) * 1000, 3),
        "worst_ms": round(max(times) * 1000, 3),
        "steps_ms": [round(t * 1000, 3) for t in times],
        "worst_stall_ms": round(max(stalls) * 1000, 3),
        "stalls_ms": [round(t * 1000, 3) for t in stalls],
    }


async def _longest_stall() -> float:
    """Until cancelled: the longest time the event loop did not come back to this task —
    how long a batch that arrived meanwhile would have waited for the step."""
    longest = 0.0
    try:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0)
            longest = max(longest, time.perf_counter() - before)
    except asyncio.CancelledError:
        return longest
