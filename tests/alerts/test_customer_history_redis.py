"""RedisCustomerHistory against a real Redis-compatible server (valkey): by event time,
replay-safe, bounded, expiring, one slot per customer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from alerts.contacts import Contact
from alerts.customer_history import DUPLICATE, LATE, NEW, RedisCustomerHistory
from vocwatch.vocabulary import AlertKind, Polarity, Priority, Source

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0
DAY = 86400.0


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def history(client: aioredis.Redis, prefix: str, cap: int = 5) -> RedisCustomerHistory:
    return RedisCustomerHistory(client, prefix=prefix, history_seconds=30 * DAY, max_contacts=cap)


def contact(event_id: str, age: float, text: str = "快递一直没到") -> Contact:
    return Contact(
        f"complaint:{event_id}",
        NOW - age,
        Source.COMPLAINT,
        "app",
        "logistics",
        0.1,
        Polarity.NEGATIVE,
        Priority.P2,
        text,
        churn=("销户",),
    )


async def test_contacts_are_kept_in_event_time_order_and_read_back(
    client: aioredis.Redis, unique: str
) -> None:
    store = history(client, unique)
    late = contact("late", 2 * DAY)  # arrives now, happened two days ago
    state = (await store.record({"u1": [contact("a", 60), late]}, NOW))["u1"]
    assert state.flags == (NEW, NEW)
    assert [c.id for c in state.contacts] == ["complaint:late", "complaint:a"]
    assert state.contacts[0] == late  # every field survives the JSON
    assert state.handled == {}


async def test_a_contact_encoded_already_is_stored_as_given(
    client: aioredis.Redis, unique: str
) -> None:
    """The analysis process encodes each contact; the history stores that JSON as it is
    (the worker does not encode it again), and encodes the contacts it was not given."""
    store = history(client, unique)
    given, other = contact("a", 60), contact("b", 30)
    encoded = contact("a", 60, text="分析进程编码的").to_json()  # told apart by its text
    await store.record({"u1": [given, other]}, NOW, encoded={given.id: encoded})
    state = await store.read("u1", NOW + 1)
    assert [c.text for c in state.contacts] == ["分析进程编码的", "快递一直没到"]
    assert state.contacts[1] == other


async def test_a_replayed_contact_changes_nothing(client: aioredis.Redis, unique: str) -> None:
    store = history(client, unique)
    batch = {"u1": [contact("a", 60), contact("b", 30), contact("a", 60)]}
    first = (await store.record(batch, NOW))["u1"]
    again = (await store.record(batch, NOW + 5))["u1"]
    assert first.flags == (NEW, NEW, DUPLICATE)
    assert again.flags == (DUPLICATE,) * 3
    assert again.contacts == first.contacts


async def test_ids_are_per_source(client: aioredis.Redis, unique: str) -> None:
    store = history(client, unique)
    call = Contact(
        "call:a", NOW, Source.CALL, "call", "service", 0.5, Polarity.NEUTRAL, Priority.P3
    )
    state = (await store.record({"u1": [contact("a", 1), call]}, NOW))["u1"]
    assert state.flags == (NEW, NEW)


async def test_contacts_older_than_the_horizon_are_late_and_age_out(
    client: aioredis.Redis, unique: str
) -> None:
    store = history(client, unique)
    state = (await store.record({"u1": [contact("old", 31 * DAY), contact("a", DAY)]}, NOW))["u1"]
    assert state.flags == (LATE, NEW)
    later = (await store.record({"u1": []}, NOW + 30 * DAY))["u1"]
    assert later.contacts == ()  # a, 31 days old by then, is gone …
    replay = (await store.record({"u1": [contact("a", DAY)]}, NOW + 30 * DAY))["u1"]
    assert replay.flags == (LATE,)  # … and its replay is late


async def test_a_customer_keeps_the_newest_contacts_up_to_the_bound(
    client: aioredis.Redis, unique: str
) -> None:
    store = history(client, unique, cap=3)
    await store.record({"u1": [contact(f"e{i}", 100 - i) for i in range(5)]}, NOW)
    state = await store.read("u1", NOW)
    assert [c.id for c in state.contacts] == ["complaint:e2", "complaint:e3", "complaint:e4"]
    # A replay of a contact dropped for the bound does not come back …
    replay = (await store.record({"u1": [contact("e0", 100)]}, NOW))["u1"]
    assert replay.flags == (LATE,)
    # … a newer contact pushes the oldest out
    newer = (await store.record({"u1": [contact("e5", 50)]}, NOW))["u1"]
    assert [c.id for c in newer.contacts] == ["complaint:e3", "complaint:e4", "complaint:e5"]
    assert await client.hlen(store.redis_key("u1")) == 3


async def test_a_customers_key_has_its_hash_tag_and_expires(
    client: aioredis.Redis, unique: str
) -> None:
    store = history(client, unique)
    await store.record({"u{1}, x=y": [contact("a", 1)]}, NOW)
    key = store.redis_key("u{1}, x=y")
    assert key_slot(key.encode()) == key_slot(b"u%7B1%7D%2C%20x%3Dy")
    assert key.endswith("{u%7B1%7D%2C%20x%3Dy}")  # quoted: no brace of its own
    assert 0 < await client.ttl(key) <= 30 * DAY


async def test_handled_marks_are_read_with_the_contacts(
    client: aioredis.Redis, unique: str
) -> None:
    store = history(client, unique)
    await store.record({"u1": [contact("a", 60)]}, NOW)
    await store.mark_handled("u1", AlertKind.DETRACTOR, NOW - 60)
    state = await store.read("u1", NOW)
    assert state.handled == {AlertKind.DETRACTOR: NOW - 60}
    assert len(state.contacts) == 1  # a mark is no contact
    assert 0 < await client.ttl(store.redis_key("u1")) <= 30 * DAY


async def test_a_first_contact_comes_back_as_the_history_reads_it(
    client: aioredis.Redis, unique: str
) -> None:
    """The answer for a customer's first contact (the most common one) is read by a short
    path: its state must be the one the full reading of the stored history gives — and a
    first contact of a customer with a mark must still see the mark."""
    store = history(client, unique)
    first = contact("a", 60)
    state = (await store.record({"u1": [first]}, NOW))["u1"]
    assert state == (await store.read("u1", NOW))._replace(flags=(NEW,))
    assert state.contacts == (first,) and state.handled == {} and state.open == frozenset()
    await store.mark_handled("u2", AlertKind.CUSTOMER_RISK, NOW - 600)
    await store.mark_open({("u2", AlertKind.DETRACTOR): True})
    marked = (await store.record({"u2": [contact("b", 60)]}, NOW))["u2"]
    assert marked.flags == (NEW,)
    assert marked.handled == {AlertKind.CUSTOMER_RISK: NOW - 600}
    assert marked.open == frozenset({AlertKind.DETRACTOR})


async def test_concurrent_workers_add_each_contact_once(redis_url: str, unique: str) -> None:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(4)]
    try:
        stores = [history(c, unique, cap=100) for c in clients]
        batch: dict[str, list[Contact]] = {}
        for i in range(50):
            batch.setdefault(f"u{i % 7}", []).append(contact(f"e{i}", i))
        results = await asyncio.gather(*(s.record(batch, NOW) for s in stores))
        new = sum(f == NEW for r in results for state in r.values() for f in state.flags)
        assert new == 50
        assert sum(len(state.contacts) for state in results[0].values()) <= 50
    finally:
        for c in clients:
            await c.aclose()
