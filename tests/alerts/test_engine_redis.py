"""AlertEngine with real Redis state: one incident is one alert, updated, then resolved."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

import alerts.engine
import alerts.store
from alerts.engine import AlertEngine
from alerts.lifecycle import Alert, Sample
from alerts.observation import Observation
from alerts.rules import parse_rules
from alerts.store import RedisAlertStore
from alerts.windows import RedisWindowStore
from tests.support import ListSink
from vocwatch.metrics import Metrics
from vocwatch.vocabulary import AlertKind, AlertStatus, Priority

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


class BrokenSink:
    name = "broken"

    async def deliver(self, record: dict[str, Any]) -> None:
        raise ConnectionError("webhook down")


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def make_engine(
    client: aioredis.Redis, prefix: str, sink: Any, registry: CollectorRegistry | None = None
) -> AlertEngine:
    windows = RedisWindowStore(client, prefix=prefix, bucket_seconds=10, spans=[60])
    return AlertEngine(
        RULES,
        windows,
        RedisAlertStore(client, prefix=prefix),
        [BrokenSink(), sink],
        Metrics.create(registry or CollectorRegistry()),
        update_seconds=30,
    )


async def feed(
    engine: AlertEngine, ids: range, now: float, key: str = KEY, rule: str = "burst"
) -> list[Any]:
    observations = [Observation(f"e{i}", now - 1, True, False) for i in ids]
    samples = [
        Sample(
            f"e{i}", f"快递{i}天没到 电话[PHONE]", Priority.P2, now - 1, True, "complaint", "app"
        )
        for i in ids
    ]
    states = await engine.windows.record({key: observations}, now)
    engine.activity.add_samples(key, samples)
    return await engine.on_batch({rule: [key]}, states, now)


async def test_incident_fires_updates_and_resolves_as_one_alert(
    client: aioredis.Redis, unique: str
) -> None:
    sink = ListSink()
    registry = CollectorRegistry()
    engine = make_engine(client, unique, sink, registry)

    assert await feed(engine, range(4), NOW) == []  # below threshold
    fired = await feed(engine, range(4, 6), NOW + 1)  # 6 ≥ 5: fires
    assert [a.status for a in fired] == ["firing"]
    assert await feed(engine, range(6, 8), NOW + 5) == []  # changed, but throttled
    updated = await feed(engine, range(8, 9), NOW + 40)  # after update_seconds
    assert [a.status for a in updated] == ["firing"]
    assert await engine.reevaluate(NOW + 41) == []  # still firing, unchanged
    assert registry.get_sample_value("vocwatch_alerts_firing", {"rule": "burst"}) == 1
    resolved = await engine.reevaluate(NOW + 200)  # window emptied
    assert [a.status for a in resolved] == ["resolved"]
    assert registry.get_sample_value("vocwatch_alerts_firing", {"rule": "burst"}) == 0

    ids = {r["id"] for r in sink.records}
    assert len(ids) == 1, "one incident must be one alert"
    assert [r["status"] for r in sink.records] == ["firing", "firing", "resolved"]
    assert [r["notification"] for r in sink.records] == ["new", "update", "resolved"]
    first = sink.records[0]
    assert first["key"] == {"channel": "app", "category": "logistics"}
    assert first["count"] == 6 and first["threshold"] == 5
    assert len(first["samples"]) == 3
    assert all("[PHONE]" in s["text"] for s in first["samples"])
    assert first["channels"] == ["app"] and first["severity"] == 1.2
    assert sink.records[1]["count"] == 9 and sink.records[1]["sequence"] == 1
    assert await RedisAlertStore(client, prefix=unique).all_active() == []
    assert (
        registry.get_sample_value(
            "vocwatch_alerts_total", {"rule": "burst", "priority": "P2", "status": "firing"}
        )
        == 2
    )
    assert (
        registry.get_sample_value(
            "vocwatch_sink_deliveries_total", {"sink": "list", "outcome": "sent"}
        )
        == 3
    )
    assert (
        registry.get_sample_value(
            "vocwatch_sink_deliveries_total", {"sink": "broken", "outcome": "failed"}
        )
        == 3
    )


async def test_a_new_incident_after_resolution_is_a_new_alert(
    client: aioredis.Redis, unique: str
) -> None:
    sink = ListSink()
    engine = make_engine(client, unique, sink)
    await feed(engine, range(6), NOW)
    await engine.reevaluate(NOW + 200)
    await feed(engine, range(100, 106), NOW + 300)
    firing = [r for r in sink.records if r["status"] == "firing"]
    assert len(firing) == 2 and firing[0]["id"] != firing[1]["id"]


async def test_alert_state_survives_a_restart(client: aioredis.Redis, unique: str) -> None:
    sink = ListSink()
    await feed(make_engine(client, unique, sink), range(6), NOW)
    restarted = make_engine(client, unique, sink)  # a fresh worker
    await feed(restarted, range(6, 12), NOW + 40)
    assert len({r["id"] for r in sink.records}) == 1
    assert sink.records[-1]["count"] == 12


async def test_two_workers_seeing_one_incident_make_one_alert(redis_url: str, unique: str) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    try:
        sink = ListSink()
        engines = [make_engine(c, unique, sink) for c in clients]
        windows = engines[0].windows
        states = await windows.record(
            {KEY: [Observation(f"e{i}", NOW, True, False) for i in range(6)]}, NOW
        )
        for engine in engines:
            await engine.on_batch({"burst": [KEY]}, states, NOW)
        assert len({r["id"] for r in sink.records}) == 1
        assert len(await engines[1].store.all_active()) == 1
    finally:
        for c in clients:
            await c.aclose()


async def test_alert_state_of_an_older_format_is_ignored_not_fatal(
    client: aioredis.Redis, unique: str
) -> None:
    store = RedisAlertStore(client, prefix=unique)
    await client.hset(store.key, "old", '{"id": "old-1", "rule": "burst", "status": "firing"}')
    await client.hset(store.key, "junk", "not json")
    sink = ListSink()
    engine = make_engine(client, unique, sink)
    assert await store.all_active() == []
    assert await engine.reevaluate(NOW) == []
    await feed(engine, range(6), NOW)  # the engine still works
    assert [a.rule for a in await store.all_active()] == ["burst"]


async def test_many_active_alerts_are_stored_at_once_and_a_resolved_one_is_refused(
    client: aioredis.Redis, unique: str
) -> None:
    store = RedisAlertStore(client, prefix=unique)
    engine = make_engine(client, unique, ListSink())
    await feed(engine, range(6), NOW)
    [fired] = await store.all_active()
    moved = [
        dataclasses.replace(fired, fingerprint=f"fp{i}", value=float(i), window_end=NOW + i)
        for i in range(3)
    ]
    await store.save_many(moved)
    assert sorted(await store.all_active(), key=lambda a: a.fingerprint) == [fired, *moved]
    resolved = dataclasses.replace(fired, status=AlertStatus.RESOLVED)
    with pytest.raises(ValueError, match="resolved"):
        await store.save_many([moved[0], resolved])
    assert len(await store.all_active()) == 4  # nothing of the refused call was stored


async def test_a_state_changed_by_another_worker_is_read_again(
    client: aioredis.Redis, unique: str
) -> None:
    mine, theirs = RedisAlertStore(client, prefix=unique), RedisAlertStore(client, prefix=unique)
    engine = make_engine(client, unique, ListSink())
    await feed(engine, range(6), NOW)
    [fired] = await mine.all_active()
    assert await mine.all_active() == [fired]  # read again, unchanged
    changed = dataclasses.replace(fired, value=99.0, window_end=NOW + 30)
    await theirs.save(changed)
    assert await mine.all_active() == [changed]
    await theirs.save(dataclasses.replace(changed, status=AlertStatus.RESOLVED))
    assert await mine.all_active() == []


async def open_customer_alerts(
    client: aioredis.Redis, prefix: str, count: int
) -> tuple[RedisAlertStore, Alert, list[Alert]]:
    """A window alert fired, and ``count`` customer alerts saved beside it (c0, c1 …)."""
    store = RedisAlertStore(client, prefix=prefix)
    await feed(make_engine(client, prefix, ListSink()), range(6), NOW)
    [window_alert] = await store.all_active()
    customers = [
        dataclasses.replace(window_alert, kind=AlertKind.CUSTOMER_RISK, fingerprint=f"c{i}")
        for i in range(count)
    ]
    await store.save_many(customers)
    return store, window_alert, customers


async def test_a_customer_alert_is_kept_as_a_summary_and_read_whole_on_request(
    client: aioredis.Redis, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, window_alert, customers = await open_customer_alerts(client, unique, 3)
    read_whole: list[weakref.ref[Alert]] = []
    load = alerts.store._load

    def counted(state: bytes | str) -> Alert | None:
        alert = load(state)
        if alert is not None and alert.kind == AlertKind.CUSTOMER_RISK:
            read_whole.append(weakref.ref(alert))
        return alert

    monkeypatch.setattr(alerts.store, "_load", counted)
    read = await store.active()
    assert sorted(s.fingerprint for s in read.summaries) == sorted(
        [window_alert.fingerprint, "c0", "c1", "c2"]
    )
    assert read_whole == []  # the summaries were read, not the states
    summary = next(s for s in read.summaries if s.fingerprint == "c1")
    assert await read.alert(summary) == customers[1]
    del read
    gc.collect()
    assert len(read_whole) == 1  # read on request, and not kept alive after
    assert all(ref() is None for ref in read_whole)
    again = await store.active()
    assert len(read_whole) == 1
    assert {s.fingerprint: s.kind for s in again.summaries}["c2"] == AlertKind.CUSTOMER_RISK


async def test_the_timer_reads_the_summaries_not_the_states(
    client: aioredis.Redis, unique: str
) -> None:
    """A step with thousands of open customer alerts read every state (about 4 kB each, 80 MB
    for 20,000) every few seconds; it reads their summaries."""
    store, window_alert, _ = await open_customer_alerts(client, unique, 1)
    await client.hset(store.key, "c0", b"\xff not the state")  # the state is not read…
    read = await store.active()
    assert {s.fingerprint for s in read.summaries} == {window_alert.fingerprint, "c0"}
    [summary] = [s for s in read.summaries if s.fingerprint == "c0"]
    assert await read.alert(summary) is None  # …until asked for, and then it is unreadable


async def test_summaries_are_rebuilt_from_the_states_and_left_overs_removed(
    client: aioredis.Redis, unique: str
) -> None:
    """States with no summary (written by a version before summaries, or a worker stopped
    between the two writes) get one; a summary whose state is gone is forgotten."""
    store, window_alert, _ = await open_customer_alerts(client, unique, 3)
    await client.delete(store.summaries_key)
    await client.hdel(store.key, "c2")  # and one state gone behind the store's back
    fresh = RedisAlertStore(client, prefix=unique)
    assert sorted(a.fingerprint for a in await fresh.all_active()) == sorted(
        [window_alert.fingerprint, "c0", "c1"]
    )
    assert await client.hlen(store.summaries_key) == 3
    await client.hset(store.summaries_key, "ghost", (await client.hget(store.summaries_key, "c0")))
    read = await fresh.active()
    assert "ghost" not in {s.fingerprint for s in read.summaries}
    assert not await client.hexists(store.summaries_key, "ghost")


async def test_an_alert_resolved_after_the_summaries_were_read_is_not_returned(
    client: aioredis.Redis, unique: str
) -> None:
    store, window_alert, [customer] = await open_customer_alerts(client, unique, 1)
    read = await store.active()
    await store.save(dataclasses.replace(customer, status=AlertStatus.RESOLVED))
    assert [a.fingerprint for a in await read.alerts(read.summaries)] == [window_alert.fingerprint]
    assert not await client.hexists(store.summaries_key, "c0")


class CountingFollower:
    """Keeps every alert as it is and counts the times it was asked."""

    needs_note = False

    def __init__(self) -> None:
        self.asked: list[float] = []

    def reassess(self, alert: Any, now: float) -> tuple[Any, None]:
        self.asked.append(now)
        return alert, None

    async def acknowledged(self, alert: Any, now: float) -> tuple[None, None]:
        return None, None


async def test_the_timer_asks_about_a_customer_alert_once_per_update_interval(
    client: aioredis.Redis, unique: str
) -> None:
    store = RedisAlertStore(client, prefix=unique)
    engine = make_engine(client, unique, ListSink())
    follower = CountingFollower()
    engine.followers[AlertKind.CUSTOMER_RISK] = follower
    await feed(engine, range(6), NOW)
    [window_alert] = await store.all_active()
    customer = dataclasses.replace(
        window_alert, kind=AlertKind.CUSTOMER_RISK, fingerprint="cust", updated_at=NOW
    )
    await store.save(customer)
    for step in range(0, 65, 5):  # a step every 5 s; update_seconds is 30
        await engine.tick(NOW + step)
    assert follower.asked == [NOW + 30, NOW + 60]
    # the window alert is re-evaluated at every step still: its breach ended, it resolved
    assert [a.fingerprint for a in await store.all_active()] == ["cust"]


class LoopWatchingFollower(CountingFollower):
    """Notes, at each question, how often another task has run and whether the engine's
    follow lock is held."""

    def __init__(self, engine: AlertEngine, turns: list[int]) -> None:
        super().__init__()
        self.engine, self.turns = engine, turns
        self.seen: list[tuple[int, bool]] = []

    def reassess(self, alert: Any, now: float) -> tuple[Any, None]:
        self.seen.append((len(self.turns), self.engine.follow_lock.locked()))
        return super().reassess(alert, now)


async def test_the_timer_decides_customer_alerts_a_chunk_at_a_time_letting_batches_run(
    client: aioredis.Redis, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts.engine, "FOLLOW_CHUNK", 2)
    store = RedisAlertStore(client, prefix=unique)
    engine = make_engine(client, unique, ListSink())
    turns: list[int] = []
    follower = LoopWatchingFollower(engine, turns)
    engine.followers[AlertKind.CUSTOMER_RISK] = follower
    await feed(engine, range(6), NOW)
    [window_alert] = await store.all_active()
    for n in range(5):
        await store.save(
            dataclasses.replace(
                window_alert, kind=AlertKind.CUSTOMER_RISK, fingerprint=f"c{n}", updated_at=NOW
            )
        )
    done = False

    async def other_task() -> None:  # a batch's work, which the step must let through
        while not done:
            turns.append(1)
            await asyncio.sleep(0)

    running = asyncio.create_task(other_task())
    await engine.tick(NOW + 30)
    done = True
    await running
    # five due alerts in chunks of two: each decided under the lock, and the other task
    # ran between the chunks, not within one
    assert all(locked for _, locked in follower.seen)
    assert len(follower.seen) == 5
    first, second, third = (
        {t for t, _ in follower.seen[:2]},
        {t for t, _ in follower.seen[2:4]},
        {t for t, _ in follower.seen[4:]},
    )
    assert len(first) == len(second) == len(third) == 1
    assert max(first) < min(second) < min(third)
    assert not engine.follow_lock.locked()


async def test_the_alerts_a_batch_keeps_active_are_stored_in_one_round_trip(
    client: aioredis.Redis, unique: str
) -> None:
    store = RedisAlertStore(client, prefix=unique)
    sink = ListSink()
    engine = make_engine(client, unique, sink)
    keys = [f"channel=app,category=c{i}" for i in range(3)]
    for n, key in enumerate(keys):
        await feed(engine, range(10 * n, 10 * n + 6), NOW, key=key)
    assert len(await store.all_active()) == 3

    async def hset_calls() -> int:
        stats = await client.info("commandstats")
        return int(stats.get("cmdstat_hset", {}).get("calls", 0))

    before = await hset_calls()
    later = NOW + 40  # past the update interval: every alert has news to tell
    observations = {k: [Observation(f"x{i}", later - 1, True, False)] for i, k in enumerate(keys)}
    states = await engine.windows.record(observations, later)
    told = await engine.on_batch({"burst": keys}, states, later)
    # one HSET of the three states and one of their summaries, not one per alert
    assert await hset_calls() - before == 2
    assert sorted(a.key for a in told) == sorted(keys)
    stored = {a.key: a for a in await store.all_active()}
    assert all(stored[a.key] == a for a in told)  # what was told is what is stored
