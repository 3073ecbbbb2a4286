"""Live ``vocwatch worker`` processes for the integration tests.

One factory, :class:`WorkerFactory`, served by the ``worker_factory`` (one test) and
``module_worker_factory`` (every test of a module) fixtures of tests/conftest.py:
``worker_factory(rules, name=…, VOCWATCH_…=…)`` starts a worker against the session's
broker and Redis (or the servers given), waits for its /health and returns a
:class:`LiveWorker` to talk to it; the fixture stops every worker it made. A failed test's
report carries the tail of each of its workers' logs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.support import Server, metric_samples, metric_value, worker_env
from vocwatch.dev import embedded
from vocwatch.settings import Settings

LOG_TAIL = 4000  # characters of a worker's log shown with a failure


class LiveWorker:
    """One ``vocwatch worker`` child process (started, stopped, restarted with the same
    settings and log) and the ways a test reads what it does."""

    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.env = env
        self.folder = folder
        self.log = folder / "worker.log"
        self.settings = Settings.from_env(env)
        self.process: subprocess.Popen[bytes] | None = None
        self._producer: KafkaProducer | None = None

    def __repr__(self) -> str:
        return f"<LiveWorker {self.name} {self.base_url} {self.log}>"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    @property
    def alerts_out(self) -> Path:
        """The JSON-lines file the worker appends its alerts to."""
        assert self.settings.alerts_out is not None, "started with VOCWATCH_ALERTS_OUT=None"
        return self.settings.alerts_out

    # --- the process ---------------------------------------------------------------------

    def start(self, *, wait: bool = True, timeout: float = 90) -> LiveWorker:
        """Start the process (its output appended to :attr:`log`); with ``wait``, return
        once /health says ok."""
        assert not self.running, f"{self} is running already"
        self.process = embedded.start_worker(self.env, self.log)
        if wait:
            self.wait_until(self.healthy, timeout=timeout, what=f"worker {self.name} /health")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal the worker's process group (SIGTERM: a clean stop with a final commit;
        SIGKILL: a crash) and wait for it."""
        if self.process is not None:
            embedded.stop_process(self.process, sig)

    def close(self) -> None:
        self.stop()
        if self._producer is not None:
            self._producer.close(5)
            self._producer = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code, None while running (or never started)."""
        return None if self.process is None else self.process.poll()

    def wait_until(self, check: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Wait for ``check`` while the worker runs: fail at once if it exits, and count a
        connection refused (the worker still starting) as not yet."""
        embedded.wait_until(check, timeout=timeout, what=what, process=self.process)

    def log_tail(self, characters: int = LOG_TAIL) -> str:
        return self.log.read_text(errors="replace")[-characters:] if self.log.exists() else ""

    # --- HTTP ----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The /health body, 200 or 503 alike."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as reply:  # noqa: S310 (loopback)
                body: dict[str, Any] = json.load(reply)
        except urllib.error.HTTPError as error:  # 503: degraded, with the same body
            with error:
                body = json.load(error)
        return body

    def healthy(self) -> bool:
        body = self.health()
        return body["status"] == "ok" and body["redis"] is True

    def api(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        """``method path`` with ``body`` as JSON; the answer's JSON. With ``auth``, the
        worker's API token (``VOCWATCH_API_TOKEN``, if set) as bearer token. An error
        status raises urllib's HTTPError."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        token = self.env.get("VOCWATCH_API_TOKEN")
        if auth and token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310 (loopback)
            self.base_url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310 (loopback)
            return json.load(reply)

    def metrics_text(self) -> str:
        """/metrics as served (Prometheus text format)."""
        with urllib.request.urlopen(f"{self.base_url}/metrics", timeout=5) as reply:  # noqa: S310 (loopback)
            return str(reply.read().decode())

    def metrics(self) -> list[Metric]:
        """/metrics parsed into metric families (prometheus_client.parser)."""
        return list(text_string_to_metric_families(self.metrics_text()))

    def samples(self, name: str, **labels: str) -> list[Sample]:
        """The samples of /metrics called ``name`` whose labels include ``labels``."""
        return metric_samples(self.metrics_text(), name, **labels)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of those samples, e.g. ``metric("vocwatch_events_valid_total",
        source="complaint")``; 0 when there are none."""
        return metric_value(self.metrics_text(), name, **labels)

    # --- Kafka and the alerts file -------------------------------------------------------

    @property
    def producer(self) -> KafkaProducer:
        """A producer to the worker's broker (acks=all), made on first use."""
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.settings.bootstrap_servers, acks="all"
            )
        return self._producer

    def send(self, source: str, event: dict[str, Any] | bytes, *, key: bytes | None = None) -> Any:
        """Produce ``event`` (a dict as UTF-8 JSON, bytes as they are) to the input topic of
        ``source``; the producer's future."""
        value = (
            event if isinstance(event, bytes) else json.dumps(event, ensure_ascii=False).encode()
        )
        return self.producer.send(self.settings.input_topics[source], key=key, value=value)

    def flush(self, timeout: float | None = None) -> None:
        self.producer.flush(timeout)

    def alerts(self) -> list[dict[str, Any]]:
        """Every record the worker has appended to its alerts file so far."""
        if not self.alerts_out.exists():
            return []
        return [json.loads(line) for line in self.alerts_out.read_text().splitlines()]


