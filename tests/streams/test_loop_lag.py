"""The event loop's lag: how much later than asked a sleeping task is woken."""

from __future__ import annotations

import asyncio
import contextlib
import time

from streams.loop_lag import watch_loop_lag


async def test_work_that_holds_the_loop_shows_as_one_late_wake_up() -> None:
    lags: list[float] = []
    watching = asyncio.create_task(watch_loop_lag(lags.append, interval=0.02))
    await asyncio.sleep(0.1)  # a few wake-ups on time
    time.sleep(0.3)  # on purpose: work that does not let the loop go
    await asyncio.sleep(0.1)
    watching.cancel()
    late = [lag for lag in lags if lag > 0.2]
    assert len(late) == 1 and late[0] < 0.4  # the held 0.3 s, measured once
    assert len(lags) >= 4
    assert sorted(lags)[len(lags) // 2] < 0.05  # the others came on time
    assert min(lags) >= 0.0


async def test_the_lag_is_never_negative() -> None:
    ticks = iter([0.0, 0.0005])  # a clock that says the sleep was shorter than asked
    lags: list[float] = []

    def observe(lag: float) -> None:
        lags.append(lag)
        raise asyncio.CancelledError

    with contextlib.suppress(asyncio.CancelledError):
        await watch_loop_lag(observe, interval=0.001, clock=lambda: next(ticks))
    assert lags == [0.0]
