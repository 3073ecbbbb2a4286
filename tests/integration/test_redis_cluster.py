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
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from kafka import KafkaProducer
from redis.crc import key_slot

from alerts.rules import window_key
from alerts.store import RedisAlertStore
from alerts.windows import RedisWindowStore
from streams.app import redis_client_for
from tests.support import worker_env
from vocwatch.dev import embedded
from vocwatch.settings import Settings

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


@dataclass
class Worker:
    settings: Settings
    cluster: embedded.RedisCluster
    base_url: str
    producer: KafkaProducer

    def send(self, event: dict[str, Any]) -> None:
        self.producer.send(
            self.settings.complaints_topic, value=json.dumps(event, ensure_ascii=False).encode()
        )

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"{self.base_url}/metrics", timeout=5) as reply:  # noqa: S310
            lines = reply.read().decode().splitlines()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in lines
            if line.startswith(name + "{") and 'source="complaint"' in line
        )

    async def redis(self, use: Callable[[Any], Awaitable[Any]]) -> Any:
        """``use(client)`` with the client every vocwatch tool builds from the settings."""
        client = redis_client_for(self.settings)
        try:
            return await use(client)
        finally:
            await client.aclose()


@pytest.fixture(scope="module")
def worker(
    broker_server: embedded.ChildServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    tmp = tmp_path_factory.mktemp("cluster")
    log = tmp / "worker.log"
    with embedded.RedisCluster() as cluster:
        env = worker_env(
            broker_server,
            cluster,
            tmp,
            RULES,
            name="cluster",
            VOCWATCH_REDIS_CLUSTER="true",
            VOCWATCH_API_TOKEN=TOKEN,
            VOCWATCH_ANALYSIS_PROCESSES="0",
        )
        settings = Settings.from_env(env)
        assert settings.redis_cluster
        base_url = f"http://127.0.0.1:{settings.web_port}"
        process = embedded.start_worker(env, log)
        producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
        try:
            embedded.wait_until(
                lambda: _healthy(base_url), timeout=90, what="worker /health", process=process
            )
            yield Worker(settings, cluster, base_url, producer)
        finally:
            producer.close()
            embedded.stop_process(process)
            print(_tail(log))


def _healthy(base_url: str) -> bool:
    with urllib.request.urlopen(f"{base_url}/health", timeout=2) as reply:  # noqa: S310
        body = json.load(reply)
    return bool(body["status"] == "ok" and body["redis"] is True)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else ""


def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout} s: {what}")


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


def test_events_are_counted_once_in_windows_spread_over_every_node(worker: Worker) -> None:
    tag = uuid.uuid4().hex[:6]
    regions = regions_on_every_node(worker.cluster, per_node=2, tag=tag)
    names = [r for per_node in regions.values() for r in per_node]
    events = [
        complaint(f"r-{tag}-{i}-{j}", "物流有点慢", region=region)
        for i, region in enumerate(names)
        for j in range(5)
    ]
    for event in events + events[:10]:  # ten duplicates in the first pass
        worker.send(event)
    worker.producer.flush()
    store_args = {
        "prefix": worker.settings.app_id,
        "bucket_seconds": worker.settings.bucket_seconds,
        "spans": [300],
    }

    def counts() -> dict[str, int]:
        async def read(client: Any) -> dict[str, int]:
            keys = [window_key({"region": r}) for r in names]
            states = await RedisWindowStore(client, **store_args).read(keys, time.time())
            return {r: states[k].totals[300].count for r, k in zip(names, keys, strict=True)}

        return dict(asyncio.run(worker.redis(read)))

    eventually(
        lambda: counts() == dict.fromkeys(names, 5),
        timeout=60,
        what="5 events in each region's window",
    )
    duplicates = worker.metric("vocwatch_events_duplicate_total")
    for event in events:  # a full replay
        worker.send(event)
    worker.producer.flush()
    eventually(
        lambda: worker.metric("vocwatch_events_duplicate_total") >= duplicates + 30,
        timeout=30,
        what="the replay is seen as duplicates",
    )
    assert counts() == dict.fromkeys(names, 5)

    # Each region's two keys are on the node that serves its slot: state is spread out.
    store = RedisWindowStore(object(), **store_args)  # for its key names only
    for node, per_node in regions.items():
        server = worker.cluster.nodes[node]
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


async def test_a_burst_alert_is_listed_acknowledged_and_streamed(worker: Worker) -> None:
    tag = uuid.uuid4().hex[:6]
    key = {"channel": "email", "category": "logistics"}
    streamed: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        listener = asyncio.create_task(stream_into(http, f"{worker.base_url}/api/stream", streamed))
        await asyncio.sleep(1)
        text = "快递丢件了，包裹一直没收到，物流太慢了，差评"
        for i in range(15):
            worker.send(complaint(f"b-{tag}-{i}", text, channel="email"))
        await asyncio.to_thread(worker.producer.flush)

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

    active, stream = await worker.redis(read_back)
    (stored,) = [a for a in active if a.id == alert["id"]]
    assert stored.acknowledged is not None and stored.acknowledged.by == "张三"
    records = [json.loads(fields[b"record"]) for _, fields in stream]
    assert any(r["id"] == alert["id"] and r["status"] == "firing" for r in records)
