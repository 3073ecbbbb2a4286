"""Where this worker's input partitions end and how far it has got (消费进度): consumer lag,
computed when Prometheus scrapes, and the stall watchdog.

The ends of the partitions come from two places: the consumer's own high-water marks, which
every fetch response updates (fresh while the worker fetches), and the broker's end offsets,
which :meth:`ConsumerProgress.refresh` asks for every ``evaluation_seconds`` — the only
source when a consumer has silently stopped fetching, which is what the watchdog is for
(streams/liveness.py).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from streams.liveness import STALLED_EXIT_CODE, Partition, StallWatch, consumer_lag

log = logging.getLogger(__name__)


class ConsumerProgress:
    def __init__(
        self,
        app: Any,
        done: Mapping[Partition, int],
        topics: set[str],
        watch: StallWatch,
    ) -> None:
        """``app``: the Faust app, whose consumer is used once it runs (created on first
        use: not before); ``done``: the offset after the last message processed per
        partition (the pipeline's ``next_offsets``)."""
        self.app = app
        self.done = done
        self.topics = topics
        self.watch = watch
        self._ends: dict[Partition, int] = {}
        self._starts: dict[Partition, int] = {}

    def lag(self) -> dict[str, int]:
        """Messages waiting per input topic, now (at scrape time)."""
        ends = dict(self._ends)
        for tp in self._assigned():
            try:
                fetched = self.app.consumer.highwater(tp)
            except Exception:  # noqa: S112 — unknown until the first fetch: the broker's then
                continue
            key = (tp.topic, tp.partition)
            ends[key] = max(ends.get(key, 0), fetched or 0)
        return consumer_lag(self.topics, ends, self._starts, self.done)

    def stalled_seconds(self) -> float:
        return self.watch.stalled_for(time.monotonic())

    async def refresh(self) -> None:
        """Ask the broker where the partitions end and start, then let the watchdog look:
        a stalled worker exits (code 3) to be restarted; nothing is lost, since what it
        has not acknowledged is redelivered."""
        partitions = self._assigned()
        if not partitions:
            return
        try:
            ends = await self.app.consumer.highwaters(*partitions)
            starts = await self.app.consumer.earliest_offsets(*partitions)
        except Exception as exc:  # the broker may be away: keep what we knew
            log.warning("consumer lag not measured: %s", exc)
            return
        self._ends = {(tp.topic, tp.partition): end or 0 for tp, end in ends.items()}
        self._starts = {(tp.topic, tp.partition): start or 0 for tp, start in starts.items()}
        waiting = sum(consumer_lag(self.topics, self._ends, self._starts, self.done).values())
        stalled_for = self.watch.observe(time.monotonic(), waiting, self.done)
        if self.watch.stalled(time.monotonic()):
            log.error(
                "no input offset has moved for %.0f s while %d messages wait: the consumer is "
                "stalled; exiting (code %d) to be restarted",
                stalled_for,
                waiting,
                STALLED_EXIT_CODE,
            )
            os._exit(STALLED_EXIT_CODE)

    def _assigned(self) -> list[Any]:
        # Faust creates its consumer on first use: a scrape before the worker runs must not.
        if getattr(self.app, "_consumer", None) is None:
            return []
        try:
            return [tp for tp in self.app.consumer.assignment() if tp.topic in self.topics]
        except Exception:  # not started yet, or between rebalances: nothing assigned
            return []
