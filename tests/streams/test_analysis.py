"""streams.analysis: the analysis process gives the worker's own results, and a dead
analysis process loses nothing (the batch is analysed in the worker)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.analysis import Analyzed, InlineRunner, ProcessRunner, Rejected, build_analyzer
from vocwatch.dev.demo import DemoTraffic
from vocwatch.settings import Settings

SETTINGS = Settings(analysis_processes=1)
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def inline() -> InlineRunner:
    return InlineRunner(
        build_analyzer(SETTINGS), max_bytes=SETTINGS.max_message_bytes, clock=lambda: NOW
    )


@pytest.fixture
def process() -> Iterator[ProcessRunner]:
    runner = ProcessRunner(SETTINGS, clock=lambda: NOW)
    yield runner
    runner.close()


def complaints(n: int) -> list[bytes | None]:
    traffic = DemoTraffic(seed=5, run="t")
    values: list[bytes | None] = [traffic.incident(NOW, "app")[2] for _ in range(n)]
    return [
        *values,
        b"{not json",
        None,
        json.dumps(
            {"id": "x", "customer_id": "u", "channel": "fax", "text": "t", "created_at": NOW}
        ).encode(),
    ]


def comparable(results: list[Analyzed | Rejected]) -> list[object]:
    """Everything but the scored record's own timestamp."""
    out: list[object] = []
    for r in results:
        if isinstance(r, Rejected):
            out.append(r)
        else:
            record = json.loads(r.scored)
            record.pop("scored_at")
            out.append((r.event, r.analysis, record))
    return out


async def test_the_process_gives_the_worker_s_own_results(
    inline: InlineRunner, process: ProcessRunner
) -> None:
    values = complaints(30)
    here = await inline.run("complaint", values)
    there = await process.run("complaint", values)
    assert comparable(there) == comparable(here)
    assert [type(r).__name__ for r in there[-3:]] == ["Rejected"] * 3
    assert [r.reason for r in there[-3:] if isinstance(r, Rejected)] == [
        "not_json",
        "not_json",
        "unknown_enum",
    ]


async def test_a_dead_analysis_process_loses_nothing(
    inline: InlineRunner, process: ProcessRunner
) -> None:
    await process.warm_up()
    pids = list(process._pool._processes)  # the child the pool started
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)
    values = complaints(10)
    results = await process.run("complaint", values)  # analysed in the worker instead
    assert comparable(results) == comparable(await inline.run("complaint", values))
    again = await process.run("complaint", values)  # and a new process took over
    assert comparable(again) == comparable(results)
    assert list(process._pool._processes) != pids


async def test_the_child_reads_the_policies_of_the_settings(
    inline: InlineRunner, tmp_path: Path
) -> None:
    praise = json.dumps(
        {
            "id": "p1",
            "customer_id": "u",
            "channel": "app",
            "created_at": NOW,
            "text": "客服态度很好，问题很快解决了，非常满意",
        },
        ensure_ascii=False,
    ).encode()
    (default,) = await inline.run("complaint", [praise])
    assert isinstance(default, Analyzed) and default.analysis.polarity == "positive"
    polarity = tmp_path / "polarity.yaml"  # nearly everything is negative
    polarity.write_text(
        "default: {negative_below: 0.9999, positive_from: 0.99999}\n", encoding="utf-8"
    )
    runner = ProcessRunner(Settings(polarity_file=polarity), clock=lambda: NOW)
    try:
        (result,) = await runner.run("complaint", [praise])
        assert isinstance(result, Analyzed) and result.analysis.polarity == "negative"
    finally:
        runner.close()


async def test_two_processes_split_a_batch_and_keep_its_order(inline: InlineRunner) -> None:
    runner = ProcessRunner(Settings(analysis_processes=2), clock=lambda: NOW)
    try:
        values = complaints(150)  # three chunks' worth: split in two
        results = await runner.run("complaint", values)
        assert comparable(results) == comparable(await inline.run("complaint", values))
        assert len(runner._pool._processes) == 2
    finally:
        runner.close()
