"""streams.analysis_process: the analysis process gives the worker's own results, reads the
settings it is given, splits a batch between children, loses nothing when a child dies,
ignores Ctrl-C, stops when its pipe closes; the frames between worker and child."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from classifiers.analyze import Analyzer
from streams.analysis import InlineRunner, Rejected, Scored, build_analyzer, build_phrases
from streams.analysis_process import ChildDied, ProcessRunner, receive, send
from tests.classifiers.fixed_models import write_model_dir
from tests.streams.test_analysis import MIXED
from vocwatch.dev.demo import DemoTraffic
from vocwatch.processes import descendants
from vocwatch.settings import Settings

SETTINGS = Settings(analysis_processes=1)
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def inline() -> InlineRunner:
    # with the phrase lists, as the analysis process has them
    analyzer: Analyzer = build_analyzer(SETTINGS)
    return InlineRunner(
        analyzer,
        max_bytes=SETTINGS.max_message_bytes,
        clock=lambda: NOW,
        phrases=build_phrases(SETTINGS),
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


def comparable(results: list[Scored | Rejected]) -> list[object]:
    """Everything but the scored record's own timestamp."""
    out: list[object] = []
    for r in results:
        if isinstance(r, Rejected):
            out.append(r)
        else:
            record = json.loads(r.record)
            record.pop("scored_at")
            out.append((r._replace(record=b""), record))
    return out


# --- a batch in the worker ---------------------------------------------------------------------


def complaint(i: int, text: str, channel: str = "app") -> bytes:
    message = {"id": f"c{i}", "customer_id": "u", "channel": channel, "text": text}
    return json.dumps({**message, "created_at": NOW}, ensure_ascii=False).encode()


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
    pids = process.pids()  # the child the runner started
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)
    values = complaints(10)
    results = await process.run("complaint", values)  # analysed in the worker instead
    assert comparable(results) == comparable(await inline.run("complaint", values))
    again = await process.run("complaint", values)  # and a new process took over
    assert comparable(again) == comparable(results)
    assert process.pids() != pids and len(process.pids()) == 1


async def test_batches_waiting_for_a_child_that_dies_are_all_analysed(
    inline: InlineRunner, process: ProcessRunner
) -> None:
    await process.warm_up()
    (pid,) = process.pids()
    os.kill(pid, signal.SIGKILL)
    batches = [complaints(5 + i) for i in range(4)]  # four agents' batches, pipelined
    results = await asyncio.gather(*(process.run("complaint", b) for b in batches))
    for got, values in zip(results, batches, strict=True):
        assert comparable(got) == comparable(await inline.run("complaint", values))
    (new,) = process.pids()  # one new child, not one per batch
    assert new != pid


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
    assert isinstance(default, Scored) and default.polarity == "positive"
    polarity = tmp_path / "polarity.yaml"  # nearly everything is negative
    polarity.write_text("default: {negative_from: 0.000001, positive_from: 1}\n", encoding="utf-8")
    runner = ProcessRunner(Settings(polarity_file=polarity), clock=lambda: NOW)
    try:
        (result,) = await runner.run("complaint", [praise])
        assert isinstance(result, Scored) and result.polarity == "negative"
    finally:
        runner.close()


async def test_two_processes_split_a_batch_and_keep_its_order(inline: InlineRunner) -> None:
    runner = ProcessRunner(Settings(analysis_processes=2), clock=lambda: NOW)
    try:
        values = complaints(150)  # three chunks' worth: split in two
        results = await runner.run("complaint", values)
        assert comparable(results) == comparable(await inline.run("complaint", values))
        assert len(runner.pids()) == 2
    finally:
        runner.close()


async def test_the_models_of_the_settings_folder_are_used(tmp_path: Path) -> None:
    folder = write_model_dir(tmp_path, negative=0.7, neutral=0.2, positive=0.1)
    settings = Settings(model_dir=folder, analysis_processes=1)
    here = InlineRunner(build_analyzer(settings), max_bytes=10_000, clock=lambda: NOW)
    runner = ProcessRunner(settings, clock=lambda: NOW)
    try:
        for results in (await here.run("complaint", MIXED), await runner.run("complaint", MIXED)):
            analyzed = [r for r in results if isinstance(r, Scored)]
            assert len(analyzed) == 4
            for result in analyzed:
                # P(positive) + P(neutral) / 2 of the fixed probabilities (0.7, 0.2, 0.1)
                assert result.sentiment == pytest.approx(0.2, abs=1e-3)
                assert json.loads(result.record)["sentiment"]["model"] == (
                    "sentiment-fixed+categories-fixed"
                )
    finally:
        runner.close()


