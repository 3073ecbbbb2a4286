"""``vocwatch eval-customers`` end to end on a small set: the customer stage over a real
Redis meets the targets (precision and recall ≥ 0.9), and the hard negations and jokes
raise nothing."""

from __future__ import annotations

import pytest

from vocwatch.evaluation.customer_risk import evaluate, report
from vocwatch.evaluation.journeys import JourneyGenerator, load_cases

pytestmark = pytest.mark.integration


def test_a_small_evaluation_meets_the_targets(
    redis_server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"redis://{redis_server.host}:{redis_server.port}/0"  # type: ignore[attr-defined]
    monkeypatch.setenv("VOCWATCH_REDIS_URL", url)
    figures = evaluate(JourneyGenerator(23).generate(80), load_cases(), seed=23)
    for name in ("generated", "hard_cases", "all"):
        assert figures[name]["precision"] >= 0.9, figures[name]
        assert figures[name]["recall"] >= 0.9, figures[name]
    hard = figures["hard_cases"]
    assert not {n for n in hard["false_alarms"] if n.startswith(("negated", "joke"))}
    assert figures["all"]["journeys"] == 80 + hard["journeys"]
    assert report(figures)[0].startswith("generated: 80 journeys")
