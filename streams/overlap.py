"""Three stages of batch processing, overlapped (分析、计数与收尾重叠).

An agent's batches are processed in three stages: *analyse* (in the analysis process;
touches no shared state), *count* (publish the scored records, count the events in their
windows, decide the window alerts) and *finish* (the console's series, the emerging
topics' clustering, the customer stage, then delivery and acknowledgement). Run one after
the other, the worker would wait for the analysis process and then make it wait in turn,
and a batch's window alerts would wait for the previous batch's customer stage; overlapped,
batch N+1 is counted while batch N finishes, and batch N+2 analysed meanwhile. What must
not change, and does not:

* batches are counted one at a time, in the order they were taken — windows and the
  scored topic see them in order — and finished one at a time, in the same order;
* a batch is acknowledged only inside ``finish``, after its work, and only after every
  earlier batch was: the consumer never commits an offset past an unfinished batch (Faust
  commits the highest *contiguous* acknowledged offset, so acknowledging out of order
  would lose the batch in between on a crash);
* at most one batch is finishing, one counted or counting, one being analysed: memory
  stays bounded, and the broker's fetching stops when the worker is behind
  (back-pressure).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Sequence
from typing import Any, NamedTuple, TypeVar

Item = TypeVar("Item")
Analysed = TypeVar("Analysed")
Counted = TypeVar("Counted")


class _Run(NamedTuple):
    counted: asyncio.Event  # set when the batch's count is over (done or failed)
    task: asyncio.Task[None]  # count, then finish


async def overlapped(
    batches: AsyncIterable[Sequence[Item]],
    analyse: Callable[[Sequence[Item]], Awaitable[Analysed]],
    count: Callable[[Analysed], Awaitable[Counted]],
    finish: Callable[[Counted, Sequence[Item]], Coroutine[Any, Any, None]],
    *,
    grace_seconds: float,
) -> None:
    """Analyse each batch, then count and finish it in a task while the next one is taken
    and analysed. An error in a stage is raised here. When stopped (cancelled), the
    batches in hand get ``grace_seconds`` to finish; those that do not are cancelled
    unacknowledged and will be redelivered."""
    runs: list[_Run] = []  # the batches in hand, oldest first: two at most
    try:
        async for batch in batches:
            analysed = await analyse(batch)
            if runs:
                last = runs[-1]
                await asyncio.shield(last.counted.wait())  # N is counted before N+1
                _raise_if_failed(last.task)
            if len(runs) == 2:
                await asyncio.shield(runs.pop(0).task)  # N-1 has finished: two in hand
            counted = asyncio.Event()
            previous = runs[-1].task if runs else None
            task = asyncio.create_task(_stages(analysed, batch, count, finish, counted, previous))
            runs.append(_Run(counted, task))
        for run in runs:
            await asyncio.shield(run.task)
    finally:
        pending = [run.task for run in runs if not run.task.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace_seconds)
            for task in pending:
                task.cancel()


async def _stages(
    analysed: Analysed,
    batch: Sequence[Item],
    count: Callable[[Analysed], Awaitable[Counted]],
    finish: Callable[[Counted, Sequence[Item]], Coroutine[Any, Any, None]],
    counted: asyncio.Event,
    previous: asyncio.Task[None] | None,
) -> None:
    try:
        result = await count(analysed)
    finally:
        counted.set()
    if previous is not None:
        # shielded: a batch that is stopped while it waits leaves the one before alone
        await asyncio.shield(previous)  # in order: N finishes before N+1
    await finish(result, batch)


def _raise_if_failed(task: asyncio.Task[None]) -> None:
    """A count that failed ends the loop with its error, before the next batch starts."""
    if task.done() and not task.cancelled() and task.exception() is not None:
        task.result()
