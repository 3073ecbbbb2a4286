"""The Kafka consumer's message loop with less work per message (消费循环).

Faust hands each fetched message to the agents' streams with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: the delivery races
the flow being suspended (a rebalance) and the consumer stopping or crashing, so that a
delivery blocked on a full stream buffer does not hold up a rebalance. ``wait_first`` makes
four tasks for it — the delivery and a waiter for each of three events — and cancels three
of them again, for every message: about 21 µs of the event loop's time per message here,
a tenth of what the worker spends on an event (docs/performance.md).

:class:`Consumer` keeps that race and its outcome — whichever comes first; a delivery that
did not finish is cancelled; its error is raised — but watches the three events with
waiters that live as long as the loop and makes one task per message (about 6 µs). The rest
of the loop is Faust's own ``Consumer._drain_messages``, unchanged;
``tests/streams/test_consumer.py`` notices when an upgrade of Faust changes it.

:class:`Transport` also sets how long the broker may hold a fetch that finds no new
records (``VOCWATCH_FETCH_WAIT_SECONDS``, 0.25 s). Faust fixes aiokafka's
``fetch_max_wait_ms`` at 1,500 ms. Against the embedded broker, at 3,000 events/s over four
topics of four partitions, records then reached the agents in clumps about a second apart:
the oldest event of a batch was about 1.0 s old when the batch was taken, and detection took
0.60 s at the median (docs/performance.md). A broker with records to send answers a fetch
at once, whatever the wait; the wait only bounds an idle fetch, so a shorter one costs a few
more (empty) fetches a second when there is no traffic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service, ServiceT

FAUST_FETCH_WAIT_MS = 1500  # what Faust's own consumer thread passes to aiokafka
Waitable = Any  # an event with ``wait()`` and ``is_set()`` (asyncio's or mode's)


class Watchers:
    """One waiting task per event, made again only when its event has fired and been
    cleared since: a message's delivery races these instead of new waiters each time."""

    def __init__(self, events: Sequence[Waitable]) -> None:
        self.events = tuple(events)
        self._tasks: list[asyncio.Future[Any] | None] = [None] * len(self.events)

    def current(self) -> list[asyncio.Future[Any]]:
        tasks = []
        for index, event in enumerate(self.events):
            task = self._tasks[index]
            if task is None or (task.done() and not event.is_set()):
                task = self._tasks[index] = asyncio.ensure_future(event.wait())
            tasks.append(task)
        return tasks

    def close(self) -> None:
        for task in self._tasks:
            if task is not None and not task.done():
                task.cancel()
        self._tasks = [None] * len(self.events)


async def first_of(delivery: Awaitable[Any], watchers: Watchers) -> None:
    """Run ``delivery`` until it finishes or one of the watched events fires, whichever
    comes first: a delivery that did not finish is cancelled, and its error, if it
    finished with one, is raised (as mode's ``Service.wait_first`` does)."""
    task = asyncio.ensure_future(delivery)
    finished = False
    try:
        watching = watchers.current()
        if any(w.done() for w in watching):
            # A fresh waiter of wait_first's would fire in the loop's next step, after the
            # delivery's first step (a delivery with room in its buffer is made then):
            # the same here.
            await asyncio.sleep(0)
        else:
            waiter = asyncio.get_running_loop().create_future()

            def wake(_: object) -> None:
                if not waiter.done():
                    waiter.set_result(None)

            task.add_done_callback(wake)
            for w in watching:
                w.add_done_callback(wake)
            try:
                await waiter
            finally:
                task.remove_done_callback(wake)
                for w in watching:
                    w.remove_done_callback(wake)
        finished = task.done()
    finally:
        if not task.done():
            task.cancel()
    if finished:
        task.result()


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, its aiokafka consumer given the transport's fetch wait."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka keeps the argument here and hands it to its fetcher when it starts
        # (tests/streams/test_consumer.py checks that it reaches the fetcher).
        consumer._fetch_max_wait_ms = getattr(transport, "fetch_wait_ms", FAUST_FETCH_WAIT_MS)
        consumer._fetch_min_bytes = getattr(transport, "fetch_min_bytes", 1)
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    # Faust's loop, kept as it is there (its complexity included) so that the two compare.
    async def _drain_messages(self, fetcher: ServiceT) -> None:  # noqa: C901
        # Faust's loop (faust-streaming 0.15.3, faust/transport/consumer.py), but for
        # first_of in place of wait_first. Exercised by every live worker test.
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep
        watchers = Watchers(
            [self.suspend_flow, cast(Service, self)._stopped, cast(Service, self)._crashed]
        )

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = getmany(timeout=1.0)

                # Sleeping because sometimes getmany is called in a loop
                # never releasing to the event loop
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            # We have a gap in income messages
                            if gap > 1 and r_offset:
                                acks_enabled = acks_enabled_for(message.topic)
                                if acks_enabled:
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await first_of(callback(message), watchers)
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev(
                                "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                offset,
                                message.key,
                                message.value,
                            )
                    unset_flag(flag_consumer_fetching)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            watchers.close()
            unset_flag(flag_consumer_fetching)


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with :class:`Consumer`, whose fetches the broker holds
    until it has ``fetch_min_bytes`` of new records, for at most ``fetch_wait_seconds``."""

    Consumer = Consumer

    def __init__(
        self,
        *args: Any,
        fetch_wait_seconds: float = 0.25,
        fetch_min_bytes: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_wait_ms = max(1, round(fetch_wait_seconds * 1000))
        self.fetch_min_bytes = fetch_min_bytes
