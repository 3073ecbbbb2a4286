"""The analysis process (分析进程): text analysis in a child of the worker, so that it
overlaps the event loop (see :mod:`streams.analysis`).

Each child is a plain ``python -P -m streams.analysis_process``, started by the worker with
two pipes: the worker writes a frame (its settings first, then one ``(source, messages)``
per batch) and reads one frame back per batch — the results, or the exception analysis
raised. A frame is an 8-byte length and a pickle. No ``multiprocessing`` pool: its spawned
children need a resource-tracker process beside them (13 MB of resident memory for a few
semaphores) and a manager thread in the worker, and a child here needs neither.

If a child dies, the batch it had is analysed in the worker instead (whose own analyzer is
loaded only then) and a new child takes over: nothing is lost. A child stops when the
worker closes its pipe, and with the worker if the worker is killed outright
(:func:`vocwatch.processes.stop_with_parent`); it ignores Ctrl-C, which reaches the whole
terminal's process group: the worker decides when its children stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from streams.analysis import (
    InlineRunner,
    Result,
    analyze_batch,
    build_analyzer,
    phrases_if_readable,
)
from vocwatch.memory import settle_heap
from vocwatch.processes import stop_with_parent
from vocwatch.settings import Settings

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("!Q")
#: The size asked for the pipes to and from a child (a batch of 1,000 is 0.5–0.8 MB).
PIPE_BYTES = 1 << 20
#: How long a child may take to stop once its pipe is closed, before it is killed.
STOP_SECONDS = 5.0


class ChildDied(Exception):
    """The analysis process exited (or its pipe broke) before it answered."""

    def __init__(self, child: AnalysisChild, reason: str) -> None:
        super().__init__(f"the analysis process {child.pid} is gone ({reason})")
        self.child = child


def frame(value: object) -> bytes:
    """``value`` as one frame: its pickle's length, then the pickle."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


def send(stream: IO[bytes], value: object) -> None:
    stream.write(frame(value))
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next frame's value; EOFError when the stream ends (also within a frame)."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the stream ended")
    (size,) = _LENGTH.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the stream ended within a frame")
    return pickle.loads(payload)  # noqa: S301 — our own child's frames, over our own pipe


