"""Alert delivery (告警投递) that never blocks the stream: a queue and a worker per sink.

The engine calls :meth:`Dispatcher.dispatch`, which only appends the record to the queue of
each sink it is routed to and returns. Each queue's worker task sends:

* while the sink's :class:`Budget` (the vendor's rate limit) allows, one message per record;
* once the budget has run out, or a send failed, or more than ``max_pending`` records wait,
  every waiting record goes out as one *digest* (合并发送) as soon as the budget allows;
* failures are retried with exponential backoff and jitter, honouring the receiver's
  ``retry_after``, up to ``max_attempts`` attempts or ``max_age`` seconds;
* past ``max_records`` waiting records the oldest are dropped.

Every record ends in exactly one outcome of the ``vocwatch_sink_deliveries_total`` counter:
``sent`` (in a message of its own), ``merged`` (in a digest), ``failed`` (given up after
retries, or an error that retrying cannot fix) or ``dropped`` (queue over its hard cap, or
still waiting when the worker was stopped). ``retried`` counts failed attempts that will be
tried again, and ``disabled`` records routed to a sink disabled for want of its
environment variables (a name no sink has is only logged, once). Record texts
are never logged: only alert ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vocwatch.errors import DeliveryError
from vocwatch.metrics import Metrics

log = logging.getLogger(__name__)

Record = dict[str, Any]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

MINUTE = 60.0
SECOND = 1.0
UNLIMITED = sys.maxsize
# Vendor rate limits (消息发送频率限制): (per minute, per second).
DEFAULT_LIMITS: dict[str, tuple[int | None, int | None]] = {
    "wecom": (20, None),
    "dingtalk": (20, None),
    "feishu": (100, 5),
}


class Notifier(Protocol):
    """What a queue needs from a sink adapter (see :mod:`alerts.notifiers`)."""

    name: str
    kind: str

    def messages(self, records: Sequence[Record]) -> int:
        """How many requests :meth:`send` makes for these records (each uses the budget)."""
        ...

    async def send(self, records: list[Record]) -> None:
        """Deliver the records, or raise :class:`~vocwatch.errors.DeliveryError`."""
        ...


class Budget:
    """Sliding-window rate limits, pure: at most ``per_minute`` messages in any 60 s and
    ``per_second`` in any 1 s (None: no limit), and nothing before ``blocked_until`` (set
    when a vendor answers that we were too fast; DingTalk then blocks for 10 minutes)."""

    def __init__(self, per_minute: int | None = None, per_second: int | None = None) -> None:
        self.per_minute = per_minute
        self.per_second = per_second
        self.blocked_until = 0.0
        self._sent: deque[float] = deque()

    @property
    def limited(self) -> bool:
        return self.per_minute is not None or self.per_second is not None

    def allow(self, now: float) -> bool:
        return self.remaining(now) > 0

    def remaining(self, now: float) -> int:
        """Messages that may be sent at ``now`` without breaking a limit."""
        if now < self.blocked_until:
            return 0
        self._forget(now)
        left = UNLIMITED
        for limit, span in self._limits():
            left = min(left, limit - self._count(now, span))
        return max(left, 0)

    def record(self, now: float, messages: int = 1) -> None:
        if self.limited:
            self._sent.extend([now] * messages)

    def block(self, until: float) -> None:
        self.blocked_until = max(self.blocked_until, until)

    def wait_time(self, now: float) -> float:
        """Seconds until one more message is allowed (0: now)."""
        wait = max(self.blocked_until - now, 0.0)
        self._forget(now)
        for limit, span in self._limits():
            recent = [t for t in self._sent if t > now - span]
            if len(recent) >= limit:
                wait = max(wait, recent[len(recent) - limit] + span - now)
        return wait

    def _limits(self) -> list[tuple[int, float]]:
        limits = []
        if self.per_minute is not None:
            limits.append((self.per_minute, MINUTE))
        if self.per_second is not None:
            limits.append((self.per_second, SECOND))
        return limits

    def _count(self, now: float, span: float) -> int:
        return sum(1 for t in self._sent if t > now - span)

    def _forget(self, now: float) -> None:
        span = MINUTE if self.per_minute is not None else SECOND
        while self._sent and self._sent[0] <= now - span:
            self._sent.popleft()


def default_budget(
    kind: str, per_minute: int | None = None, per_second: int | None = None
) -> Budget:
    """The vendor's documented limits for ``kind``, each overridable; none for machines."""
    minute, second = DEFAULT_LIMITS.get(kind, (None, None))
    return Budget(
        per_minute if per_minute is not None else minute,
        per_second if per_second is not None else second,
    )


