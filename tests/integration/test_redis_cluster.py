"""End to end on Redis Cluster (集群): the real ``vocwatch worker`` with
``VOCWATCH_REDIS_CLUSTER=true`` against the embedded broker and a real three-node cluster of
valkey-server. Events are counted once, in windows spread over every node; a burst raises
an alert that the API lists and acknowledges, the live feed streams and the routed Redis
stream sink receives — all read back through the cluster."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
import redis
from redis.crc import key_slot

from alerts.rules import window_key
from alerts.store import RedisAlertStore
from alerts.windows import RedisWindowStore
from streams.app import redis_client_for
from tests.support import eventually
from tests.workers import LiveWorker, WorkerFactory
from vocwatch.dev import embedded

pytestmark = pytest.mark.integration
TOKEN = "cluster-token"
STREAM = f"vocwatch-cluster-test-{uuid.uuid4().hex[:8]}"
RULES = f"""
rules:
  - name: burst
    key: [channel, category]
    window: 30s
    measure: negative_count
    threshold: 10
    min_count: 10
    priority: P2
  - name: region_volume
    description: never fires; keeps a window per region for the test to read
    key: [region]
    window: 5m
    measure: count
    threshold: 1000000
    priority: P3
teams:
  客服主管: {{sinks: [stream]}}
routes:
  - team: 客服主管
sinks:
  stream: {{type: redis_stream, stream: {STREAM}, maxlen: 1000}}
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[embedded.RedisCluster]:
    with embedded.RedisCluster() as servers:
        yield servers


@pytest.fixture(scope="module")
def worker(cluster: embedded.RedisCluster, module_worker_factory: WorkerFactory) -> LiveWorker:
    worker = module_worker_factory(
        RULES,
        name="cluster",
        redis=cluster,
        VOCWATCH_REDIS_CLUSTER="true",
        VOCWATCH_API_TOKEN=TOKEN,
        VOCWATCH_ANALYSIS_PROCESSES="0",
    )
    assert worker.settings.redis_cluster
    return worker


async def with_redis(worker: LiveWorker, use: Callable[[Any], Awaitable[Any]]) -> Any:
    """``use(client)`` with the client every vocwatch tool builds from the settings."""
    client = redis_client_for(worker.settings)
    try:
        return await use(client)
    finally:
        await client.aclose()


def complaint(event_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "customer_id": "u1",
        "channel": "web",
        "text": text,
        "created_at": time.time(),
        **extra,
    }


def regions_on_every_node(
    cluster: embedded.RedisCluster, per_node: int, tag: str
) -> dict[int, list[str]]:
    """Region names (Chinese) whose window keys fall in the slots of each node."""
    chosen: dict[int, list[str]] = {n: [] for n in range(len(cluster.nodes))}
    for i in itertools.count():
        region = f"华南{tag}区{i}"
        slot = key_slot(window_key({"region": region}).encode())
        node = next(
            n for n, (first, last) in enumerate(cluster.slot_ranges) if first <= slot <= last
        )
        if len(chosen[node]) < per_node:
            chosen[node].append(region)
        if all(len(names) == per_node for names in chosen.values()):
            return chosen
    raise AssertionError("unreachable")


