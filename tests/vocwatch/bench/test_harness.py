"""The benchmark harness's pure parts (the whole run: tests/integration/test_bench.py)."""

from __future__ import annotations

import json
from pathlib import Path

from vocwatch.bench.harness import _first_alerts


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
