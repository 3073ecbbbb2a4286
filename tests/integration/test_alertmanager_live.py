"""deploy/alertmanager/alertmanager.yml in a real Alertmanager (Debian's package): health
alerts reach the platform receiver, others the default one, and a worker that is down
inhibits its own other alerts and the lag and latency alerts of its deployment — but not
an unrelated worker's alerts or the deployment's dead-letter alert.

The copy under test differs from the file only in the webhook host (a local HTTP server
instead of the placeholder) and in group_wait (1 s, so that the test does not wait 30 s).
Only 127.0.0.1 is bound; clustering is off.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests import support
from tests.support import HttpReceiver, start_alertmanager

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
ALERTMANAGER = support.ALERTMANAGER
INSTALL = "apt-get install prometheus prometheus-alertmanager"
PLATFORM = {"job": "vocwatch", "team": "platform"}

ALERTS: dict[str, dict[str, str]] = {
    "worker_down": {
        "alertname": "VocwatchWorkerDown",
        "instance": "10.0.0.5:6066",
        "severity": "critical",
        **PLATFORM,
    },
    "its_redis": {
        "alertname": "VocwatchRedisErrors",
        "instance": "10.0.0.5:6066",
        "severity": "warning",
        **PLATFORM,
    },
    "other_redis": {
        "alertname": "VocwatchRedisErrors",
        "instance": "10.0.0.6:6066",
        "severity": "warning",
        **PLATFORM,
    },
    "lag": {
        "alertname": "VocwatchConsumerLagHigh",
        "topic": "vocwatch.calls",
        "severity": "critical",
        **PLATFORM,
    },
    "dead_letters": {
        "alertname": "VocwatchDeadLetterRatioHigh",
        "source": "complaint",
        "severity": "warning",
        **PLATFORM,
    },
    "not_ours": {"alertname": "DiskFull", "job": "node", "severity": "warning"},
}
INHIBITED = {"its_redis", "lag"}


class Webhook(HttpReceiver):
    """Keeps every notification Alertmanager posts: (path, body)."""

    def delivered(self) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
        """(receiver path, labels) of every alert notified as firing."""
        return {
            (path, tuple(sorted(alert["labels"].items())))
            for path, body in self.received
            for alert in body["alerts"]
            if alert["status"] == "firing"
        }


def _test_config(webhook_url: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url + urlsplit(hook["url"]).path

    def fast(route: dict[str, Any]) -> None:
        if "group_wait" in route or route is config["route"]:
            route["group_wait"] = "1s"
        for child in route.get("routes", []):
            fast(child)

    fast(config["route"])
    return config


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 (loopback)
        return json.load(reply)


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Webhook]]:
    if not os.access(ALERTMANAGER, os.X_OK):
        pytest.fail(f"{ALERTMANAGER} is not installed; this test needs it: {INSTALL}")
    tmp = tmp_path_factory.mktemp("alertmanager")
    webhook = Webhook().__enter__()
    config = tmp / "alertmanager.yml"
    config.write_text(yaml.safe_dump(_test_config(webhook.url)), encoding="utf-8")
    server = start_alertmanager(config, tmp)
    url = f"http://127.0.0.1:{server.port}"
    try:
        now = datetime.now(UTC).isoformat()
        body = json.dumps(
            [
                {"labels": labels, "annotations": {"summary": name}, "startsAt": now}
                for name, labels in ALERTS.items()
            ]
        ).encode()
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{url}/api/v2/alerts",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310 (loopback)
            assert reply.status == 200
        yield url, webhook
    finally:
        server.stop()
        webhook.__exit__()


def _by_name(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    names = {tuple(sorted(labels.items())): name for name, labels in ALERTS.items()}
    return {names[tuple(sorted(a["labels"].items()))]: a for a in alerts}


def test_a_down_worker_inhibits_its_own_alerts_and_the_deployment_lag(
    alertmanager: tuple[str, Webhook],
) -> None:
    url, _ = alertmanager
    # Alertmanager marks inhibited alerts a moment after it receives them: poll briefly.
    deadline = time.monotonic() + 10
    while True:
        alerts = _by_name(_get(f"{url}/api/v2/alerts"))
        suppressed = {name for name, alert in alerts.items() if alert["status"]["inhibitedBy"]}
        if suppressed == INHIBITED or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert set(alerts) == set(ALERTS)
    assert suppressed == INHIBITED
    assert {alerts[name]["status"]["state"] for name in INHIBITED} == {"suppressed"}


def test_notifications_go_to_the_routed_receiver_and_skip_inhibited_alerts(
    alertmanager: tuple[str, Webhook],
) -> None:
    _, webhook = alertmanager
    expected = {
        ("/default" if name == "not_ours" else "/platform", tuple(sorted(labels.items())))
        for name, labels in ALERTS.items()
        if name not in INHIBITED
    }
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not expected <= webhook.delivered():
        time.sleep(0.2)
    time.sleep(1.5)  # one more group_wait: an inhibited alert would have arrived by now
    assert webhook.delivered() == expected
