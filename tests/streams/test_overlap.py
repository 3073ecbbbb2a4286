"""streams.overlap.overlapped: batch N+1 is counted while batch N finishes and batch N+2
is analysed, while counts and finishes (and so acknowledgements) stay one at a time and in
order, with at most two batches in hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from streams.overlap import overlapped


class Recorder:
    """Batches of ints; every step of the stages is logged; counts and finishes wait on
    gates (counts open by default)."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.batches = batches
        self.log: list[str] = []
        self.gates = {i: asyncio.Event() for i in range(len(batches))}
        self.count_gates = {i: asyncio.Event() for i in range(len(batches))}
        for gate in self.count_gates.values():
            gate.set()
        self.acked: list[int] = []

    async def take(self) -> AsyncIterator[Sequence[int]]:
        for i, batch in enumerate(self.batches):
            self.log.append(f"take {i}")
            yield batch

    async def analyse(self, batch: Sequence[int]) -> int:
        i = self.batches.index(list(batch))
        self.log.append(f"analyse {i}")
        await asyncio.sleep(0)
        return i

    async def count(self, i: int) -> int:
        self.log.append(f"count {i}")
        await self.count_gates[i].wait()
        self.log.append(f"counted {i}")
        return i

    async def finish(self, i: int, batch: Sequence[int]) -> None:
        self.log.append(f"finish {i}")
        await self.gates[i].wait()
        self.acked.extend(batch)  # acknowledged only after the work
        self.log.append(f"done {i}")

    def run(self, grace: float = 1.0) -> asyncio.Task[None]:
        return asyncio.create_task(
            overlapped(self.take(), self.analyse, self.count, self.finish, grace_seconds=grace)
        )


async def until(condition: object, what: str) -> None:
    for _ in range(200):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_next_batch_is_counted_while_the_previous_finishes() -> None:
    r = Recorder([[1, 2], [3, 4], [5]])
    task = r.run()
    await until(lambda: "counted 1" in r.log, "batch 1 to be counted")
    assert "done 0" not in r.log  # batch 0 still finishing: its window alerts are out
    assert "finish 1" not in r.log  # but batch 1 finishes only after it
    r.gates[0].set()
    await until(lambda: "finish 1" in r.log, "batch 1 to finish")
    r.gates[1].set()
    r.gates[2].set()
    await task
    assert r.acked == [1, 2, 3, 4, 5]
    at = r.log.index
    assert at("counted 0") < at("count 1") < at("counted 1") < at("done 0") < at("finish 1")
    assert at("done 1") < at("finish 2")


async def test_counts_and_finishes_run_one_at_a_time_in_order_and_acknowledge_in_order() -> None:
    r = Recorder([[i] for i in range(6)])
    for gate in r.count_gates.values():
        gate.clear()
    task = r.run()
    for i in reversed(range(6)):  # later gates open first: order must still hold
        r.gates[i].set()
        r.count_gates[i].set()
    await task
    assert r.acked == list(range(6))
    counts = [e for e in r.log if e.startswith("count")]
    assert counts == [f"{step} {i}" for i in range(6) for step in ("count", "counted")]
    finishes = [e for e in r.log if e.startswith(("finish", "done"))]
    assert finishes == [f"{step} {i}" for i in range(6) for step in ("finish", "done")]


async def test_no_more_than_two_batches_are_in_hand_behind_a_slow_finish() -> None:
    r = Recorder([[1], [2], [3], [4]])
    task = r.run()
    await until(lambda: "analyse 2" in r.log, "batch 2 to be analysed")
    await asyncio.sleep(0.02)
    # batch 0 finishing, batch 1 counted and waiting: batch 2 waits to be counted
    assert "count 2" not in r.log and "take 3" not in r.log  # back-pressure
    r.gates[0].set()
    await until(lambda: "count 2" in r.log, "batch 2 to be counted")
    for gate in r.gates.values():
        gate.set()
    await task
    assert r.acked == [1, 2, 3, 4]


async def test_a_slow_count_holds_up_the_next_count_not_the_finish_before_it() -> None:
    r = Recorder([[1], [2], [3]])
    r.count_gates[1].clear()
    task = r.run()
    await until(lambda: "count 1" in r.log, "batch 1 to be counted")
    r.gates[0].set()
    await until(lambda: "done 0" in r.log, "batch 0 to finish")
    await asyncio.sleep(0.01)
    assert "count 2" not in r.log  # counts stay in order
    r.count_gates[1].set()
    r.gates[1].set()
    r.gates[2].set()
    await task
    assert r.acked == [1, 2, 3]


async def test_a_stop_lets_the_batches_in_hand_finish_within_the_grace() -> None:
    r = Recorder([[1], [2], [3]])
    task = r.run(grace=1.0)
    await until(lambda: "analyse 2" in r.log and "counted 1" in r.log, "overlap")
    task.cancel()
    await asyncio.sleep(0.01)
    r.gates[0].set()  # both finish during the grace
    r.gates[1].set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert r.acked == [1, 2]  # batch 2 was analysed, never acknowledged


async def test_a_batch_that_cannot_finish_in_the_grace_is_left_unacknowledged() -> None:
    r = Recorder([[1], [2]])
    task = r.run(grace=0.05)
    await until(lambda: "finish 0" in r.log and "counted 1" in r.log, "batch 0 to finish")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert r.acked == []  # redelivered after the restart, not lost
    assert "done 0" not in r.log and "finish 1" not in r.log


async def batches() -> AsyncIterator[Sequence[int]]:
    yield [1]
    yield [2]
    yield [3]


async def analyse(batch: Sequence[int]) -> int:
    return batch[0]


async def test_an_error_in_a_finish_is_raised_not_swallowed() -> None:
    async def count(i: int) -> int:
        return i

    async def finish(i: int, batch: Sequence[int]) -> None:
        raise RuntimeError(f"bug in batch {i}")

    with pytest.raises(RuntimeError, match="bug in batch 1"):
        await overlapped(batches(), analyse, count, finish, grace_seconds=0.1)


async def test_an_error_in_a_count_is_raised_and_nothing_after_it_finishes() -> None:
    finished: list[int] = []

    async def count(i: int) -> int:
        if i == 2:
            raise RuntimeError(f"bug in batch {i}")
        return i

    async def finish(i: int, batch: Sequence[int]) -> None:
        finished.append(i)

    with pytest.raises(RuntimeError, match="bug in batch 2"):
        await overlapped(batches(), analyse, count, finish, grace_seconds=0.1)
    assert finished == [1]