class WorkerFactory:
    """Makes :class:`LiveWorker` s, each in a folder of its own; :meth:`close` stops them."""

    def __init__(
        self, servers: Callable[[], tuple[Server, Server]], folders: Callable[[str], Path]
    ) -> None:
        self._servers = servers  # the session's broker and Redis, started on first use
        self._folders = folders
        self.workers: list[LiveWorker] = []

    def __call__(
        self,
        rules: str | None = None,
        *,
        name: str = "worker",
        broker: Server | None = None,
        redis: Server | None = None,
        start: bool = True,
        **env: str | None,
    ) -> LiveWorker:
        """A worker with ``rules`` (YAML text; None: the packaged rules), its own app id,
        topic prefix and web port, fast evaluation (tests.support.worker_env), its alerts
        appended to ``alerts.jsonl`` in its folder; then ``env`` on top, where None unsets
        a variable (the service's default). Against the session's broker and Redis unless
        ``broker`` or ``redis`` is given. Started and healthy unless ``start`` is false."""
        if broker is None or redis is None:
            session_broker, session_redis = self._servers()
            broker, redis = broker or session_broker, redis or session_redis
        folder = self._folders(name)
        settings = worker_env(
            broker,
            redis,
            folder,
            rules,
            name=name,
            VOCWATCH_ALERTS_OUT=str(folder / "alerts.jsonl"),
        )
        for variable, value in env.items():
            if value is None:
                settings.pop(variable, None)
            else:
                settings[variable] = value
        return self._add(LiveWorker(name, settings, folder), start)

    def join(self, other: LiveWorker, *, start: bool = True) -> LiveWorker:
        """Another worker in ``other``'s consumer group: the same settings, with a web port,
        data directory, alerts file and log of its own."""
        folder = self._folders(other.name)
        env = {
            **other.env,
            "VOCWATCH_WEB_PORT": str(embedded.free_port()),
            "VOCWATCH_DATA_DIR": str(folder / "data"),
        }
        if "VOCWATCH_ALERTS_OUT" in env:
            env["VOCWATCH_ALERTS_OUT"] = str(folder / "alerts.jsonl")
        return self._add(LiveWorker(other.name, env, folder), start)

    def _add(self, worker: LiveWorker, start: bool) -> LiveWorker:
        self.workers.append(worker)
        return worker.start() if start else worker

    def close(self) -> None:
        """Stop every worker made here, the last one first."""
        for worker in reversed(self.workers):
            worker.close()
