"""vocwatch bench-stages on a small run: every event of the demo's traffic goes through the
worker's own stages against a real Redis (an embedded valkey), and a figure per run comes
out."""

from __future__ import annotations

import argparse
import json

import pytest

from vocwatch.bench import stages

pytestmark = pytest.mark.integration


def test_a_small_run_times_every_event_and_publishes_its_records(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert stages.run(argparse.Namespace(events=600, runs=2, seed=3)) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["events"] == 600
    assert figures["batches"] >= 4  # a batch per source at least: complaints, calls, posts …
    # every valid event's scored record (and every invalid one's dead letter) was handed on
    assert figures["published"] >= 0.9 * figures["events"]
    assert len(figures["runs"]) == 2 and all(r > 0 for r in figures["runs"])
    assert figures["us_per_event_median"] <= figures["us_per_event_worst"] == max(figures["runs"])