def test_events_are_counted_once_in_windows_spread_over_every_node(
    cluster: embedded.RedisCluster, worker: LiveWorker
) -> None:
    tag = uuid.uuid4().hex[:6]
    regions = regions_on_every_node(cluster, per_node=2, tag=tag)
    names = [r for per_node in regions.values() for r in per_node]
    events = [
        complaint(f"r-{tag}-{i}-{j}", "物流有点慢", region=region)
        for i, region in enumerate(names)
        for j in range(5)
    ]
    for event in events + events[:10]:  # ten duplicates in the first pass
        worker.send("complaint", event)
    worker.flush()

    def window_store(client: Any) -> RedisWindowStore:
        settings = worker.settings
        return RedisWindowStore(
            client, prefix=settings.app_id, bucket_seconds=settings.bucket_seconds, spans=[300]
        )

    def counts() -> dict[str, int]:
        async def read(client: Any) -> dict[str, int]:
            keys = [window_key({"region": r}) for r in names]
            states = await window_store(client).read(keys, time.time())
            return {r: states[k].totals[300].count for r, k in zip(names, keys, strict=True)}

        return dict(asyncio.run(with_redis(worker, read)))

    eventually(
        lambda: counts() == dict.fromkeys(names, 5),
        timeout=60,
        what="5 events in each region's window",
    )
    duplicates = worker.metric("vocwatch_events_duplicate_total", source="complaint")
    for event in events:  # a full replay
        worker.send("complaint", event)
    worker.flush()
    eventually(
        lambda: (
            worker.metric("vocwatch_events_duplicate_total", source="complaint") >= duplicates + 30
        ),
        timeout=30,
        what="the replay is seen as duplicates",
    )
    assert counts() == dict.fromkeys(names, 5)

    # Each region's two keys are on the node that serves its slot: state is spread out.
    store = window_store(None)  # for its key names only
    for node, per_node in regions.items():
        server = cluster.nodes[node]
        with redis.Redis(host=server.host, port=server.port) as plain:
            held = {
                k.decode() for k in plain.scan_iter(match=f"{worker.settings.app_id}:*", count=1000)
            }
        for region in per_node:
            assert set(store.redis_keys(window_key({"region": region}))) <= held


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    """The first true answer of ``check``, asked every 0.2 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = await check()
        if answer:
            return answer
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


async def stream_into(http: aiohttp.ClientSession, url: str, records: list[dict[str, Any]]) -> None:
    """Append every record of the server-sent event stream at ``url`` to ``records``."""
    async with http.get(url) as response:
        async for line in response.content:
            if line.startswith(b"data: "):
                records.append(json.loads(line[6:]))


async def test_a_burst_alert_is_listed_acknowledged_and_streamed(worker: LiveWorker) -> None:
    tag = uuid.uuid4().hex[:6]
    key = {"channel": "email", "category": "logistics"}
    streamed: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        listener = asyncio.create_task(stream_into(http, f"{worker.base_url}/api/stream", streamed))
        await asyncio.sleep(1)
        text = "快递丢件了，包裹一直没收到，物流太慢了，差评"
        for i in range(15):
            worker.send("complaint", complaint(f"b-{tag}-{i}", text, channel="email"))
        await asyncio.to_thread(worker.flush)

        async def firing() -> dict[str, Any] | None:
            async with http.get(f"{worker.base_url}/api/alerts") as response:
                alerts = (await response.json())["alerts"]
            return next((a for a in alerts if a["key"] == key and a["status"] == "firing"), None)

        alert = await until(firing, 45, "a firing alert for the burst in GET /api/alerts")
        assert alert["rule"] == "burst" and alert["count"] >= 10
        async with http.post(
            f"{worker.base_url}/api/alerts/{alert['id']}/ack", json={"by": "张三", "note": "处理中"}
        ) as response:
            assert response.status == 200
            assert (await response.json())["acknowledged"]["by"] == "张三"

        async def both_streamed() -> bool:
            return {"new", "acknowledged"} <= {
                r["notification"] for r in streamed if r["id"] == alert["id"]
            }

        await until(both_streamed, 10, "the alert and its acknowledgement on /api/stream")
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    notifications = [r["notification"] for r in streamed if r["id"] == alert["id"]]
    assert notifications[0] == "new", streamed

    async def read_back(client: Any) -> tuple[Any, list[Any]]:
        active = await RedisAlertStore(client, prefix=worker.settings.app_id).all_active()
        return active, await client.xrange(STREAM)

    active, stream = await with_redis(worker, read_back)
    (stored,) = [a for a in active if a.id == alert["id"]]
    assert stored.acknowledged is not None and stored.acknowledged.by == "张三"
    records = [json.loads(fields[b"record"]) for _, fields in stream]
    assert any(r["id"] == alert["id"] and r["status"] == "firing" for r in records)
