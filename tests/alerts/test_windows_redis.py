"""RedisWindowStore against a real Redis-compatible server (valkey)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from alerts.observation import Observation, survey_code
from alerts.rules import WindowCounts
from alerts.windows import (
    DUPLICATE,
    FIELDS,
    LATE,
    NEW,
    SURVEY_FIELDS,
    RedisWindowStore,
)

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
    state = (
        await windows.record(
            {KEY: [obs("a", 5), obs("b", 30, negative=False), obs("c", 120, p1=True)]}, NOW
        )
    )[KEY]
    assert state.flags == (NEW, NEW, NEW)
    # Every observation has a sentiment (0.5, neutral, unless told otherwise).
    assert state.totals[60] == WindowCounts(count=2, negative=1, p1=0, sentiment=1.0)
    assert state.totals[300] == WindowCounts(count=3, negative=2, p1=1, sentiment=1.5)


async def test_sums_of_sentiment_reach_calls_and_wait(client: aioredis.Redis, unique: str) -> None:
    windows = store(client, unique)
    post = Observation("post", NOW - 5, True, False, sentiment=0.125, reach_negative=15000.5)
    resolved = Observation(
        "call1",
        NOW - 10,
        False,
        False,
        sentiment=0.75,
        call=True,
        first_contact=True,
        wait_seconds=90.5,
    )
    unresolved = Observation(
        "call2", NOW - 100, True, True, sentiment=0.25, call=True, wait_seconds=400.25
    )
    # Not a call: its first-contact flag and wait are ignored.
    complaint = Observation(
        "c1", NOW - 20, True, False, sentiment=0.0, first_contact=True, wait_seconds=30.0
    )
    state = (await windows.record({KEY: [post, resolved, unresolved, complaint]}, NOW))[KEY]
    assert state.flags == (NEW, NEW, NEW, NEW)
    assert state.totals[60] == WindowCounts(
        count=3,
        negative=2,
        p1=0,
        sentiment=0.875,
        reach_negative=15000.5,
        calls=1,
        first_contact=1,
        wait=90.5,
    )
    total = state.totals[300]
    assert total == WindowCounts(
        count=4,
        negative=3,
        p1=1,
        sentiment=1.125,
        reach_negative=15000.5,
        calls=2,
        first_contact=1,
        wait=490.75,
    )
    # Floats come back as floats, counts as ints.
    for name in ("sentiment", "reach_negative", "wait"):
        assert type(getattr(total, name)) is float
    for name in ("count", "negative", "p1", "calls", "first_contact"):
        assert type(getattr(total, name)) is int
    assert total.measure("first_contact_resolution") == 0.5
    assert total.measure("mean_wait_seconds") == 245.375
    assert total.measure("mean_sentiment") == pytest.approx(1.125 / 4)
    # A read sees the same, and a replay adds nothing to any sum.
    again = (await windows.record({KEY: [post, resolved]}, NOW))[KEY]
    assert again.flags == (DUPLICATE, DUPLICATE)
    assert again.totals == (await windows.read([KEY], NOW))[KEY].totals == state.totals


async def test_float_sums_keep_their_precision(client: aioredis.Redis, unique: str) -> None:
    windows = store(client, unique)
    reaches = [1234567.0, 0.5, 2_000_000.25]
    observations = [
        Observation(f"p{i}", NOW - i, True, False, reach_negative=r) for i, r in enumerate(reaches)
    ]
    state = (await windows.record({KEY: observations}, NOW))[KEY]
    # Values travel as short decimals (six significant digits): close enough to alert on.
    assert state.totals[60].reach_negative == pytest.approx(sum(reaches), rel=1e-5)


async def test_only_non_zero_fields_are_written(client: aioredis.Redis, unique: str) -> None:
    windows = store(client, unique)
    plain = Observation("a", NOW, False, False, sentiment=0.0)
    await windows.record({KEY: [plain]}, NOW)
    bucket = str(int(NOW // windows.bucket_seconds))
    fields = await client.hkeys(windows.redis_keys(KEY)[0])
    assert fields == [bucket.encode()]
    busy = Observation(
        "b",
        NOW,
        True,
        True,
        sentiment=0.5,
        reach_negative=10.0,
        call=True,
        first_contact=True,
        wait_seconds=5.0,
    )
    await windows.record({KEY: [busy]}, NOW)
    fields = await client.hkeys(windows.redis_keys(KEY)[0])
    assert set(fields) == {bucket.encode(), *(f"{bucket}:{s}".encode() for s, _ in FIELDS)}


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


async def test_ids_with_spaces_and_separators_count_once(
    client: aioredis.Redis, unique: str
) -> None:
    """An event travels as one script argument with its id last: an id may hold spaces,
    tabs, newlines and digits like a time without being misread."""
    windows = store(client, unique)
    ids = ["a b", " lead", "tab\tnew\nline", "1800000000.0 1 0", "中文 id"]
    first = (await windows.record({KEY: [obs(i, 5) for i in ids]}, NOW))[KEY]
    again = (await windows.record({KEY: [obs(i, 5) for i in ids]}, NOW))[KEY]
    assert first.flags == (NEW,) * len(ids)
    assert again.flags == (DUPLICATE,) * len(ids)
    assert again.totals[60] == WindowCounts(count=5, negative=5, p1=0, sentiment=2.5)
    members = await client.zrange(windows.redis_keys(KEY)[1], 0, -1)
    assert sorted(members) == sorted(i.encode() for i in ids)


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
    per_bucket = 1 + len(FIELDS)
    for step in range(60):
        # Every field of every bucket written: 8 fields a second, 480 untrimmed.
        event = Observation(
            f"e{step}",
            NOW + step,
            True,
            True,
            sentiment=0.5,
            reach_negative=1.0,
            call=True,
            first_contact=True,
            wait_seconds=1.0,
        )
        await windows.record({KEY: [event]}, NOW + step)
    fields = await client.hlen(windows.redis_keys(KEY)[0])
    # The script trims once there are more fields than the retention's buckets (+ 2) hold.
    assert fields <= per_bucket * (windows.retention + 2)
    assert await client.zcard(windows.redis_keys(KEY)[1]) <= windows.retention + 1
    # What is left still counts the window right.
    state = (await windows.read([KEY], NOW + 59))[KEY]
    assert state.totals[5] == WindowCounts(
        count=5,
        negative=5,
        p1=5,
        sentiment=2.5,
        reach_negative=5.0,
        calls=5,
        first_contact=5,
        wait=5.0,
    )


def survey(event_id: str, age: float, kind: str, score: int) -> Observation:
    return Observation(event_id, NOW - age, False, False, survey=survey_code(kind, score))


async def test_survey_responses_add_their_sums(client: aioredis.Redis, unique: str) -> None:
    windows = store(client, unique)
    responses = [
        survey("n1", 5, "nps", 10),
        survey("n2", 6, "nps", 9),
        survey("n3", 7, "nps", 8),  # a passive: a response, neither promoter nor detractor
        survey("n4", 8, "nps", 0),
        survey("c1", 9, "csat", 2),
        survey("c2", 10, "csat", 5),
        survey("e1", 120, "ces", 6),  # in the 5-minute window only
    ]
    state = (await windows.record({KEY: responses}, NOW))[KEY]
    assert state.flags == (NEW,) * 7
    minute = state.totals[60]
    assert (minute.nps, minute.promoters, minute.detractors) == (4, 2, 1)
    assert (minute.csat, minute.csat_sum, minute.csat_squares) == (2, 7, 29)
    assert minute.ces == 0 and minute.count == 6
    assert minute.measure("nps") == 25.0 and minute.measure("csat") == 3.5
    assert (state.totals[300].ces, state.totals[300].ces_sum) == (1, 6)
    again = (await windows.record({KEY: responses[:2]}, NOW))[KEY]
    assert again.flags == (DUPLICATE, DUPLICATE)
    assert again.totals == state.totals


async def test_keys_no_survey_reached_read_no_survey_sums(
    client: aioredis.Redis, unique: str
) -> None:
    windows = store(client, unique)
    await windows.record({KEY: [obs("a", 5)], "source=survey": [survey("s", 5, "nps", 3)]}, NOW)
    buckets = await client.hkeys(windows.redis_keys(KEY)[0])
    assert b"survey" not in buckets
    marked = await client.hkeys(windows.redis_keys("source=survey")[0])
    assert b"survey" in marked
    states = await windows.read([KEY, "source=survey"], NOW)
    assert states["source=survey"].totals[60].detractors == 1
    assert states[KEY].totals[60] == WindowCounts(count=1, negative=1, sentiment=0.5)


async def test_survey_bucket_fields_are_trimmed_too(client: aioredis.Redis, unique: str) -> None:
    windows = RedisWindowStore(client, prefix=unique, bucket_seconds=1, spans=[5])
    for step in range(60):
        for kind in ("nps", "csat"):
            event = Observation(
                f"{kind}{step}", NOW + step, True, True, survey=survey_code(kind, 1)
            )
            await windows.record({KEY: [event]}, NOW + step)
    fields = await client.hlen(windows.redis_keys(KEY)[0])
    per_bucket = 1 + len(FIELDS) + len(SURVEY_FIELDS)
    assert fields <= per_bucket * (windows.retention + 2) + 1
    state = (await windows.read([KEY], NOW + 59))[KEY]
    assert (state.totals[5].nps, state.totals[5].detractors, state.totals[5].csat_sum) == (5, 5, 5)
