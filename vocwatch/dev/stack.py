"""``vocwatch dev``: a whole local stack in one command.

Starts a Kafka-protocol broker and a Redis-compatible server (a three-node Redis Cluster
with ``VOCWATCH_REDIS_CLUSTER=true``) on free loopback ports (or uses
``VOCWATCH_BROKER_URL`` / ``VOCWATCH_REDIS_URL`` when set), creates the topics, runs
``vocwatch worker`` as a child process, waits until its /health answers, optionally feeds
demo traffic, and stops everything in reverse order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from streams.liveness import STALLED_EXIT_CODE
from streams.topics import ensure_topics
from vocwatch.dev import demo, embedded
from vocwatch.errors import StackError
from vocwatch.settings import Settings

log = logging.getLogger(__name__)


class DevStack:
    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        web_port: int | None = None,
        alerts_out: Path | None = None,
    ) -> None:
        self.environ = dict(environ)
        configured = self.environ.get("VOCWATCH_WEB_PORT")
        self.web_port = web_port or (int(configured) if configured else embedded.free_port())
        self.alerts_out = alerts_out.resolve() if alerts_out else None
        self.servers: list[embedded.ChildServer] = []
        self.worker: subprocess.Popen[bytes] | None = None
        self.settings: Settings | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> DevStack:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def _start(self) -> None:
        env = self.environ
        if not env.get("VOCWATCH_BROKER_URL"):
            kafka = self._stack.enter_context(embedded.broker())
            env["VOCWATCH_BROKER_URL"] = f"kafka://{kafka.host}:{kafka.port}"
        if not env.get("VOCWATCH_REDIS_URL"):
            # With VOCWATCH_REDIS_CLUSTER on, a three-node cluster: the same key design at
            # work as in production, on one machine.
            if Settings.from_env(env).redis_cluster:
                cluster = self._stack.enter_context(embedded.RedisCluster())
                env["VOCWATCH_REDIS_URL"] = cluster.url
            else:
                redis = self._stack.enter_context(embedded.redis_server())
                env["VOCWATCH_REDIS_URL"] = f"redis://{redis.host}:{redis.port}/0"
        env["VOCWATCH_WEB_PORT"] = str(self.web_port)
        if self.alerts_out is not None:
            env["VOCWATCH_ALERTS_OUT"] = str(self.alerts_out)
        self.settings = Settings.from_env(env)
        ensure_topics(self.settings)
        self._start_worker()
        self._stack.callback(self._stop_worker)
        self._wait_healthy(timeout=90)

    def _start_worker(self) -> None:
        self.worker = embedded.start_worker(self.environ, log=None)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def run(self, *, demo_traffic: bool = False, exit_after: float | None = None) -> int:
        """Serve until ``exit_after`` seconds pass or the worker dies; a stop request
        (:class:`vocwatch.processes.StopRequested`, from SIGTERM or SIGINT) ends it too, and
        leaving the ``with`` block then stops the worker, the broker and Redis, in that order."""
        if self.settings is None or self.worker is None:
            raise StackError("DevStack.run() needs a started stack: use it in a with block")
        print(
            f"vocwatch is running — console {self.base_url}/console, "
            f"broker {self.settings.broker_url}, "
            f"metrics {self.base_url}/metrics, health {self.base_url}/health"
            + (f", alerts → {self.alerts_out}" if self.alerts_out else ""),
            flush=True,
        )
        stop = threading.Event()
        producer = None
        if demo_traffic:
            producer = threading.Thread(
                target=demo.run,
                args=(self.settings,),
                kwargs={"stop": stop},
                name="demo",
                daemon=True,
            )
            producer.start()
        deadline = time.monotonic() + exit_after if exit_after else None
        code = 0
        try:
            while deadline is None or time.monotonic() < deadline:
                if self.worker.poll() == STALLED_EXIT_CODE:
                    log.warning("the worker stalled and exited; restarting it")
                    self._start_worker()
                elif self.worker.poll() is not None:
                    log.error("the worker exited with code %s", self.worker.returncode)
                    code = 1
                    break
                time.sleep(0.2)
        finally:
            stop.set()
            if producer is not None:
                producer.join(timeout=15)
        return code

    def _wait_healthy(self, timeout: float) -> None:
        worker = self.worker
        if worker is None:
            raise StackError("the worker has not been started")

        def healthy() -> bool:
            if worker.poll() is not None:
                raise StackError(
                    f"the worker exited with code {worker.returncode} "
                    "while starting; see its log above"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as reply:  # noqa: S310
                    return bool(json.load(reply)["status"] == "ok")
            except urllib.error.URLError:
                return False

        embedded.wait_until(healthy, timeout=timeout, what="the worker's /health")

    def _stop_worker(self) -> None:
        worker = self.worker
        if worker is None or worker.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log.warning("the worker did not stop within 30 s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
