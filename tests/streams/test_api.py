"""The HTTP API over a real Redis-backed engine, served by aiohttp on a free loopback
port: list, acknowledge, silence, the event stream, the bearer token, body limits, and
corrections (纠正) of a text's category or sentiment."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry

from alerts.engine import AlertEngine
from alerts.lifecycle import Sample
from alerts.observation import Observation
from alerts.rules import parse_rules
from alerts.series import Point, RedisSeries
from alerts.store import RedisAlertStore
from alerts.windows import RedisWindowStore
from streams.api import TICKET_SECONDS, AlertApi, issue_ticket
from streams.corrections_store import RedisCorrections
from tests.support import ListSink
from vocwatch import redis_keys
from vocwatch.metrics import Metrics
from vocwatch.vocabulary import Priority

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0
KEY = "channel=app,category=logistics"
RULES = parse_rules(
    {
        "rules": [
            {
                "name": "burst",
                "key": ["channel", "category"],
                "window": "1m",
                "measure": "negative_count",
                "threshold": 5,
                "min_count": 5,
                "priority": "P2",
            },
            {
                "name": "severe",
                "key": ["channel", "category"],
                "window": "1m",
                "measure": "p1_count",
                "threshold": 1,
                "priority": "P1",
            },
        ]
    }
)


@dataclass
class Served:
    engine: AlertEngine
    series: RedisSeries
    url: str
    http: aiohttp.ClientSession
    clock: list[float]
    registry: CollectorRegistry

    async def call(
        self, method: str, path: str, *, token: str | None = "secret", **kwargs: Any
    ) -> tuple[int, Any]:
        headers = {
            **({"Authorization": f"Bearer {token}"} if token else {}),
            **kwargs.pop("headers", {}),
        }
        async with self.http.request(
            method, self.url + path, headers=headers, **kwargs
        ) as response:
            return response.status, await response.json()

    async def ticket(self) -> str:
        status, body = await self.call("POST", "/api/stream/ticket")
        assert status == 200, body
        return str(body["ticket"])


def make_engine(client: aioredis.Redis, prefix: str) -> AlertEngine:
    """An engine as a worker builds it: state in Redis, the live feed through pub/sub."""
    windows = RedisWindowStore(client, prefix=prefix, bucket_seconds=10, spans=[60])
    return AlertEngine(
        RULES,
        windows,
        RedisAlertStore(client, prefix=prefix),
        [ListSink()],
        Metrics.create(CollectorRegistry()),
        update_seconds=0,
        live_channel=f"{prefix}:alerts:live",
    )


@contextlib.asynccontextmanager
async def serve(redis_url: str, prefix: str, **options: Any) -> AsyncIterator[Served]:
    """The API over a real Redis on a free loopback port, with ``AlertApi`` ``options``."""
    client = aioredis.Redis.from_url(redis_url)
    engine = make_engine(client, prefix)
    clock = [NOW]
    app = web.Application(client_max_size=4096)
    series = RedisSeries(client, prefix=prefix)
    registry = CollectorRegistry()
    options.setdefault("corrections", RedisCorrections(client, prefix=prefix))
    AlertApi(
        engine,
        clock=lambda: clock[0],
        max_body_bytes=2048,
        series=series,
        metrics=Metrics.create(registry),
        **options,
    ).install(app.router)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            yield Served(engine, series, f"http://127.0.0.1:{port}", http, clock, registry)
    finally:
        await runner.cleanup()
        await client.aclose()


@pytest.fixture
async def served(redis_url: str, unique: str) -> AsyncIterator[Served]:
    async with serve(redis_url, unique, token="secret") as served:
        yield served


async def incident(engine: AlertEngine, *, p1: bool = False, n: int = 6, now: float = NOW) -> None:
    states = await engine.windows.record(
        {KEY: [Observation(f"e{i}-{p1}", now, True, p1) for i in range(n)]}, now
    )
    priority = Priority.P1 if p1 else Priority.P2
    engine.activity.add_samples(KEY, [Sample("e0", "快递<b>丢了</b>", priority, now)])
    await engine.on_batch({"severe" if p1 else "burst": [KEY]}, states, now)


async def test_list_sorted_by_priority_then_time_and_filtered_by_status(served: Served) -> None:
    await incident(served.engine)
    await incident(served.engine, p1=True, n=1)
    status, body = await served.call("GET", "/api/alerts")
    assert status == 200
    assert [(a["rule"], a["priority"]) for a in body["alerts"]] == [
        ("severe", "P1"),
        ("burst", "P2"),
    ]
    assert body["alerts"][1]["samples"][0]["text"] == "快递<b>丢了</b>"  # JSON, not HTML
    status, body = await served.call("GET", "/api/alerts?status=resolved")
    assert (status, body["alerts"]) == (200, [])
    status, body = await served.call("GET", "/api/alerts?status=bogus")
    assert status == 400 and body["field"] == "status"


async def test_acknowledge_then_resolved_alerts_are_listed(served: Served) -> None:
    await incident(served.engine)
    (alert,) = (await served.call("GET", "/api/alerts"))[1]["alerts"]
    status, body = await served.call(
        "POST", f"/api/alerts/{alert['id']}/ack", json={"by": "张三", "note": "已联系快递"}
    )
    assert status == 200 and body["acknowledged"]["by"] == "张三"
    status, body = await served.call("GET", f"/api/alerts/{alert['id']}")
    assert body["acknowledged"]["note"] == "已联系快递"

    await served.engine.tick(NOW + 200)
    status, body = await served.call("GET", "/api/alerts?status=resolved")
    assert [(a["id"], a["status"]) for a in body["alerts"]] == [(alert["id"], "resolved")]
    assert body["alerts"][0]["acknowledged"]["by"] == "张三"
    status, body = await served.call("POST", f"/api/alerts/{alert['id']}/ack", json={"by": "李四"})
    assert status == 404 and body["field"] == "id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "by"),
        ({"by": ""}, "by"),
        ({"by": 5}, "by"),
        ({"by": "x", "note": 5}, "note"),
        ({"by": "x" * 201}, "by"),
    ],
)
async def test_acknowledge_rejects_bad_bodies(served: Served, body: Any, field: str) -> None:
    await incident(served.engine)
    (alert,) = (await served.call("GET", "/api/alerts"))[1]["alerts"]
    status, reply = await served.call("POST", f"/api/alerts/{alert['id']}/ack", json=body)
    assert (status, reply["field"]) == (400, field)


async def test_silences_create_list_expire_and_delete(served: Served) -> None:
    status, silence = await served.call(
        "POST",
        "/api/silences",
        json={
            "matchers": {"category": "logistics"},
            "duration_seconds": 600,
            "created_by": "张三",
            "comment": "快递公司已知故障",
        },
    )
    assert status == 201 and silence["ends_at"] == NOW + 600
    await incident(served.engine)
    (alert,) = (await served.call("GET", "/api/alerts"))[1]["alerts"]
    assert alert["silenced_by"] == silence["id"]
    assert [s["id"] for s in (await served.call("GET", "/api/silences"))[1]["silences"]] == [
        silence["id"]
    ]
    served.clock[0] = NOW + 601
    assert (await served.call("GET", "/api/silences"))[1]["silences"] == []
    status, _ = await served.call("DELETE", f"/api/silences/{silence['id']}")
    assert status == 404  # expired ones are gone already


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duration_seconds": 60, "created_by": "x"}, "matchers"),
        ({"matchers": {"city": "x"}, "duration_seconds": 60, "created_by": "x"}, "matchers"),
        ({"matchers": {"rule": "x"}, "duration_seconds": 0, "created_by": "x"}, "duration_seconds"),
        (
            {"matchers": {"rule": "x"}, "duration_seconds": 10**9, "created_by": "x"},
            "duration_seconds",
        ),
        ({"matchers": {"rule": "x"}, "duration_seconds": 60}, "created_by"),
    ],
)
async def test_silence_validation_names_the_field(served: Served, body: Any, field: str) -> None:
    status, reply = await served.call("POST", "/api/silences", json=body)
    assert (status, reply["field"]) == (400, field)


async def test_token_is_required_when_configured(served: Served) -> None:
    for token in (None, "wrong"):
        status, body = await served.call("GET", "/api/alerts", token=token)
        assert status == 401 and body["field"] == "Authorization"
    # A token in a URL would end up in access logs and browser history: never accepted.
    status, _ = await served.call("GET", "/api/alerts?token=secret", token=None)
    assert status == 401
    status, body = await served.call("GET", "/healthz", token=None)
    assert (status, body) == (200, {"status": "ok"})


async def test_oversized_and_malformed_bodies_are_refused(served: Served) -> None:
    status, body = await served.call(
        "POST",
        "/api/silences",
        data=b"{" + b" " * 3000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert status == 413 and body["field"] == "body"
    status, body = await served.call(
        "POST", "/api/silences", data=b"\xff\xfe{", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and "JSON" in body["error"]
    status, body = await served.call("POST", "/api/silences", json=[1, 2])
    assert status == 400 and body["field"] == "body"


async def test_the_event_stream_carries_the_alerts_of_every_worker(
    served: Served, redis_url: str
) -> None:
    other_client = aioredis.Redis.from_url(redis_url)
    other = make_engine(other_client, served.engine.windows.prefix)
    events: list[dict[str, Any]] = []
    ticket = await served.ticket()

    async def listen() -> None:
        async with served.http.get(served.url + f"/api/stream?ticket={ticket}") as response:
            async for line in response.content:
                if line.startswith(b"data: "):
                    events.append(json.loads(line[6:]))
                    return

    task = asyncio.create_task(listen())
    channel = served.engine.live_channel
    assert channel is not None
    for _ in range(100):  # a message published before the subscription reaches no one
        if any(n for _, n in await other_client.pubsub_numsub(channel)):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"the event stream never subscribed to {channel}")
    await incident(other)  # another worker raises the alert
    await asyncio.wait_for(task, timeout=5)
    assert [(e["rule"], e["notification"]) for e in events] == [("burst", "new")]
    await other_client.aclose()


async def test_the_event_stream_carries_new_alerts_and_acks(served: Served) -> None:
    events: list[dict[str, Any]] = []
    ticket = await served.ticket()

    async def listen() -> None:
        async with served.http.get(served.url + f"/api/stream?ticket={ticket}") as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            async for line in response.content:
                if line.startswith(b"data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) == 2:
                        return

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.2)
    await incident(served.engine)
    alert_id = (
        events[0]["id"]
        if events
        else (await served.call("GET", "/api/alerts"))[1]["alerts"][0]["id"]
    )
    await served.call("POST", f"/api/alerts/{alert_id}/ack", json={"by": "张三"})
    await asyncio.wait_for(task, timeout=5)
    assert [e["notification"] for e in events] == ["new", "acknowledged"]
    assert events[1]["acknowledged"]["by"] == "张三"


async def test_social_series_per_platform_and_the_posts_that_drive_it(served: Served) -> None:
    minute = int(NOW // 60)
    await served.series.add(
        [
            Point("platform", "weibo", minute - 10, True, 5000.0),
            Point("platform", "weibo", minute - 10, False),
            Point("platform", "douyin", minute - 2, True, 10.0),
            Point("platform", "weibo", minute - 400, True, 1.0),
        ],  # older than 6 h
        [
            {
                "id": "s1",
                "platform": "weibo",
                "reach": 5000.0,
                "text": "曝光！<a>",
                "sentiment": 0.1,
                "priority": "P1",
                "time": NOW - 600,
            },
            {
                "id": "s2",
                "platform": "douyin",
                "reach": 10.0,
                "text": "差评",
                "sentiment": 0.2,
                "priority": "P3",
                "time": NOW - 120,
            },
        ],
    )
    status, body = await served.call("GET", "/api/social?hours=6")
    assert status == 200 and body["step_seconds"] == 300
    assert set(body["platforms"]) == {"weibo", "douyin", "xiaohongshu", "wechat", "other"}
    weibo = [p for p in body["platforms"]["weibo"] if p["count"]]
    assert [
        (p["count"], p["negative"], p["negative_share"], p["reach_negative"]) for p in weibo
    ] == [(2, 1, 0.5, 5000.0)]
    assert sum(p["count"] for p in body["platforms"]["douyin"]) == 1
    assert [p["id"] for p in body["posts"]] == ["s1", "s2"]  # by reach
    assert body["posts"][0]["text"] == "曝光！<a>"  # data; the page escapes it
    for bad in ("0", "49", "x"):
        status, reply = await served.call("GET", f"/api/social?hours={bad}")
        assert (status, reply["field"]) == (400, "hours")


async def test_overview_compares_the_last_15_minutes_with_the_day_before(served: Served) -> None:
    minute = int(NOW // 60)
    before = [Point("category", "logistics", minute - 60 - i, False) for i in range(60)]
    recent = [Point("category", "logistics", minute - i % 15, i % 2 == 0) for i in range(45)]
    await served.series.add([*before, *recent])
    status, body = await served.call("GET", "/api/overview")
    assert status == 200 and body["window_seconds"] == 900
    rows = {r["category"]: r for r in body["categories"]}
    assert set(rows) >= {"logistics", "technical", "other"}
    logistics = rows["logistics"]
    assert logistics["name"] == "物流配送"
    assert logistics["count"] == 45 and logistics["rate_per_minute"] == 3.0
    # 60 events over the 105 minutes with data before the window: about 0.57 a minute.
    assert logistics["baseline_per_minute"] == pytest.approx(60 / 105, abs=0.01)
    assert logistics["ratio"] == pytest.approx(3.0 / (60 / 105), abs=0.05)
    assert logistics["negative_share"] == pytest.approx(23 / 45, abs=1e-3)
    assert rows["technical"]["count"] == 0


async def _stream_status(served: Served, query: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with served.http.get(served.url + "/api/stream" + query, headers=headers) as response:
        return response.status


async def test_the_event_stream_takes_a_short_lived_ticket_not_the_token(served: Served) -> None:
    ticket = await served.ticket()
    assert await _stream_status(served, f"?ticket={ticket}") == 200
    assert await _stream_status(served, "?token=secret") == 401  # the token stays out of URLs
    assert await _stream_status(served, "") == 401
    expiry, _, signature = ticket.partition(".")
    forged = f"{int(expiry) + 3600}.{signature}"  # a later expiry with the old signature
    assert await _stream_status(served, f"?ticket={forged}") == 401
    assert await _stream_status(served, f"?ticket={issue_ticket('other-token', NOW)}") == 401
    served.clock[0] = NOW + TICKET_SECONDS + 1  # expired
    assert await _stream_status(served, f"?ticket={ticket}") == 401
    # a client that can send headers may still use the token itself
    assert await _stream_status(served, "", token="secret") == 200
    status, _ = await served.call("POST", "/api/stream/ticket", token=None)
    assert status == 401  # a ticket needs the token


async def test_without_a_token_off_loopback_the_api_is_read_only(
    redis_url: str, unique: str
) -> None:
    async with serve(redis_url, unique, writable=False) as served:
        await incident(served.engine)
        status, body = await served.call("GET", "/api/alerts", token=None)
        assert status == 200 and len(body["alerts"]) == 1
        alert_id = body["alerts"][0]["id"]
        writes = [
            ("POST", f"/api/alerts/{alert_id}/ack", {"by": "张三"}),
            (
                "POST",
                "/api/silences",
                {"matchers": {"rule": "burst"}, "duration_seconds": 60, "created_by": "张三"},
            ),
            ("DELETE", "/api/silences/x", None),
            ("POST", "/api/corrections", {"text": "快递丢了", "category": "logistics"}),
        ]
        for method, path, payload in writes:
            status, reply = await served.call(method, path, token=None, json=payload)
            assert status == 403, (method, path, reply)
            assert "VOCWATCH_API_TOKEN" in reply["error"]
        status, body = await served.call("GET", "/api/alerts", token=None)
        assert body["alerts"][0]["acknowledged"] is None  # nothing changed
        status, body = await served.call("GET", "/api/corrections", token=None)
        assert (status, body["count"]) == (200, 0)
        status, ticket = await served.call("POST", "/api/stream/ticket", token=None)
        assert (status, ticket["ticket"]) == (200, "")
        assert await _stream_status(served, "") == 200  # reading needs no ticket here


async def test_a_token_makes_the_api_writable_on_any_address(redis_url: str, unique: str) -> None:
    async with serve(redis_url, unique, writable=False, token="secret") as served:
        await incident(served.engine)
        alert_id = (await served.call("GET", "/api/alerts"))[1]["alerts"][0]["id"]
        status, body = await served.call("POST", f"/api/alerts/{alert_id}/ack", json={"by": "李四"})
        assert status == 200 and body["acknowledged"]["by"] == "李四"


# --- corrections (纠正) -------------------------------------------------------------------


async def test_a_correction_is_stored_merged_listed_and_counted(
    served: Served, redis_url: str, unique: str
) -> None:
    status, stored = await served.call(
        "POST",
        "/api/corrections",
        json={
            "text": "快递丢了，电话13812345678",
            "category": "service",
            "channel": "app",
            "source": "alert:f-1",
            "by": "张三",
        },
    )
    assert status == 201, stored
    assert stored == {
        "text": "快递丢了,电话[PHONE]",  # cleaned as the worker cleans, masked
        "category": "service",
        "channel": "app",
        "at": "2027-01-15T08:00:00+00:00",
        "by": "张三",
        "source": "alert:f-1",
        "key": stored["key"],
    }
    served.clock[0] = NOW + 60
    status, merged = await served.call(
        "POST", "/api/corrections", json={"text": stored["text"], "sentiment": "negative"}
    )
    assert status == 201
    assert (merged["key"], merged["category"], merged["sentiment"], merged["by"]) == (
        stored["key"],
        "service",
        "negative",
        "张三",
    )
    assert merged["at"] == "2027-01-15T08:01:00+00:00"
    await served.call(
        "POST",
        "/api/corrections",
        json={"text": "微博上说很好", "sentiment": "positive", "channel": "social"},
    )
    status, listing = await served.call("GET", "/api/corrections?limit=1")
    assert status == 200 and listing["count"] == 2
    assert [c["text"] for c in listing["corrections"]] == ["微博上说很好"]
    status, listing = await served.call("GET", "/api/corrections")
    assert [c["text"] for c in listing["corrections"]] == ["微博上说很好", "快递丢了,电话[PHONE]"]
    assert listing["corrections"][1] == merged
    counted = {
        kind: served.registry.get_sample_value("vocwatch_corrections_total", {"kind": kind})
        for kind in ("category", "sentiment")
    }
    assert counted == {"category": 1.0, "sentiment": 2.0}
    client = aioredis.Redis.from_url(redis_url)
    try:
        raw = await client.hgetall(redis_keys.corrections(unique))
    finally:
        await client.aclose()
    assert len(raw) == 2 and all(b"13812345678" not in v for v in raw.values())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "logistics"}, "text"),
        ({"text": "", "category": "logistics"}, "text"),
        ({"text": "x" * 2001, "category": "logistics"}, "text"),  # under the 2048-byte body cap
        ({"text": "快递丢了"}, "category"),
        ({"text": "快递丢了", "category": "delivery"}, "category"),
        ({"text": "快递丢了", "categories": ["logistics", "x"]}, "categories"),
        ({"text": "快递丢了", "sentiment": "angry"}, "sentiment"),
        ({"text": "快递丢了", "sentiment": 0, "channel": "fax"}, "channel"),
    ],
)
async def test_a_bad_correction_is_refused_naming_its_field(
    served: Served, body: Any, field: str
) -> None:
    status, reply = await served.call("POST", "/api/corrections", json=body)
    assert (status, reply["field"]) == (400, field), reply
    assert reply["error"].startswith(f"{field}: ")
    assert (await served.call("GET", "/api/corrections"))[1]["count"] == 0
    assert served.registry.get_sample_value("vocwatch_corrections_total", {"kind": "category"}) in (
        None,
        0.0,
    )


@pytest.mark.parametrize("limit", ["0", "1001", "x", "-1", "2.5"])
async def test_the_corrections_limit_is_checked(served: Served, limit: str) -> None:
    status, reply = await served.call("GET", f"/api/corrections?limit={limit}")
    assert (status, reply["field"]) == (400, "limit")


async def test_corrections_need_the_token_and_a_store(served: Served, redis_url: str) -> None:
    body = {"text": "快递丢了", "category": "logistics"}
    status, _ = await served.call("POST", "/api/corrections", token=None, json=body)
    assert status == 401
    status, _ = await served.call("GET", "/api/corrections", token="wrong")
    assert status == 401
    async with serve(redis_url, "nostore", token="secret", corrections=None) as bare:
        status, reply = await bare.call("POST", "/api/corrections", json=body)
        assert status == 503 and "corrections" in reply["error"]
