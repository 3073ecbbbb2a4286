"""The benchmark harness's pure parts (the whole run: tests/integration/test_bench.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from vocwatch.bench.harness import (
    _first_alerts,
    bucket_quantile,
    lag_buckets,
    lag_delta,
    late_after,
)


def alert(region: str, first_seen: str, rule: str = "bench_incident") -> str:
    return json.dumps({"rule": rule, "key": {"region": region}, "first_seen": first_seen})


def test_the_first_alert_of_each_region_is_read_and_a_line_being_written_is_not(
    tmp_path: Path,
) -> None:
    """The worker appends to the alerts file while the harness reads it: a last line
    without its newline is still being written and is left for the next read."""
    path = tmp_path / "alerts.jsonl"
    assert _first_alerts(path) == {}
    lines = [
        alert("a", "2026-12-07T10:00:00+00:00"),
        alert("a", "2026-12-07T10:00:05+00:00"),  # the same incident, updated
        alert("b", "2026-12-07T10:00:01+00:00", rule="customer_risk"),
    ]
    half = alert("c", "2026-12-07T10:00:02+00:00")[:30]
    path.write_text("\n".join(lines) + "\n" + half, encoding="utf-8")
    assert _first_alerts(path) == {"a": 1796637600.0}
    with path.open("a", encoding="utf-8") as out:
        out.write(alert("c", "2026-12-07T10:00:02+00:00")[30:] + "\n")
    assert _first_alerts(path) == {"a": 1796637600.0, "c": 1796637602.0}


PAGE = """# TYPE vocwatch_event_loop_lag_seconds histogram
vocwatch_event_loop_lag_seconds_bucket{{le="0.1"}} {a}
vocwatch_event_loop_lag_seconds_bucket{{le="0.5"}} {b}
vocwatch_event_loop_lag_seconds_bucket{{le="1.0"}} {c}
vocwatch_event_loop_lag_seconds_bucket{{le="+Inf"}} {d}
vocwatch_event_loop_lag_seconds_count {d}
vocwatch_alert_step_duration_seconds_bucket{{le="0.1"}} 7.0
"""


def test_the_loop_lag_of_a_phase_is_read_from_two_pages_of_metrics() -> None:
    before = lag_buckets(PAGE.format(a=100.0, b=100.0, c=100.0, d=100.0))
    after = lag_buckets(PAGE.format(a=300.0, b=330.0, c=340.0, d=341.0))
    assert before == {0.1: 100.0, 0.5: 100.0, 1.0: 100.0, math.inf: 100.0}
    phase = lag_delta(before, after)
    assert phase == {0.1: 200.0, 0.5: 230.0, 1.0: 240.0, math.inf: 241.0}
    # as Prometheus' histogram_quantile: rank 0.99 × 241 = 238.59, within (0.5, 1.0]
    assert bucket_quantile(phase, 0.99) == round(0.5 + 0.5 * (238.59 - 230) / 10, 3)
    assert bucket_quantile(phase, 0.5) == round(0.1 * 120.5 / 200, 3)
    assert late_after(phase, 0.5) == 11
    assert late_after(phase, 1.0) == 1


def test_a_quantile_in_the_last_bucket_is_its_lower_bound_and_none_without_data() -> None:
    assert bucket_quantile({0.1: 1.0, math.inf: 10.0}, 0.99) == 0.1
    assert bucket_quantile({0.1: 0.0, math.inf: 0.0}, 0.99) is None
    assert bucket_quantile(lag_buckets(""), 0.99) is None
    assert late_after({}, 0.5) == 0
