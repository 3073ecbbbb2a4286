"""Clean stops: every long-running command stops on SIGTERM (a service manager, ``kill PID``)
and SIGINT with exit code 0 and leaves no process behind; when a parent is killed outright,
its children stop by themselves (vocwatch/processes.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import eventually
from tests.workers import WorkerFactory
from vocwatch.dev import embedded
from vocwatch.processes import descendants, running

pytestmark = pytest.mark.integration
VOCWATCH = shutil.which("vocwatch", path=str(Path(sys.executable).parent)) or "vocwatch"


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOCWATCH_")}
    return {**env, **extra}


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A command as a service manager runs it: its own session, output to a file."""
    with log.open("ab") as output:
        return subprocess.Popen(
            argv, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_for(check: Callable[[], object], timeout: float, what: str, log: Path) -> None:
    eventually(check, timeout, f"{what}\n{log.read_text()[-3000:] if log.exists() else ''}")


def _gone(pids: list[int], timeout: float) -> list[int]:
    """The pids still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(running(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if running(p)]


def _names(pids: list[int]) -> list[str]:
    names = []
    for pid in pids:
        try:
            names.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:80])
        except OSError:
            continue
    return [name.decode(errors="replace") for name in names]


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``vocwatch dev`` with its whole tree up: broker, Redis, worker, analysis process."""
    log = tmp_path / "dev.log"
    process = _start([VOCWATCH, "dev"], _environment(), log)
    try:
        _wait_for(lambda: b"vocwatch is running" in log.read_bytes(), 120, "dev started", log)
        # broker, Redis, worker and the analysis process
        _wait_for(lambda: len(descendants(process.pid)) >= 4, 60, "analysis process", log)
        yield process, log
    finally:
        if process.poll() is None:
            process.kill()
        for pid in descendants(process.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_dev_process_alone_stops_every_process_it_started(
    dev: tuple[subprocess.Popen[bytes], Path], sig: signal.Signals
) -> None:
    process, log = dev
    tree = descendants(process.pid)
    os.kill(process.pid, sig)  # to its pid only, as systemd or `kill PID` do
    assert process.wait(90) == 0, log.read_text()[-3000:]
    assert _gone(tree, 5) == [], f"left behind: {_names(tree)}"
    assert f"stop requested ({sig.name})" in log.read_text()


def test_children_of_a_killed_dev_process_stop_by_themselves(
    dev: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, log = dev
    tree = descendants(process.pid)
    process.kill()  # SIGKILL: no clean-up in the parent at all
    process.wait(10)
    left = _gone(tree, 60)
    assert left == [], f"orphaned: {_names(left)}\n{log.read_text()[-3000:]}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_analysis_process_stops_with_its_worker(
    worker_factory: WorkerFactory, sig: signal.Signals
) -> None:
    worker = worker_factory(name="stop")
    process = worker.process
    assert process is not None
    _wait_for(lambda: len(descendants(process.pid)) >= 1, 90, "analysis process", worker.log)
    tree = descendants(process.pid)
    os.kill(process.pid, sig)
    code = process.wait(60)
    assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL), worker.log.read_text()[-3000:]
    assert _gone(tree, 30) == [], f"left behind: {_names(tree)}"


def test_demo_traffic_stops_on_sigterm_with_code_0(
    broker_server: embedded.ChildServer, tmp_path: Path
) -> None:
    log = tmp_path / "demo.log"
    env = _environment(
        VOCWATCH_BROKER_URL=f"kafka://{broker_server.host}:{broker_server.port}",
        VOCWATCH_TOPIC_PREFIX=f"stop{os.getpid()}.",
    )
    process = _start([VOCWATCH, "demo", "--seconds", "600"], env, log)
    try:
        time.sleep(8)  # connected and producing
        assert process.poll() is None, log.read_text()[-3000:]
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()[-3000:]
        assert "demo produced" in log.read_text()  # it flushed and closed its producer
    finally:
        if process.poll() is None:
            process.kill()


def test_a_stopped_benchmark_stops_its_broker_redis_and_worker(tmp_path: Path) -> None:
    log = tmp_path / "bench.log"
    process = _start([VOCWATCH, "bench", "--events", "200000"], _environment(), log)
    try:
        # producing the backlog: broker and Redis are up
        _wait_for(lambda: len(descendants(process.pid)) >= 2, 60, "bench servers", log)
        time.sleep(2)
        tree = descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, log.read_text()[-3000:]
        assert _gone(tree, 5) == [], f"left behind: {_names(tree)}"
    finally:
        if process.poll() is None:
            process.kill()
        for pid in descendants(process.pid):
            os.kill(pid, signal.SIGKILL)
