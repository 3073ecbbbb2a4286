"""vocwatch.evaluation.journeys: seeded journeys with known outcomes, and the hard cases."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from streams.events import decode
from vocwatch.evaluation.journeys import CASES_FILE, Journey, JourneyGenerator, load_cases

MAX_BYTES = 256 * 1024


def test_the_same_seed_gives_the_same_journeys() -> None:
    assert JourneyGenerator(5).generate(50) == JourneyGenerator(5).generate(50)
    assert JourneyGenerator(5).generate(50) != JourneyGenerator(6).generate(50)


def test_every_kind_appears_and_about_four_in_ten_are_at_risk() -> None:
    journeys = JourneyGenerator(17).generate(400)
    kinds = Counter(j.kind for j in journeys)
    assert len(kinds) == 12 and min(kinds.values()) >= 5
    assert 0.3 < sum(j.at_risk for j in journeys) / len(journeys) < 0.5
    assert {j.kind for j in journeys if j.at_risk} == {
        "repeat_unresolved",
        "churn_threat",
        "falling_satisfaction",
        "escalation",
    }


@pytest.mark.parametrize("journey", [*JourneyGenerator(3).generate(60), *load_cases()], ids=str)
def test_every_event_of_a_journey_is_a_valid_event_of_its_customer(journey: Journey) -> None:
    arrivals = []
    for at, source, event in journey.events("c1", 1_767_225_600.0):
        decoded = decode(
            source, json.dumps(event, ensure_ascii=False).encode(), max_bytes=MAX_BYTES
        )
        assert decoded.customer_id == "c1"
        assert decoded.event_time == pytest.approx(at - journey.late_hours * 3600)
        arrivals.append(at)
    assert arrivals == sorted(arrivals) and arrivals


def test_the_hard_cases_are_read_with_their_answers() -> None:
    cases = {j.name: j for j in load_cases()}
    assert len(cases) >= 30
    assert not cases["negated-will-not-close"].at_risk and cases["no-joke-threat"].at_risk
    assert cases["backlog-two-days-late"].late_hours == 48
    assert all(j.why for j in cases.values())
    assert CASES_FILE.name == "hard_cases.jsonl"


def test_a_case_without_contacts_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text('{"name": "x", "at_risk": true, "contacts": []}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"cases\.jsonl:1"):
        load_cases(path)
