"""streams.overlap.overlapped: analysis of batch N+1 overlaps the completion of batch N,
while completions (and so acknowledgements) stay one at a time and in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from streams.overlap import overlapped


class Recorder:
    """Batches of ints; every step of the stages is logged; completions wait on gates."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.batches = batches
        self.log: list[str] = []
        self.gates = {i: asyncio.Event() for i in range(len(batches))}
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

    async def complete(self, i: int, batch: Sequence[int]) -> None:
        self.log.append(f"complete {i}")
        await self.gates[i].wait()
        self.acked.extend(batch)  # acknowledged only after the work
        self.log.append(f"done {i}")

    def run(self, grace: float = 1.0) -> asyncio.Task[None]:
        return asyncio.create_task(
            overlapped(self.take(), self.analyse, self.complete, grace_seconds=grace)
        )


async def until(condition: object, what: str) -> None:
    for _ in range(200):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_next_batch_is_analysed_while_the_previous_completes() -> None:
    r = Recorder([[1, 2], [3, 4], [5]])
    task = r.run()
    await until(lambda: "analyse 1" in r.log, "batch 1 to be analysed")
    assert "done 0" not in r.log  # batch 0 still completing: overlap
    r.gates[0].set()
    await until(lambda: "complete 1" in r.log, "batch 1 to complete")
    r.gates[1].set()
    r.gates[2].set()
    await task
    assert r.acked == [1, 2, 3, 4, 5]
    at = r.log.index
    assert at("analyse 1") < at("done 0") < at("complete 1") < at("done 1") < at("complete 2")


async def test_completions_run_one_at_a_time_in_order_and_acknowledge_in_order() -> None:
    r = Recorder([[i] for i in range(6)])
    task = r.run()
    for i in reversed(range(6)):  # later gates open first: order must still hold
        r.gates[i].set()
    await task
    assert r.acked == list(range(6))
    completes = [e for e in r.log if e.startswith(("complete", "done"))]
    assert completes == [f"{step} {i}" for i in range(6) for step in ("complete", "done")]


async def test_no_more_than_one_batch_is_taken_ahead_of_a_slow_completion() -> None:
    r = Recorder([[1], [2], [3], [4]])
    task = r.run()
    await until(lambda: "analyse 1" in r.log, "batch 1 to be analysed")
    await asyncio.sleep(0.02)
    assert "take 2" not in r.log  # back-pressure: batch 0 has not completed
    r.gates[0].set()
    await until(lambda: "take 2" in r.log, "batch 2 to be taken")
    for gate in r.gates.values():
        gate.set()
    await task


async def test_a_stop_lets_the_completing_batch_finish_within_the_grace() -> None:
    r = Recorder([[1], [2]])
    task = r.run(grace=1.0)
    await until(lambda: "analyse 1" in r.log and "complete 0" in r.log, "overlap")
    task.cancel()
    await asyncio.sleep(0.01)
    r.gates[0].set()  # finishes during the grace
    with pytest.raises(asyncio.CancelledError):
        await task
    assert r.acked == [1]  # batch 1 was analysed, never acknowledged


async def test_a_batch_that_cannot_finish_in_the_grace_is_left_unacknowledged() -> None:
    r = Recorder([[1], [2]])
    task = r.run(grace=0.05)
    await until(lambda: "complete 0" in r.log, "batch 0 to complete")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert r.acked == []  # redelivered after the restart, not lost
    assert "done 0" not in r.log


async def test_an_error_in_a_completion_is_raised_not_swallowed() -> None:
    async def batches() -> AsyncIterator[Sequence[int]]:
        yield [1]
        yield [2]

    async def analyse(batch: Sequence[int]) -> int:
        return batch[0]

    async def complete(i: int, batch: Sequence[int]) -> None:
        raise RuntimeError(f"bug in batch {i}")

    with pytest.raises(RuntimeError, match="bug in batch 1"):
        await overlapped(batches(), analyse, complete, grace_seconds=0.1)
