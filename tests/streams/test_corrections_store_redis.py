"""RedisCorrections against a real Redis-compatible server (valkey): one correction per text,
merged field by field (also when two arrive at once), masked once more on the way in, listed
newest first, bounded by dropping the oldest, and exported as LABELS lines."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from classifiers.corrections import Correction, parse_correction, parse_label_line
from streams.corrections_store import RedisCorrections, export_labels
from vocwatch import redis_keys
from vocwatch.vocabulary import Category, Channel, Polarity

pytestmark = pytest.mark.integration
AT = 1_800_000_000.0


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def correction(text: str, at: float, **fields: object) -> Correction:
    return parse_correction({"text": text, **fields}, at=at)


async def test_a_text_has_one_correction_that_newer_ones_update(
    client: aioredis.Redis, unique: str
) -> None:
    store = RedisCorrections(client, prefix=unique)
    first = await store.add(
        correction("快递丢了", AT, category="logistics", channel="app", by="张三")
    )
    assert first.categories == (Category.LOGISTICS,) and first.sentiment is None
    second = await store.add(
        correction("快递丢了", AT + 60, sentiment="negative", source="alert:f-1")
    )
    assert second == Correction(
        "快递丢了",
        (Category.LOGISTICS,),
        Polarity.NEGATIVE,
        Channel.APP,
        AT + 60,
        "张三",
        "alert:f-1",
    )
    assert await store.count() == 1
    assert await store.recent(10) == [second]
    stored = await client.hget(redis_keys.corrections(unique), second.key)
    assert isinstance(stored, bytes) and parse_label_line(stored.decode()) == second


async def test_the_newest_come_first_and_the_limit_holds(
    client: aioredis.Redis, unique: str
) -> None:
    store = RedisCorrections(client, prefix=unique)
    for i in range(5):
        await store.add(correction(f"第{i}条", AT + i, sentiment=0))
    await store.add(correction("第1条", AT + 10, category="price"))  # corrected again: newest
    assert [c.text for c in await store.recent(3)] == ["第1条", "第4条", "第3条"]
    assert await store.count() == 5


async def test_past_the_cap_the_least_recently_corrected_go(
    client: aioredis.Redis, unique: str
) -> None:
    store = RedisCorrections(client, prefix=unique, max_corrections=3)
    for i in range(3):
        await store.add(correction(f"第{i}条", AT + i, sentiment=0))
    await store.add(correction("第0条", AT + 5, sentiment=1))  # kept: corrected lately
    await store.add(correction("第3条", AT + 6, sentiment=0))  # drops 第1条
    await store.add(correction("第4条", AT + 7, sentiment=0))  # drops 第2条
    assert [c.text for c in await store.recent(10)] == ["第4条", "第3条", "第0条"]
    assert await client.hlen(redis_keys.corrections(unique)) == 3
    assert await client.zcard(redis_keys.corrections_order(unique)) == 3


async def test_an_unmasked_text_never_reaches_redis(client: aioredis.Redis, unique: str) -> None:
    store = RedisCorrections(client, prefix=unique)
    # Made directly, not parsed: the store masks whatever it is given.
    stored = await store.add(Correction("请回电13812345678", (Category.SERVICE,), at=AT))
    assert stored.text == "请回电[PHONE]"
    raw = await client.hgetall(redis_keys.corrections(unique))
    assert "13812345678" not in str(raw) and "[PHONE]" in str(raw)
    assert list(raw) == [stored.key.encode()]


async def test_two_corrections_of_one_text_at_once_keep_both_fields(
    client: aioredis.Redis, redis_url: str, unique: str
) -> None:
    other = aioredis.Redis.from_url(redis_url)  # another worker's connection
    try:
        ours, theirs = (
            RedisCorrections(client, prefix=unique),
            RedisCorrections(other, prefix=unique),
        )
        for round_ in range(20):
            text = f"同时纠正{round_}"
            await asyncio.gather(
                ours.add(correction(text, AT, category="technical")),
                theirs.add(correction(text, AT, sentiment="neutral")),
            )
        for stored in await ours.recent(20):
            assert (stored.categories, stored.sentiment) == (
                (Category.TECHNICAL,),
                Polarity.NEUTRAL,
            ), stored
    finally:
        await other.aclose()


async def test_a_stored_entry_this_version_cannot_read_is_skipped_then_replaced(
    client: aioredis.Redis, unique: str
) -> None:
    store = RedisCorrections(client, prefix=unique)
    good = await store.add(correction("好的", AT, sentiment=1))
    broken = await store.add(correction("坏的", AT + 1, sentiment=0))
    corrupt = '{"text": "坏的", "sentiment": "happy"}'
    await client.hset(redis_keys.corrections(unique), broken.key, corrupt)
    assert await store.recent(10) == [good]
    assert [c async for c in store.all()] == [good]
    fixed = await store.add(correction("坏的", AT + 2, category="other"))
    assert (fixed.categories, fixed.sentiment) == ((Category.OTHER,), None)
    assert await store.recent(10) == [fixed, good]


async def test_export_writes_every_correction_oldest_first_as_label_lines(
    client: aioredis.Redis, unique: str
) -> None:
    store = RedisCorrections(client, prefix=unique)
    for i in range(7):
        await store.add(correction(f"第{i}条", AT + i, categories=["logistics", "service"]))
    out = io.StringIO()
    assert await export_labels(store, out.write) == 7
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["text"] for line in lines] == [f"第{i}条" for i in range(7)]
    assert json.loads(lines[0]) == {
        "text": "第0条",
        "categories": ["logistics", "service"],
        "at": "2027-01-15T08:00:00+00:00",
    }
    # read in chunks, the same
    assert [c.text async for c in store.all(chunk=3)] == [f"第{i}条" for i in range(7)]
    assert await export_labels(RedisCorrections(client, prefix=unique + "x"), out.write) == 0
