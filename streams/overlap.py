"""Two stages of batch processing, overlapped: while batch N completes, batch N+1 is taken
and analysed (分析与完成重叠).

An agent's batches are processed in two stages: *analyse* (in the analysis process; touches
no shared state) and *complete* (publish, count, alert, then acknowledge). Run one after
the other, the worker would wait for the analysis process and then make it wait in turn;
overlapped, each agent keeps both busy. What must not change, and does not:

* batches complete one at a time, in the order they were taken — windows and the scored
  topic see them in order;
* a batch is acknowledged only inside ``complete``, after its work, and only after every
  earlier batch was: the consumer never commits an offset past an incomplete batch (Faust
  commits the highest *contiguous* acknowledged offset, so acknowledging out of order
  would lose the batch in between on a crash);
* at most one batch is completing and one being analysed: memory stays bounded, and the
  broker's fetching stops when the worker is behind (back-pressure).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

Item = TypeVar("Item")
Analysed = TypeVar("Analysed")


async def overlapped(
    batches: AsyncIterable[Sequence[Item]],
    analyse: Callable[[Sequence[Item]], Awaitable[Analysed]],
    complete: Callable[[Analysed, Sequence[Item]], Coroutine[Any, Any, None]],
    *,
    grace_seconds: float,
) -> None:
    """Analyse each batch, then complete it in a task while the next one is taken and
    analysed. When stopped (cancelled), the batch completing gets ``grace_seconds`` to
    finish; if it does not, it is cancelled unacknowledged and will be redelivered."""
    completing: asyncio.Task[None] | None = None
    try:
        async for batch in batches:
            analysed = await analyse(batch)
            if completing is not None:
                # shielded: stopping the agent must not cancel the batch in hand at once
                await asyncio.shield(completing)  # in order: N completes before N+1
            completing = asyncio.create_task(complete(analysed, batch))
        if completing is not None:
            await asyncio.shield(completing)
    finally:
        if completing is not None and not completing.done():
            await asyncio.wait([completing], timeout=grace_seconds)
            completing.cancel()
