"""Shared fixtures: a real Kafka-protocol broker (Tansu) and a real Redis-compatible server
(valkey), each started once per test session, on first use, on a free loopback port and
stopped after; and the live-worker factory (tests/workers.py) at two scopes.

Tiers: a test that starts a server — broker, Redis, Prometheus, Alertmanager, a worker, a
browser — is marked ``integration``; ``pytest -m "not integration"`` is the fast tier. A
test outside the marker that asks for a server fixture is a collection error, and one that
starts an embedded server (``ChildServer``) anyway fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import redis

from tests.support import Server
from tests.workers import WorkerFactory
from vocwatch.dev import embedded

INTEGRATION = "integration"
# Fixtures that start servers (those built on them, such as redis_url, depend on one).
SERVER_FIXTURES = frozenset(
    {"broker_server", "redis_server", "worker_factory", "module_worker_factory"}
)


@pytest.fixture(scope="session")
def broker_server() -> Iterator[embedded.ChildServer]:
    with embedded.broker() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[embedded.ChildServer]:
    with embedded.redis_server() as server:
        yield server


@pytest.fixture
def broker_url(broker_server: embedded.ChildServer) -> str:
    return f"kafka://{broker_server.host}:{broker_server.port}"


@pytest.fixture
def redis_url(redis_server: embedded.ChildServer) -> str:
    return f"redis://{redis_server.host}:{redis_server.port}/0"


@pytest.fixture
def redis_sync(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    """A fresh prefix per test, so tests sharing a server never see each other's keys."""
    return f"t{uuid.uuid4().hex[:10]}"


# --- live workers -----------------------------------------------------------------------


def _worker_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerFactory]:
    def servers() -> tuple[Server, Server]:
        # Asked for when a worker needs them: a test with servers of its own starts none.
        return request.getfixturevalue("broker_server"), request.getfixturevalue("redis_server")

    factory = WorkerFactory(servers, lambda name: Path(tmp_path_factory.mktemp(name)))
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def worker_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerFactory]:
    """``worker_factory(rules, name=…, **env)``: live workers that stop after the test."""
    yield from _worker_factory(request, tmp_path_factory)


@pytest.fixture(scope="module")
def module_worker_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerFactory]:
    """The same factory for workers that every test of a module shares."""
    yield from _worker_factory(request, tmp_path_factory)


# --- tiers and failure reports ----------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker(INTEGRATION) is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests start servers but are not marked integration (so the fast tier, "
            '-m "not integration", would run them):\n  ' + "\n  ".join(unmarked)
        )


_running: dict[str, pytest.Item] = {}


def pytest_configure(config: pytest.Config) -> None:
    """The fast tier's guard: an embedded server (broker, Redis, Prometheus, Alertmanager:
    each a ChildServer) started by a test that is not marked integration fails that test."""
    start = embedded.ChildServer.start

    def start_in_integration_tests_only(
        server: embedded.ChildServer, timeout: float = 20.0
    ) -> None:
        item = _running.get("item")
        if item is not None and item.get_closest_marker(INTEGRATION) is None:
            raise RuntimeError(
                f"{item.nodeid} starts {server.name} but is not marked {INTEGRATION}"
            )
        start(server, timeout)

    patch = pytest.MonkeyPatch()
    patch.setattr(embedded.ChildServer, "start", start_in_integration_tests_only)
    config.add_cleanup(patch.undo)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    _running["item"] = item  # session and module fixtures start in the first test's setup
    try:
        return (yield)
    finally:
        _running.pop("item", None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report ends with the log tail of every worker its factories made."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, WorkerFactory):
                for worker in value.workers:
                    report.sections.append(
                        (f"worker {worker.name} ({worker.log})", worker.log_tail())
                    )
    return report