# --- the child's own behaviour -------------------------------------------------------------


async def test_the_worker_s_only_children_are_its_analysis_processes(
    process: ProcessRunner,
) -> None:
    # no resource tracker or other helper process beside them (multiprocessing's had one);
    # other tests of the session may have servers of their own running (Redis)
    await process.warm_up()
    pythons = [
        pid
        for pid in descendants(os.getpid())
        if Path(f"/proc/{pid}/exe").resolve().name.startswith("python")
    ]
    assert sorted(pythons) == process.pids()


async def test_an_error_in_the_child_is_raised_in_the_worker(process: ProcessRunner) -> None:
    with pytest.raises(KeyError, match="nope"):  # no such source: a bug of the caller
        await process.run("nope", [b"{}"])
    (result,) = await process.run("complaint", [b"{not json"])  # and the child goes on
    assert isinstance(result, Rejected) and result.reason == "not_json"


async def test_ctrl_c_does_not_stop_a_child(process: ProcessRunner) -> None:
    await process.warm_up()
    (pid,) = process.pids()
    os.kill(pid, signal.SIGINT)  # a terminal's Ctrl-C reaches its whole process group
    results = await process.run("complaint", MIXED)
    assert process.pids() == [pid]
    assert sum(isinstance(r, Scored) for r in results) == 4


async def test_a_child_stops_when_its_pipe_closes() -> None:
    runner = ProcessRunner(SETTINGS, clock=lambda: NOW)
    await runner.warm_up()
    (child,) = runner._children
    started = time.monotonic()
    runner.close()
    assert child.process.returncode == 0  # it exited of itself, not killed
    assert time.monotonic() - started < 5
    assert runner.pids() == []


async def test_a_folder_named_streams_where_the_worker_runs_does_not_shadow_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "streams").mkdir()
    (tmp_path / "streams" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "streams" / "analysis_process.py").write_text("raise SystemExit(3)\n")
    monkeypatch.chdir(tmp_path)
    runner = ProcessRunner(SETTINGS, clock=lambda: NOW)
    try:
        results = await runner.run("complaint", MIXED)
        assert sum(isinstance(r, Scored) for r in results) == 4
        assert runner._fallback is None  # the child answered: ours, not the impostor
    finally:
        runner.close()


async def test_a_closed_runner_has_nothing_to_warm_up_and_refuses_batches() -> None:
    runner = ProcessRunner(SETTINGS, clock=lambda: NOW)
    runner.close()  # a worker stopped before its start-up tasks ran
    await runner.warm_up()
    with pytest.raises(ChildDied, match="closed"):
        await runner.run("complaint", MIXED)


async def test_a_child_that_cannot_answer_is_named() -> None:
    runner = ProcessRunner(SETTINGS, clock=lambda: NOW)
    try:
        (child,) = runner._children
        child.process.kill()
        child.process.wait()
        with pytest.raises(ChildDied, match=rf"analysis process {child.pid} is gone"):
            await child.run("complaint", [])
    finally:
        runner.close()


def test_frames_carry_values_and_a_cut_stream_is_an_end() -> None:
    stream = io.BytesIO()
    send(stream, ("complaint", [b"a", None]))
    send(stream, {"n": 1})
    whole = stream.getvalue()
    stream.seek(0)
    assert receive(stream) == ("complaint", [b"a", None])
    assert receive(stream) == {"n": 1}
    with pytest.raises(EOFError):
        receive(stream)
    cut = io.BytesIO(whole[:-3])
    assert receive(cut) == ("complaint", [b"a", None])
    with pytest.raises(EOFError, match="within a frame"):
        receive(cut)


def test_a_stray_print_in_the_child_is_not_a_frame(tmp_path: Path) -> None:
    # the child's stdout is its stderr once it has its own reply pipe
    code = (
        "import streams.analysis_process as p; "
        "p.build_analyzer = lambda s: print('noise') or __import__('streams.analysis', "
        "fromlist=['x']).build_analyzer(s); p.main()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        assert child.stderr is not None
        send(child.stdin, (SETTINGS, os.getpid()))
        send(child.stdin, ("complaint", [b"{not json"]))
        failed, (result,) = receive(child.stdout)
        child.stdin.close()
        assert child.wait(10) == 0
        noise = child.stderr.read()
    assert not failed and isinstance(result, Rejected)
    assert b"noise" in noise