@dataclass
class _Entry:
    record: Record
    submitted: float
    attempts: int = 0

    @property
    def alert_id(self) -> str:
        return str(self.record.get("id", "?"))


@dataclass(frozen=True)
class QueueLimits:
    max_pending: int = 50  # more waiting than this: the next send is a digest of all
    max_records: int = 1000  # hard cap: past it the oldest waiting records are dropped
    max_attempts: int = 5
    max_age: float = 900.0  # seconds after submission a record is still retried
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    send_timeout: float = 30.0  # whole send call, whatever the adapter's own timeouts


class DeliveryQueue:
    """The waiting records of one sink and the worker task that sends them."""

    def __init__(
        self,
        notifier: Notifier,
        budget: Budget,
        metrics: Metrics,
        *,
        limits: QueueLimits | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.notifier = notifier
        self.name = notifier.name
        self.budget = budget
        self.metrics = metrics
        self.limits = limits or QueueLimits()
        self.clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not cryptography)
        self._pending: deque[_Entry] = deque()
        self._in_flight: list[_Entry] = []
        self._wakeup = asyncio.Event()
        self._digest_next = False
        self._not_before = 0.0
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def depth(self) -> int:
        return len(self._pending)

    def submit(self, record: Record) -> None:
        """Queue ``record``; returns at once and never raises."""
        try:
            self._pending.append(_Entry(record, self.clock()))
            overflow = len(self._pending) - self.limits.max_records
            if overflow > 0:
                dropped = [self._pending.popleft() for _ in range(overflow)]
                self._count("dropped", len(dropped))
                log.warning(
                    "sink %s: queue full (%d records); dropped alert %s",
                    self.name,
                    self.limits.max_records,
                    ", ".join(e.alert_id for e in dropped),
                )
            self._show_depth()
            self._wakeup.set()
        except Exception:  # the stream must never see a sink's problem
            log.exception("sink %s: could not queue an alert record", self.name)

    def start(self) -> None:
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name=f"vocwatch-sink-{self.name}")

    async def stop(self, timeout: float) -> None:
        """Send what is waiting, for at most ``timeout`` seconds; count the rest dropped."""
        self._closing = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        left = [*self._in_flight, *self._pending]
        self._in_flight, self._pending = [], deque()
        if left:
            self._count("dropped", len(left))
            log.warning(
                "sink %s: stopped with %d alert record(s) unsent: %s",
                self.name,
                len(left),
                ", ".join(e.alert_id for e in left),
            )
        self._show_depth()

    async def _run(self) -> None:
        while self._pending or not self._closing:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            now = self.clock()
            wait = max(self.budget.wait_time(now), self._not_before - now)
            if wait > 0:
                self._digest_next = True  # over budget: what waits now goes out together
                await self._sleep(wait)
                continue
            await self._send_next()

    async def _send_next(self) -> None:
        self._in_flight = self._take()
        try:
            self._in_flight = self._within_budget(self._in_flight)
            self._show_depth()
            await self._deliver(self._in_flight)
        except DeliveryError as exc:
            self._failed_attempt(self._in_flight, exc)
        except Exception as exc:  # a bug in an adapter must not stop the worker
            log.error("sink %s: unexpected %s", self.name, type(exc).__name__, exc_info=exc)
            self._give_up(self._in_flight, f"unexpected {type(exc).__name__}")
        self._in_flight = []
        self._show_depth()

    def _take(self) -> list[_Entry]:
        """The oldest record alone, or when a digest is due every waiting record."""
        if not (self._digest_next or len(self._pending) > self.limits.max_pending):
            return [self._pending.popleft()]
        self._digest_next = False
        batch = list(self._pending)
        self._pending.clear()
        return batch

    def _within_budget(self, batch: list[_Entry]) -> list[_Entry]:
        """The longest head of ``batch`` whose messages the budget allows now (at least one
        record); the rest goes back to the front of the queue."""
        allowed = max(self.budget.remaining(self.clock()), 1)
        if len(batch) == 1 or allowed >= UNLIMITED or self._messages(batch) <= allowed:
            return batch
        low, high = 1, len(batch)
        while low < high:
            middle = (low + high + 1) // 2
            if self._messages(batch[:middle]) <= allowed:
                low = middle
            else:
                high = middle - 1
        self._pending.extendleft(reversed(batch[low:]))
        self._digest_next = True
        return batch[:low]

    def _messages(self, batch: Sequence[_Entry]) -> int:
        return self.notifier.messages([e.record for e in batch])

    async def _deliver(self, batch: list[_Entry]) -> None:
        records = [e.record for e in batch]
        self.budget.record(self.clock(), self.notifier.messages(records))
        try:
            async with asyncio.timeout(self.limits.send_timeout):
                await self.notifier.send(records)
        except TimeoutError:
            raise DeliveryError(
                f"{self.name}: no answer within {self.limits.send_timeout:g} s", retryable=True
            ) from None
        self._count("sent" if len(batch) == 1 else "merged", len(batch))

    def _failed_attempt(self, batch: list[_Entry], error: DeliveryError) -> None:
        now = self.clock()
        if error.rate_limited and error.retry_after:
            self.budget.block(now + error.retry_after)
        for entry in batch:
            entry.attempts += 1
        retry_at = now + max(
            self._backoff(max(e.attempts for e in batch)), error.retry_after or 0.0
        )
        again = [
            e
            for e in batch
            if error.retryable
            and e.attempts < self.limits.max_attempts
            and retry_at - e.submitted <= self.limits.max_age
        ]
        kept = {id(e) for e in again}
        lost = [e for e in batch if id(e) not in kept]
        if again:
            self._count("retried", len(again))
            self._pending.extendleft(reversed(again))
            self._digest_next = True
            self._not_before = retry_at
            log.info(
                "sink %s: %s; retrying %d record(s) in %.1f s",
                self.name,
                error,
                len(again),
                retry_at - now,
            )
        if lost:
            self._give_up(lost, str(error))

    def _backoff(self, attempts: int) -> float:
        ceiling = min(self.limits.backoff_max, self.limits.backoff_base * 2.0 ** (attempts - 1))
        return ceiling * (0.5 + self._rng.random() / 2)

    def _give_up(self, entries: list[_Entry], reason: str) -> None:
        self._count("failed", len(entries))
        log.warning(
            "sink %s: gave up on alert %s after %d attempt(s): %s",
            self.name,
            ", ".join(e.alert_id for e in entries),
            max(e.attempts for e in entries),
            reason,
        )

    def _count(self, outcome: str, records: int) -> None:
        self.metrics.sink_deliveries.labels(self.name, outcome).inc(records)

    def _show_depth(self) -> None:
        self.metrics.sink_queue_depth.labels(self.name).set(
            len(self._pending) + len(self._in_flight)
        )


