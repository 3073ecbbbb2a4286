"""`vocwatch bench` on a small run: every figure is produced and the run counts each valid
event exactly once. The speed targets live in the benchmark itself, not here."""

from __future__ import annotations

import gc

import pytest

from vocwatch.bench.harness import bench

pytestmark = pytest.mark.integration


# A whole benchmark (scoring, pass-through, end to end, latency and its curve) in small:
# 40–70 s here, and once over 120 s in CI: the suite's 120 s hang guard is too close.
@pytest.mark.timeout(360)
def test_bench_runs_end_to_end_and_counts_every_event_once() -> None:
    collector = gc.get_threshold(), gc.get_freeze_count()
    figures = bench(
        events=2000,
        rate=200.0,
        incidents=2,
        latency_seconds=6.0,
        threshold=10,
        curve_seconds=4.0,
        curve_incidents=1,
        say=lambda *_: None,
    )
    assert figures["events"] == 2000
    assert figures["duplicates"] == 0 and figures["lost"] == 0
    assert 1900 <= figures["valid_events"] < 2000  # about 1 in 60 is broken
    for name in (
        "events_per_s",
        "passthrough_per_s",
        "scoring_per_s",
        "ceiling_per_s",
        "peak_rss_mb",
        "analysis_rss_mb",
        "worker_cpu_us_per_event",
        "analysis_cpu_us_per_event",
        "live_worker_cpu_us_per_event",
        "live_analysis_cpu_us_per_event",
    ):  # the analysis process is measured too, on the backlog and in the latency phase
        assert figures[name] > 0, name
    # a rate, not 2,000 events over no time (a backlog accounted for between two polls)
    assert figures["events_per_s"] < 100_000
    assert (figures["analysis_processes"], figures["batch_size"]) == (1, 1000)
    assert figures["partitions"] == 1  # of each topic it created: one worker reads them all
    ceiling = 1 / (1 / figures["passthrough_per_s"] + 1 / figures["scoring_per_s"])
    assert figures["ceiling_per_s"] == pytest.approx(ceiling, rel=0.01)
    assert figures["latency_incidents"] == 2
    assert 0 < figures["latency_p50_s"] <= figures["latency_p99_s"] < 30
    # the latency curve: a point at each fraction of the capacity this run measured
    curve = figures["latency_curve"]
    assert [point["load_fraction"] for point in curve] == [0.25, 0.5, 0.75]
    for point in curve:
        assert point["load_per_s"] == pytest.approx(
            figures["events_per_s"] * point["load_fraction"], rel=0.01
        )
        assert point["latency_incidents"] == point["latency_expected"] == 1, point
        assert 0 < point["latency_p50_s"] <= point["latency_p99_s"] < 30
    assert figures["event_loop"] in ("uvloop", "asyncio")
    # the event loop's lag over the latency phase: some 24 wake-ups in 6 s, read from the
    # worker's histogram before and after
    assert figures["live_loop_lag_p99_s"] is not None and figures["live_loop_lag_p99_s"] >= 0
    assert 0 <= figures["live_loop_lag_over_half_s"] < 24
    # the scoring phase tunes the collector as the analysis process does, then restores it
    assert (gc.get_threshold(), gc.get_freeze_count()) == collector
