"""The Alertmanager sink against a real Alertmanager (Debian's ``prometheus-alertmanager``):
a firing record becomes an active alert with vocwatch's labels and Chinese annotations, and
the resolved record of the same incident resolves it.

Alertmanager listens on a free loopback port, clustering off, with a configuration whose
only receiver does nothing.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client import CollectorRegistry

from alerts.notifiers import AlertmanagerNotifier
from alerts.sinkconfig import build_dispatcher, parse_sinks
from tests import support
from tests.alerts.test_payloads import example_record
from tests.support import eventually
from vocwatch.dev import embedded
from vocwatch.metrics import Metrics

pytestmark = pytest.mark.integration

ALERTMANAGER = support.ALERTMANAGER
INSTALL = "apt-get install prometheus-alertmanager"
CONFIG = {"route": {"receiver": "nobody", "group_wait": "1s"}, "receivers": [{"name": "nobody"}]}


def start_alertmanager(workdir: Path) -> embedded.ChildServer:
    """Alertmanager on a free loopback port, clustering off, data under ``workdir``."""
    config = workdir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    server: embedded.ChildServer = support.start_alertmanager(config, workdir)
    return server


@pytest.fixture(scope="module")
def alertmanager_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not os.access(ALERTMANAGER, os.X_OK):
        pytest.fail(f"{ALERTMANAGER} is not installed; this test needs it: {INSTALL}")
    server = start_alertmanager(tmp_path_factory.mktemp("alertmanager"))
    try:
        yield f"http://{server.host}:{server.port}"
    finally:
        server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def live_records(fingerprint: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A firing record of an incident that started a minute ago, and its resolution."""
    now = datetime.now(UTC)
    firing = example_record(
        id=f"{fingerprint}-1",
        fingerprint=fingerprint,
        first_seen=iso(now - timedelta(seconds=60)),
        last_seen=iso(now),
        updated_at=iso(now),
    )
    # Stamped a little ahead of Alertmanager's clock, as a worker's clock may be.
    ahead = iso(now + timedelta(seconds=2))
    resolved = {
        **firing,
        "status": "resolved",
        "notification": "resolved",
        "resolved_at": ahead,
        "updated_at": ahead,
        "sequence": 1,
    }
    return firing, resolved


def listed(url: str, fingerprint: str) -> list[dict[str, Any]]:
    """Alerts Alertmanager lists (active, silenced, inhibited or unprocessed) for it."""
    query = urllib.parse.urlencode({"filter": f'fingerprint="{fingerprint}"'})
    address = f"{url}/api/v2/alerts?{query}"
    with urllib.request.urlopen(address, timeout=5) as reply:  # noqa: S310 (loopback)
        alerts: list[dict[str, Any]] = json.load(reply)
    return alerts


async def test_firing_record_becomes_an_alert_and_resolved_record_ends_it(
    alertmanager_url: str, session: aiohttp.ClientSession
) -> None:
    firing, resolved = live_records("a1b2c3d4e5f60718")
    notifier = AlertmanagerNotifier(session, alertmanager_url)
    await notifier.send([firing])
    eventually(lambda: listed(alertmanager_url, "a1b2c3d4e5f60718"), 10, "the firing alert listed")
    [alert] = listed(alertmanager_url, "a1b2c3d4e5f60718")
    assert alert["labels"] == {
        "alertname": "negative_burst",
        "fingerprint": "a1b2c3d4e5f60718",
        "priority": "P2",
        "team": "客服主管",
        "channel": "app",
        "category": "logistics",
        "service": "vocwatch",
    }
    assert alert["status"]["state"] in {"active", "unprocessed"}
    assert alert["annotations"]["summary"].startswith("【P2 告警】某渠道某类负面反馈激增")
    assert alert["annotations"]["samples"] == "快递三天没到，电话***********打不通"
    starts = datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
    assert starts == datetime.fromisoformat(firing["first_seen"])

    await notifier.send([resolved])
    eventually(
        lambda: listed(alertmanager_url, "a1b2c3d4e5f60718") == [],
        10,
        "the resolved alert no longer listed as active",
    )


async def test_dispatcher_sends_firing_then_resolved_to_alertmanager(
    alertmanager_url: str, session: aiohttp.ClientSession
) -> None:
    registry = CollectorRegistry()
    specs = parse_sinks(
        {"alertmanager": {"type": "alertmanager", "url_env": "VOCWATCH_SINK_ALERTMANAGER_URL"}},
        "rules.yaml",
    )
    dispatcher = build_dispatcher(
        specs,
        {"VOCWATCH_SINK_ALERTMANAGER_URL": alertmanager_url},
        session,
        None,
        Metrics.create(registry),
    )
    await dispatcher.start()
    firing, resolved = live_records("0f1e2d3c4b5a6978")
    try:
        dispatcher.dispatch(firing, ["alertmanager"])
        await _wait_async(lambda: bool(listed(alertmanager_url, "0f1e2d3c4b5a6978")))
        dispatcher.dispatch(resolved, ["alertmanager"])
    finally:
        await dispatcher.stop(5.0)
    eventually(
        lambda: listed(alertmanager_url, "0f1e2d3c4b5a6978") == [],
        10,
        "the resolved alert no longer listed as active",
    )
    assert (
        registry.get_sample_value(
            "vocwatch_sink_deliveries_total", {"sink": "alertmanager", "outcome": "sent"}
        )
        == 2
    )


async def _wait_async(check: Any, timeout: float = 10.0) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.1)
