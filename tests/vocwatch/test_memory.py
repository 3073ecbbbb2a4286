"""vocwatch.memory.settle_heap: start-up objects frozen out of the collector's sight, young
collections less often. Run in a child process: it changes the interpreter for good."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import gc, json
from vocwatch.memory import YOUNG_THRESHOLD, settle_heap
startup = [[i] for i in range(50_000)]           # lives as long as the process
cycle = []; cycle.append(cycle); del cycle        # start-up garbage: collected, not frozen
before = gc.get_threshold()
settle_heap()
frozen = gc.get_freeze_count()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": frozen,
                  "young": YOUNG_THRESHOLD, "tracked": len(gc.get_objects())}))
"""


def test_settle_heap_freezes_the_start_up_objects_and_collects_young_ones_less_often() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    figures = json.loads(out.stdout)
    assert figures["frozen"] >= 50_000  # the start-up objects
    assert figures["tracked"] < 1_000  # …no longer walked by collections
    assert figures["after"] == [figures["young"], *figures["before"][1:]]
    assert figures["young"] > figures["before"][0]