def _widen(pipe: IO[bytes]) -> None:
    """Give a pipe room for a whole batch (Linux: 1 MB instead of 64 kB, if allowed), so
    that a batch's frame crosses in one write and one read, not one per 64 kB, each of
    which waits for the interpreter lock again."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux; or above pipe-max-size
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


class AnalysisChild:
    """One analysis process, seen from the worker. Start it from the event loop's thread:
    the kernel stops it when the thread that started it ends (stop_with_parent).

    Batches are pipelined: each is written to the child by one thread and its answer read
    by another, in the order given, so that the child finds its next batch waiting when it
    has answered one (as a ``multiprocessing`` pool's queue did). Two threads, not one per
    waiting call: a thread that allocates gets a malloc arena of its own, and four of them
    made the worker 17 MB bigger."""

    def __init__(self, settings: Settings) -> None:
        self.process = subprocess.Popen(
            # -P: not the working directory first on the path, where a folder named
            # streams (or classifiers …) of the user's would shadow ours
            [sys.executable, "-P", "-m", "streams.analysis_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.in_flight = 0  # batches sent or waiting (kept by the event loop's thread)
        self._closed = False
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis-send")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis-read")
        self._stdin: IO[bytes] = self.process.stdin  # type: ignore[assignment]
        self._stdout: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        for pipe in (self._stdin, self._stdout):
            _widen(pipe)
        with contextlib.suppress(OSError):  # it died at once: the first batch says so
            send(self._stdin, (settings, os.getpid()))

    @property
    def pid(self) -> int:
        return self.process.pid

    async def run(self, source: str, values: Sequence[bytes | None]) -> list[Result]:
        """The child's analysis of one batch; ChildDied if it cannot answer."""
        if self._closed:
            raise ChildDied(self, "closed")
        request = frame((source, list(values)))  # here: a list of bytes pickles at once
        loop = asyncio.get_running_loop()
        self.in_flight += 1
        try:
            # both submitted before any await: the n-th answer read is this batch's
            sent = loop.run_in_executor(self._writer, self._send, request)
            answered = loop.run_in_executor(self._reader, self._receive)
            outcome = await asyncio.gather(sent, answered, return_exceptions=True)
        finally:
            self.in_flight -= 1
        for failure in outcome:
            if isinstance(failure, BaseException):
                raise failure
        failed, answer = outcome[1]
        if failed:
            raise answer
        results: list[Result] = answer
        return results

    def _send(self, request: bytes) -> None:
        try:
            self._stdin.write(request)
            self._stdin.flush()
        except (OSError, ValueError) as exc:  # ValueError: closed by close()
            raise ChildDied(self, str(exc) or type(exc).__name__) from None

    def _receive(self) -> tuple[bool, Any]:
        try:
            reply: tuple[bool, Any] = receive(self._stdout)
        except (OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            raise ChildDied(self, str(exc) or type(exc).__name__) from None
        return reply

    def close(self, wait: float = STOP_SECONDS) -> None:
        """Close its pipe (it exits when it has answered what it read), then wait for it;
        kill it if it takes longer than ``wait`` seconds. Calls still queued for it fail
        (ChildDied), and its thread ends after them."""
        self._closed = True
        with contextlib.suppress(OSError):  # it is gone already
            self._stdin.close()
        try:
            self.process.wait(wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.submit(self._stdout.close)  # after any answer still being read
        self._reader.shutdown(wait=False)
        self._writer.shutdown(wait=False)


class ProcessRunner:
    """Analysis in ``settings.analysis_processes`` children; if one dies, its batch is
    analysed in the worker and a new child is started."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self._fallback: InlineRunner | None = None
        self._children = [AnalysisChild(settings) for _ in range(settings.analysis_processes)]
        self._closed = False

    async def warm_up(self) -> None:
        """Wait until every child has loaded its models, not for the first batch to do it
        (a child that died meanwhile is replaced by that batch; a worker stopping before
        it starts has nothing to warm up)."""
        if self._closed:
            return
        with contextlib.suppress(ChildDied):
            await asyncio.gather(*(child.run("complaint", []) for child in self._children))

    async def run(self, source: str, values: Sequence[bytes | None]) -> list[Result]:
        """With several children, a batch is split between them (the least busy first):
        one agent's large batch does not wait for a single process."""
        parts = max(1, min(len(self._children), len(values) // 50))
        size = max(1, -(-len(values) // parts))
        chunks = [values[i : i + size] for i in range(0, len(values), size)] or [[]]
        idlest = sorted(self._children, key=lambda child: child.in_flight)
        calls = [idlest[i].run(source, chunk) for i, chunk in enumerate(chunks)]
        try:
            results = await asyncio.gather(*calls)
        except ChildDied as exc:
            if self._closed:  # the worker is stopping: the batch is not acknowledged
                raise
            log.error("%s; analysing this batch in the worker and starting a new one", exc)
            self._replace(exc.child)
            return await self._fallback_runner().run(source, values)
        return [result for part in results for result in part]

    def _replace(self, dead: AnalysisChild) -> None:
        """A new child in the place of ``dead`` (once: another batch may have seen it die
        too). Here, on the event loop's thread, which lives as long as the worker."""
        if dead in self._children:
            dead.close(wait=0)
            self._children[self._children.index(dead)] = AnalysisChild(self.settings)

    def _fallback_runner(self) -> InlineRunner:
        if self._fallback is None:
            self._fallback = InlineRunner(
                build_analyzer(self.settings),
                max_bytes=self.settings.max_message_bytes,
                clock=self.clock,
                phrases=phrases_if_readable(self.settings),
            )
        return self._fallback

    def pids(self) -> list[int]:
        return sorted(child.pid for child in self._children if child.process.poll() is None)

    def close(self) -> None:
        self._closed = True
        for child in self._children:
            child.close()


def main() -> None:
    """The child: read the settings, load the models, then answer batch after batch until
    the worker closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker stops its children
    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not be a frame
    settings, worker_pid = receive(requests)
    stop_with_parent(worker_pid)  # a worker killed outright leaves no analysis process
    analyzer = build_analyzer(settings)
    phrases = phrases_if_readable(settings)
    settle_heap()  # the models' objects are never garbage
    while True:
        try:
            source, values = receive(requests)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (
                False,
                analyze_batch(
                    analyzer,
                    source,
                    values,
                    max_bytes=settings.max_message_bytes,
                    now=time.time(),
                    phrases=phrases,
                ),
            )
        except Exception as exc:  # the worker raises it, as if analysed there
            answer = (True, exc)
        send(replies, answer)


if __name__ == "__main__":
    main()
