"""A webhook that hangs, or answers 500, does not slow the stream: the pipeline hands
alerts to per-sink queues and returns; real Redis, real HTTP receivers on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry

from alerts.engine import AlertEngine
from alerts.routing import parse_routing
from alerts.rules import parse_config
from alerts.sinkconfig import build_dispatcher, parse_sinks
from alerts.store import RedisAlertStore
from alerts.windows import RedisWindowStore
from classifiers.analyze import Analyzer
from streams.pipeline import Pipeline
from streams.records import RawMessage
from tests.support import ListSink
from vocwatch.metrics import Metrics
from vocwatch.settings import Settings

pytestmark = pytest.mark.integration
CONFIG = {
    # One alert per channel × category: each batch below fires several.
    "rules": [
        {
            "name": "burst",
            "key": ["channel", "category"],
            "window": "5m",
            "measure": "count",
            "threshold": 2,
            "priority": "P2",
        }
    ],
    "teams": {"客服主管": {"sinks": ["hanging", "broken"]}},
    "routes": [{"team": "客服主管"}],
    "sinks": {
        "hanging": {"type": "webhook", "url_env": "VOCWATCH_SINK_HANG_URL", "timeout": 30},
        "broken": {"type": "webhook", "url_env": "VOCWATCH_SINK_BROKEN_URL"},
    },
}


class Receivers:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.hung = 0
        self.broken = 0

    async def hang(self, request: web.Request) -> web.Response:
        self.hung += 1
        await self.release.wait()
        return web.Response(status=200)

    async def fail(self, request: web.Request) -> web.Response:
        self.broken += 1
        return web.Response(status=500)


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receivers, str]]:
    state = Receivers()
    app = web.Application()
    app.router.add_post("/hang", state.hang)
    app.router.add_post("/fail", state.fail)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield state, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        state.release.set()
        await runner.cleanup()


def batch(start: int) -> list[RawMessage]:
    # Event time now, not at import: the suite may collect this module minutes before it
    # runs, and events older than the 5-minute window would be late, counted nowhere.
    now = time.time()
    channels = ("app", "web", "email", "wechat", "hotline", "store")
    texts = ("快递三天没到", "客服态度很差", "APP闪退无法付款", "退款一直不到账")
    values = [
        json.dumps(
            {
                "id": f"c{start + i}",
                "customer_id": "u",
                "text": texts[i % 4],
                "channel": channels[i % 6],
                "created_at": now,
            },
            ensure_ascii=False,
        ).encode()
        for i in range(120)
    ]
    return [RawMessage(v, "vocwatch.complaints", 0, start + i, now) for i, v in enumerate(values)]


class Publisher:
    async def send(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_a_hanging_and_a_failing_webhook_do_not_slow_the_stream(
    redis_url: str, unique: str, receivers: tuple[Receivers, str]
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        await _pipeline_with_slow_sinks(client, unique, receivers)
    finally:
        await client.aclose()


async def _pipeline_with_slow_sinks(
    client: Any, unique: str, receivers: tuple[Receivers, str]
) -> None:
    state, base = receivers
    config = parse_config(CONFIG)
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    async with aiohttp.ClientSession() as session:
        env = {"VOCWATCH_SINK_HANG_URL": base + "/hang", "VOCWATCH_SINK_BROKEN_URL": base + "/fail"}
        dispatcher = build_dispatcher(parse_sinks(config.sinks), env, session, client, metrics)
        await dispatcher.start()
        windows = RedisWindowStore(client, prefix=unique, bucket_seconds=10, spans=[300])
        engine = AlertEngine(
            config.rules,
            windows,
            RedisAlertStore(client, prefix=unique),
            [ListSink()],
            metrics,
            update_seconds=0,
            router=parse_routing(config, ["hanging", "broken"]),
            notify=dispatcher.dispatch,
        )
        pipeline = Pipeline(
            settings=Settings(app_id=unique),
            analyzer=Analyzer(),
            rules=config.rules,
            windows=windows,
            engine=engine,
            publisher=Publisher(),
            metrics=metrics,
        )
        timings = []
        for start in range(0, 600, 120):
            began = time.perf_counter()
            outcome = await pipeline.process("complaint", batch(start))
            timings.append(time.perf_counter() - began)
            assert outcome.valid == 120 and outcome.alerts >= 1
        await asyncio.sleep(0.5)  # let the queues try
        assert state.hung >= 1 and state.broken >= 1, "both receivers were called"
        # Every batch took about as long as the first (which fired the alerts while both
        # receivers were still fresh): no batch waited for the hanging receiver (30 s).
        assert max(timings) < 5, timings
        assert max(timings[1:]) < 3 * timings[0] + 0.5, timings
        depth = registry.get_sample_value("vocwatch_sink_queue_depth", {"sink": "hanging"})
        assert (depth or 0) >= 1
        state.release.set()
        await dispatcher.stop(timeout=5)
