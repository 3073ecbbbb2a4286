"""The README's run command, scripted: ``vocwatch dev --demo --exit-after S --alerts-out F``
starts its own broker and Redis, runs the worker and the demo (its incident and its drifting
customers), and stops on its own."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import HttpReceiver
from vocwatch.dev import embedded

pytestmark = pytest.mark.integration


def test_dev_demo_raises_the_incident_alert_and_exits_cleanly(tmp_path: Path) -> None:
    alerts_out = tmp_path / "a.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOCWATCH_")}
    vocwatch = shutil.which("vocwatch", path=str(Path(sys.executable).parent))
    assert vocwatch, "the console script must be installed next to the interpreter"
    with HttpReceiver() as hook:  # the packaged routing sends 客服主管's alerts here too
        env["VOCWATCH_SINK_WEBHOOK_URL"] = hook.url + "/vocwatch"
        result = subprocess.run(
            [vocwatch, "dev", "--demo", "--exit-after", "45", "--alerts-out", str(alerts_out)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=150,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "metrics http://127.0.0.1:" in result.stdout
    assert re.search(r"console http://127\.0\.0\.1:\d+/console", result.stdout)

    alerts = [json.loads(line) for line in alerts_out.read_text().splitlines()]
    incident = [
        a
        for a in alerts
        if a["rule"] == "negative_burst" and a["key"] == {"channel": "app", "category": "logistics"}
    ]
    assert incident, f"no alert for the demo incident in {alerts}"
    assert len({a["id"] for a in incident}) == 1
    assert incident[0]["route"]["team"] == "客服主管"
    heard = [
        a
        for path, body in hook.received
        for a in body["alerts"]
        if path == "/vocwatch" and a["id"] == incident[0]["id"]
    ]
    assert heard and heard[0]["status"] == "firing", "the demo incident reaches the webhook"
    # The demo's customers: a and b drift into risk, c answers a survey with NPS 1.
    customers = {
        (a["kind"], a["customer_id"].rsplit("-", 1)[-1])
        for a in alerts
        if a["kind"] != "window" and a["customer_id"].startswith("vip-")
    }
    assert {("customer_risk", "a"), ("customer_risk", "b"), ("detractor", "c")} <= customers
    for alert in alerts:
        assert alert["priority"] in {"P1", "P2", "P3"}
        texts = [sample["text"] for sample in alert["samples"]]
        assert not any(re.search(r"1[3-9]\d{9}|@example\.com", text) for text in texts)
    # Every child is gone: nothing listens any more on the broker and worker ports.
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", result.stdout)]
    assert len(ports) >= 2
    for port in ports:
        with pytest.raises(OSError):
            embedded.port_open("127.0.0.1", port)
