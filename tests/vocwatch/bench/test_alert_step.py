"""``vocwatch bench-alert-step`` on a small scale: the customer alerts it opens through the
real pipeline are all open when the steps are timed, and it reports every step."""

from __future__ import annotations

import json
import re

import pytest

from vocwatch.bench.alert_step import measure
from vocwatch.cli import main

pytestmark = pytest.mark.integration


async def test_the_steps_are_timed_with_every_customer_alert_open() -> None:
    figures = await measure(alerts=12, steps=3)
    assert figures["open_alerts"] == 12
    assert figures["steps"] == 3 and len(figures["steps_ms"]) == 3
    assert 0 < figures["median_ms"] <= figures["worst_ms"] == max(figures["steps_ms"])
    assert len(figures["stalls_ms"]) == 3
    assert 0 < figures["worst_stall_ms"] == max(figures["stalls_ms"]) <= figures["worst_ms"]


def test_the_command_prints_its_figures_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-alert-step", "--alerts", "5", "--steps", "2", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["open_alerts"] == 5 and figures["steps"] == 2


def test_the_command_prints_one_readable_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-alert-step", "--alerts", "3", "--steps", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(
        r"3 open customer alerts, 2 steps: median \d+\.\d ms, mean \d+\.\d ms, worst "
        r"\d+\.\d ms; the event loop held up for at most \d+\.\d\d ms",
        line,
    ), line


def test_a_count_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-alert-step", "--alerts", "0"]) == 2
    assert "--alerts and --steps must be 1 or more" in capsys.readouterr().err
