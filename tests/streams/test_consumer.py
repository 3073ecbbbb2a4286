"""The consumer's message loop (streams/consumer.py): a delivery races the watched events
as Faust's ``wait_first`` has it race them, with long-lived watchers."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from typing import Any

import faust
import pytest
from faust.transport.consumer import Consumer as FaustConsumer

from streams.consumer import FAUST_FETCH_WAIT_MS, Consumer, Transport, Watchers, first_of

# Faust's Consumer._drain_messages as streams/consumer.py copies it (faust-streaming
# 0.15.3). If an upgrade changes it, bring the copy in line, then this digest.
FAUST_DRAIN_MESSAGES_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"


async def test_a_delivery_that_finishes_first_is_awaited_and_watchers_are_kept() -> None:
    suspended = asyncio.Event()
    watchers = Watchers([suspended])
    delivered = []

    async def deliver(n: int) -> None:
        await asyncio.sleep(0)
        delivered.append(n)

    await first_of(deliver(1), watchers)
    watching = watchers.current()
    await first_of(deliver(2), watchers)
    assert delivered == [1, 2]
    assert watchers.current() == watching  # no new waiter per message
    watchers.close()
    await asyncio.sleep(0)
    assert all(task.cancelled() for task in watching)


async def test_a_delivery_error_is_raised() -> None:
    watchers = Watchers([asyncio.Event()])

    async def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await first_of(fail(), watchers)
    watchers.close()


async def test_a_blocked_delivery_is_cancelled_when_an_event_fires() -> None:
    suspended = asyncio.Event()
    watchers = Watchers([asyncio.Event(), suspended])
    cancelled = asyncio.Event()

    async def blocked() -> None:
        try:
            await asyncio.Event().wait()  # a full stream buffer
        except asyncio.CancelledError:
            cancelled.set()
            raise

    asyncio.get_running_loop().call_later(0.01, suspended.set)
    await asyncio.wait_for(first_of(blocked(), watchers), 5)  # returns, raises nothing
    await asyncio.wait_for(cancelled.wait(), 5)
    watchers.close()


async def test_while_an_event_is_set_only_deliveries_that_need_not_wait_are_made() -> None:
    """As with wait_first: the delivery takes its first step before the fired event is
    seen, so a delivery with room in its buffer is made; one that would wait is not."""
    suspended = asyncio.Event()
    suspended.set()
    watchers = Watchers([suspended])
    delivered = []

    async def deliver(n: int) -> None:
        delivered.append(n)

    async def blocked(n: int) -> None:
        await asyncio.Event().wait()
        delivered.append(n)

    for n in range(3):  # the first makes the watcher, the others find it fired
        await first_of(deliver(n), watchers)
        await first_of(blocked(-n), watchers)
    assert delivered == [0, 1, 2]
    suspended.clear()
    await first_of(deliver(3), watchers)
    assert delivered == [0, 1, 2, 3]
    watchers.close()


async def test_cancelling_the_loop_cancels_the_delivery() -> None:
    watchers = Watchers([asyncio.Event()])
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def blocked() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    loop_task = asyncio.ensure_future(first_of(blocked(), watchers))
    await started.wait()
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop_task
    await asyncio.wait_for(cancelled.wait(), 5)
    watchers.close()


def test_the_transport_makes_this_consumer_and_faust_loop_is_the_one_copied() -> None:
    assert Transport.Consumer is Consumer
    source = inspect.getsource(FaustConsumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == FAUST_DRAIN_MESSAGES_SHA256


async def test_the_transport_fetch_wait_and_min_bytes_reach_aiokafka_and_its_fetcher() -> None:
    """Faust passes aiokafka a fetch wait of 1,500 ms and keeps aiokafka's minimum of one
    byte; the worker's transport passes its own (VOCWATCH_FETCH_WAIT_SECONDS,
    VOCWATCH_FETCH_MIN_BYTES), which aiokafka hands to its fetcher when it starts."""
    app = faust.App("fetch-wait-test", broker="kafka://127.0.0.1:1", autodiscover=False)
    app.transport = Transport(
        app.conf.broker_consumer, app, fetch_wait_seconds=0.2, fetch_min_bytes=4096
    )

    async def callback(*_: object) -> None:
        return None

    hooks = {
        "callback": callback,
        "on_partitions_revoked": callback,
        "on_partitions_assigned": callback,
    }
    stock = faust.App("fetch-wait-stock", broker="kafka://127.0.0.1:1", autodiscover=False)
    consumers: list[Any] = [
        app.transport.create_consumer(**hooks),
        stock.transport.create_consumer(**hooks),  # Faust's own, for comparison
    ]
    assert isinstance(consumers[0], Consumer)
    ours = consumers[0]._thread._create_worker_consumer(app.transport)
    theirs = consumers[1]._thread._create_worker_consumer(stock.transport)
    try:
        assert (ours._fetch_max_wait_ms, theirs._fetch_max_wait_ms) == (200, FAUST_FETCH_WAIT_MS)
        assert (ours._fetch_min_bytes, theirs._fetch_min_bytes) == (4096, 1)
        start = inspect.getsource(type(ours).start)  # aiokafka's AIOKafkaConsumer
        assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in start
        assert "fetch_min_bytes=self._fetch_min_bytes" in start
    finally:  # never started: closed here, with their threads' loops
        for client in (ours, theirs):
            await client.stop()
        for consumer in consumers:
            consumer._thread.thread_loop.close()
