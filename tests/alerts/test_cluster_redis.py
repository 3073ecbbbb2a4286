"""The Redis adapters on a real Redis Cluster (集群) of three valkey-server nodes, through the
client the service builds with ``VOCWATCH_REDIS_CLUSTER=true``: windows, alert state,
baselines, series, the stream sink, the live feed, corrections, and a cluster that cannot be
reached."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry
from redis.crc import key_slot
from redis.exceptions import RedisError

from alerts.contacts import Contact
from alerts.customer_history import RedisCustomerHistory
from alerts.engine import AlertEngine
from alerts.lifecycle import Sample
from alerts.notifiers import RedisStreamSink
from alerts.observation import Observation
from alerts.rules import parse_rules, window_key
from alerts.series import Point, RedisSeries
from alerts.store import RedisAlertStore, RedisBaselineStore
from alerts.windows import DUPLICATE, NEW, RedisWindowStore
from classifiers.corrections import parse_correction
from streams.app import redis_client
from streams.corrections_store import RedisCorrections
from streams.redis_cluster import ClusterClientError
from tests.support import ListSink
from vocwatch.dev import embedded
from vocwatch.metrics import Metrics
from vocwatch.vocabulary import Polarity, Priority, Source

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
            }
        ]
    }
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[embedded.RedisCluster]:
    with embedded.RedisCluster() as servers:
        yield servers


@pytest.fixture
async def client(cluster: embedded.RedisCluster) -> AsyncIterator[Any]:
    client = redis_client(cluster.url, cluster=True)
    yield client
    await client.aclose()


def node_keys(cluster: embedded.RedisCluster, pattern: str) -> list[set[str]]:
    """The keys matching ``pattern`` that each node holds (a node scans only its own)."""
    found = []
    for node in cluster.nodes:
        with redis.Redis(host=node.host, port=node.port) as plain:
            found.append({k.decode() for k in plain.scan_iter(match=pattern, count=1000)})
    return found


def keys_on_every_node(cluster: embedded.RedisCluster, per_node: int) -> list[str]:
    """Region window keys (Chinese values), ``per_node`` in the slots of each node."""
    chosen: dict[int, list[str]] = {n: [] for n in range(len(cluster.nodes))}
    for i in itertools.count():
        key = window_key({"region": f"华东区{i}"})
        node = next(
            n
            for n, (first, last) in enumerate(cluster.slot_ranges)
            if first <= key_slot(key.encode()) <= last
        )
        if len(chosen[node]) < per_node:
            chosen[node].append(key)
        if all(len(keys) == per_node for keys in chosen.values()):
            return [k for keys in chosen.values() for k in keys]
    raise AssertionError("unreachable")


def make_engine(client: Any, prefix: str) -> AlertEngine:
    windows = RedisWindowStore(client, prefix=prefix, bucket_seconds=10, spans=[60])
    return AlertEngine(
        RULES,
        windows,
        RedisAlertStore(client, prefix=prefix),
        [ListSink()],
        Metrics.create(CollectorRegistry()),
        update_seconds=0,
        baselines=RedisBaselineStore(client, prefix=prefix),
        live_channel=f"{prefix}:alerts:live",
    )


async def incident(engine: AlertEngine, n: int = 6) -> None:
    states = await engine.windows.record(
        {KEY: [Observation(f"e{i}", NOW - 1, True, False) for i in range(n)]}, NOW
    )
    engine.activity.add_samples(KEY, [Sample("e0", "快递丢了", Priority.P2, NOW - 1)])
    await engine.on_batch({"burst": [KEY]}, states, NOW)


async def test_windows_count_each_event_once_on_the_node_of_its_key(
    cluster: embedded.RedisCluster, client: Any, unique: str
) -> None:
    store = RedisWindowStore(client, prefix=unique, bucket_seconds=10, spans=[60, 300])
    keys = keys_on_every_node(cluster, per_node=3)
    observations = {
        key: [
            Observation(f"{key}-{i}", NOW - 5 * i, negative=i % 2 == 0, p1=False) for i in range(4)
        ]
        for key in keys
    }
    first = await store.record(observations, NOW)
    assert {key: state.flags for key, state in first.items()} == dict.fromkeys(keys, (NEW,) * 4)
    again = await store.record(observations, NOW)  # a redelivered batch changes nothing
    assert {s.flags for s in again.values()} == {(DUPLICATE,) * 4}
    totals = await store.read(keys, NOW)
    assert {(s.totals[60].count, s.totals[60].negative) for s in totals.values()} == {(4, 2)}

    held = node_keys(cluster, f"{unique}:*")
    for node, key in zip(
        itertools.chain.from_iterable([n] * 3 for n in range(3)), keys, strict=True
    ):
        # Both keys of a window are on one node, the one serving the window key's slot.
        assert set(store.redis_keys(key)) <= held[node], (node, key)
    assert sum(map(len, held)) == 2 * len(keys)


async def test_a_script_the_nodes_forgot_is_loaded_again(
    cluster: embedded.RedisCluster, client: Any, unique: str
) -> None:
    store = RedisWindowStore(client, prefix=unique, bucket_seconds=10, spans=[60])
    keys = keys_on_every_node(cluster, per_node=1)
    await store.record({keys[0]: [Observation("a", NOW, True, False)]}, NOW)
    for node in cluster.nodes:  # a restart or failover forgets scripts
        with redis.Redis(host=node.host, port=node.port) as plain:
            plain.script_flush()
    states = await store.record({k: [Observation("b", NOW, True, False)] for k in keys}, NOW)
    assert [s.flags for s in states.values()] == [(NEW,)] * 3
    assert (await store.read([keys[0]], NOW))[keys[0]].totals[60].count == 2


async def test_customer_histories_are_one_script_call_per_slot_on_their_nodes(
    cluster: embedded.RedisCluster, client: Any, unique: str
) -> None:
    history = RedisCustomerHistory(
        client, prefix=unique, history_seconds=30 * 86400, max_contacts=10, cluster=True
    )
    customers = [f"客户{i}" for i in range(30)]  # spread over the slots of every node
    contacts = {
        c: [
            Contact(
                f"complaint:{c}-{n}",
                NOW - n,
                Source.COMPLAINT,
                "app",
                "other",
                0.5,
                Polarity.NEUTRAL,
                Priority.P3,
                "咨询",
            )
            for n in range(2)
        ]
        for c in customers
    }
    first = await history.record(contacts, NOW)
    assert {state.flags for state in first.values()} == {(NEW, NEW)}
    again = await history.record(contacts, NOW)
    assert {state.flags for state in again.values()} == {(DUPLICATE, DUPLICATE)}
    assert {len(state.contacts) for state in again.values()} == {2}
    held = node_keys(cluster, f"{unique}:customer:*")
    assert all(held), "every node holds some customers"
    assert set().union(*held) == {history.redis_key(c) for c in customers}


async def test_alert_state_baselines_series_and_stream_sink(client: Any, unique: str) -> None:
    engine = make_engine(client, unique)
    await incident(engine)
    (alert,) = await engine.store.all_active()
    assert alert.status == "firing"
    acked = await engine.acknowledge(alert.id, "张三", "处理中", NOW + 1)
    assert acked is not None and acked.acknowledged is not None
    (alert,) = await engine.store.all_active()
    assert alert.acknowledged is not None and alert.acknowledged.by == "张三"
    await engine.tick(NOW + 200)  # the burst is over: resolved
    assert await engine.store.all_active() == []
    assert [a.status for a in await engine.store.history()] == ["resolved"]

    baselines = RedisBaselineStore(client, prefix=unique)
    assert await baselines.claim_step(5) and not await baselines.claim_step(5)
    await baselines.register("spike", ["region=%E5%8C%97%E4%BA%AC", "region=x"], NOW)
    assert sorted(await baselines.keys("spike", NOW)) == ["region=%E5%8C%97%E4%BA%AC", "region=x"]

    series = RedisSeries(client, prefix=unique)
    minute = int(NOW // 60)
    await series.add(
        [
            Point("platform", "weibo", minute, True, 5000.0),
            Point("platform", "douyin", minute + 1, False),
            Point("category", "logistics", minute - 3000, True),
        ],
        [{"id": "p1", "time": NOW, "reach": 5000.0, "text": "差评"}],
    )
    read = await series.read("platform", NOW - 60, NOW + 120)
    assert (read["weibo"][minute].negative, read["douyin"][minute + 1].count) == (1, 1)
    assert [p["id"] for p in await series.top_posts(NOW - 60, NOW + 60)] == ["p1"]

    stream = f"{unique}:alerts:stream"
    await RedisStreamSink(client, stream, maxlen=10).send([{"id": "a1"}, {"id": "a2"}])
    assert await client.xlen(stream) == 2


async def test_corrections_merge_and_stay_bounded_in_their_one_slot(
    cluster: embedded.RedisCluster, client: Any, unique: str
) -> None:
    store = RedisCorrections(client, prefix=unique, max_corrections=2)
    for i in range(3):
        await store.add(parse_correction({"text": f"第{i}条", "sentiment": 0}, at=NOW + i))
    await store.add(parse_correction({"text": "第2条", "category": "price"}, at=NOW + 5))
    assert [(c.text, c.categories, c.sentiment) for c in await store.recent(5)] == [
        ("第2条", ("price",), "negative"),
        ("第1条", (), "negative"),
    ]
    assert [c.text async for c in store.all()] == ["第1条", "第2条"]
    held = node_keys(cluster, f"{unique}:*")
    assert sorted(k for keys in held for k in keys) == [
        f"{unique}:{{corrections}}",
        f"{unique}:{{corrections}}:order",
    ]
    assert sum(1 for keys in held if keys) == 1  # both on one node


async def until_subscribed(cluster: embedded.RedisCluster, channel: str) -> None:
    """Wait until some node of ``cluster`` has a subscriber on ``channel``: a message
    published before the subscription is in place reaches no one."""
    for _ in range(100):
        subscribers = 0
        for node in cluster.nodes:
            with redis.Redis(host=node.host, port=node.port) as plain:
                subscribers += sum(n for _, n in plain.pubsub_numsub(channel))
        if subscribers:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no subscriber on {channel} after 10 s")


async def test_the_live_feed_reaches_a_worker_whatever_node_publishes(
    cluster: embedded.RedisCluster, client: Any, unique: str
) -> None:
    """A worker's console subscribes through its cluster client; records published on any
    node reach it, and so do the alerts another worker raises."""
    engine = make_engine(client, unique)
    heard: list[dict[str, Any]] = []
    unsubscribe = engine.subscribe(heard.append)
    await until_subscribed(cluster, f"{unique}:alerts:live")
    for node in cluster.nodes:
        with redis.Redis(host=node.host, port=node.port) as plain:
            plain.publish(f"{unique}:alerts:live", f'{{"node": {node.port}}}')
    other_client = redis_client(cluster.url, cluster=True)
    try:
        await incident(make_engine(other_client, unique))
        for _ in range(150):
            if len(heard) == 4:
                break
            await asyncio.sleep(0.1)
    finally:
        unsubscribe()
        await other_client.aclose()
        if engine._listener is not None:
            engine._listener.cancel()
    assert sorted(r["node"] for r in heard if "node" in r) == sorted(n.port for n in cluster.nodes)
    assert [(r["rule"], r["notification"]) for r in heard if "rule" in r] == [("burst", "new")]


async def test_an_unreachable_cluster_fails_with_redis_errors() -> None:
    """Like a single server that is away: RedisError, which the pipeline retries, /health
    reports and the timer and live feed survive; redis-py's own RedisClusterException is
    not a RedisError."""
    client = redis_client(f"redis://127.0.0.1:{embedded.free_port()}/0", cluster=True)
    store = RedisWindowStore(client, prefix="x", bucket_seconds=10, spans=[60])
    try:
        with pytest.raises(ClusterClientError, match="cannot be connected"):
            await client.ping()
        with pytest.raises(RedisError):
            await store.record({KEY: [Observation("a", NOW, True, False)]}, NOW)
        with pytest.raises(RedisError):
            await RedisBaselineStore(client, prefix="x").claim_step(1)
        pubsub = client.pubsub()
        with pytest.raises(RedisError):
            await pubsub.subscribe("x:alerts:live")
        await pubsub.aclose()
    finally:
        await client.aclose()