class Dispatcher:
    """Hands each alert record to the queues of the sinks it is routed to."""

    def __init__(
        self,
        queues: Mapping[str, DeliveryQueue],
        metrics: Metrics,
        *,
        disabled: Mapping[str, str] | None = None,
    ) -> None:
        self.queues = dict(queues)
        self.metrics = metrics
        self.disabled: dict[str, str] = dict(disabled or {})  # sink name → why
        self._warned: set[str] = set()

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(self.queues)

    def dispatch(self, record: Record, sink_names: Iterable[str]) -> None:
        """Queue ``record`` for each named sink. Returns at once; never raises."""
        try:
            for name in dict.fromkeys(sink_names):
                queue = self.queues.get(name)
                if queue is not None:
                    queue.submit(record)
                else:
                    self._not_configured(name)
        except Exception:  # the stream must never see a sink's problem
            log.exception("could not dispatch alert %s", record.get("id", "?"))

    async def start(self) -> None:
        for queue in self.queues.values():
            queue.start()

    async def stop(self, timeout: float = 10.0) -> None:
        """Drain every queue in parallel, for at most ``timeout`` seconds in all."""
        await asyncio.gather(*(q.stop(timeout) for q in self.queues.values()))

    def _not_configured(self, name: str) -> None:
        if name in self.disabled:
            self.metrics.sink_deliveries.labels(name, "disabled").inc()
            return
        if name not in self._warned:  # routing names only configured sinks: a bug, say once
            self._warned.add(name)
            log.warning("alert routed to sink %r, which is not configured", name)
