"""How late the event loop runs (事件循环延迟): a task asks to be woken every
:data:`INTERVAL` and measures how much later it was.

Everything of a worker shares one event loop: the batches of every source, the alert
timer, the emerging-topic step, the console. A piece of work that does not let the loop go
(a timer step deciding thousands of alerts in one piece, docs/performance.md) holds every
other up, and a burst's alert waits behind it. The lag is that wait, as the loop itself
shows it; ``vocwatch_event_loop_lag_seconds`` keeps its distribution.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: how often the task asks to be woken (four times a second: a lag shorter than this is
#: still measured, one longer is measured once)
INTERVAL = 0.25


async def watch_loop_lag(
    observe: Callable[[float], None],
    *,
    interval: float = INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Until cancelled: sleep ``interval``, and ``observe`` how much later than that the
    loop came back (never below 0)."""
    while True:
        before = clock()
        await asyncio.sleep(interval)
        observe(max(0.0, clock() - before - interval))
