"""RedisWindowStore against a real Redis-compatible server (valkey)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from alerts.rules import WindowCounts
from alerts.windows import DUPLICATE, LATE, NEW, Observation, RedisWindowStore

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0
KEY = "channel=app,category=logistics"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def store(client: aioredis.Redis, prefix: str) -> RedisWindowStore:
    return RedisWindowStore(client, prefix=prefix, bucket_seconds=10, spans=[300, 60])


def obs(event_id: str, age: float, negative: bool = True, p1: bool = False) -> Observation:
    return Observation(event_id, NOW - age, negative, p1)


async def test_counts_per_span_and_measures(client: aioredis.Redis, unique: str) -> None:
    windows = store(client, unique)
    state = (await windows.record({KEY: [obs("a", 5), obs("b", 30, negative=False),
                                         obs("c", 120, p1=True)]}, NOW))[KEY]
    assert state.flags == (NEW, NEW, NEW)
    assert state.totals[60] == WindowCounts(count=2, negative=1, p1=0)
    assert state.totals[300] == WindowCounts(count=3, negative=2, p1=1)


async def test_replayed_ids_are_not_counted_twice(client: aioredis.Redis, unique: str) -> None:
    windows = store(client, unique)
    batch = {KEY: [obs("a", 5), obs("b", 6), obs("a", 5)]}
    first = (await windows.record(batch, NOW))[KEY]
    again = (await windows.record(batch, NOW + 1))[KEY]
    assert first.flags == (NEW, NEW, DUPLICATE)
    assert again.flags == (DUPLICATE, DUPLICATE, DUPLICATE)
    assert again.totals[300].count == 2


async def test_concurrent_writers_count_each_id_once(redis_url: str, unique: str) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(4)]
    try:
        stores = [store(c, unique) for c in clients]
        batch = {KEY: [obs(f"e{i}", i % 50) for i in range(200)]}
        results = await asyncio.gather(*(s.record(batch, NOW) for s in stores))
        new = sum(flag == NEW for r in results for flag in r[KEY].flags)
        assert new == 200
        final = await stores[0].read([KEY], NOW)
        assert final[KEY].totals[300].count == 200
    finally:
        for c in clients:
            await c.aclose()


async def test_late_events_count_nowhere(client: aioredis.Redis, unique: str) -> None:
    windows = store(client, unique)
    state = (await windows.record({KEY: [obs("old", windows.retention + 1)]}, NOW))[KEY]
    assert state.flags == (LATE,)
    assert state.totals[300].count == 0


async def test_future_events_count_now(client: aioredis.Redis, unique: str) -> None:
    windows = store(client, unique)
    state = (await windows.record({KEY: [Observation("f", NOW + 3600, True, False)]}, NOW))[KEY]
    assert state.flags == (NEW,)
    assert state.totals[60].count == 1


async def test_window_slides_and_ids_expire_with_it(client: aioredis.Redis, unique: str) -> None:
    windows = store(client, unique)
    await windows.record({KEY: [obs("a", 0)]}, NOW)
    assert (await windows.read([KEY], NOW + 61))[KEY].totals[60].count == 0
    assert (await windows.read([KEY], NOW + 61))[KEY].totals[300].count == 1
    later = NOW + windows.retention + 20
    assert (await windows.read([KEY], later))[KEY].totals[300].count == 0
    # After the retention the id is forgotten together with its bucket: a replay is late.
    state = (await windows.record({KEY: [obs("a", 0)]}, later))[KEY]
    assert state.flags == (LATE,)
    ids_key = windows.redis_keys(KEY)[1]
    assert await client.zcard(ids_key) == 0


async def test_keys_share_a_hash_tag_and_expire(client: aioredis.Redis, unique: str) -> None:
    windows = store(client, unique)
    await windows.record({KEY: [obs("a", 0)]}, NOW)
    buckets, ids = windows.redis_keys(KEY)
    assert buckets.split("{")[1].split("}")[0] == ids.split("{")[1].split("}")[0] == KEY
    for key in (buckets, ids):
        ttl = await client.ttl(key)
        assert 0 < ttl <= windows.retention + windows.bucket_seconds


async def test_old_bucket_fields_are_trimmed(client: aioredis.Redis, unique: str) -> None:
    windows = RedisWindowStore(client, prefix=unique, bucket_seconds=1, spans=[5])
    for step in range(60):
        await windows.record({KEY: [Observation(f"e{step}", NOW + step, True, False)]},
                             NOW + step)
    fields = await client.hlen(windows.redis_keys(KEY)[0])
    assert fields <= 3 * (windows.retention + 2) + 2
    assert await client.zcard(windows.redis_keys(KEY)[1]) <= windows.retention + 1
