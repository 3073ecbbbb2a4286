"""alerts.risk: a transparent score from a customer's contacts, with the packaged weights."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from alerts.risk import Hit, RiskPolicy, assess, parse_risk, score
from alerts.sections import Section
from tests.alerts.customer_support import DAY, HOUR, NOW, POLICY, call, complaint, survey
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Polarity, RiskSignal

RISK = POLICY.risk
CHURN = RISK.points[RiskSignal.CHURN_THREAT]  # the packaged weights, whatever they are
UNRESOLVED = RISK.points[RiskSignal.UNRESOLVED_CALL]
REPEAT = RISK.points[RiskSignal.REPEAT_CONTACTS]


def points(contacts: list[Any], policy: RiskPolicy = RISK, **kwargs: Any) -> dict[str, float]:
    risk = assess(contacts, policy, NOW, **kwargs)
    return {h.signal: round(h.now(policy, NOW), 1) for h in risk.hits}


def test_three_negative_contacts_a_long_unresolved_call_and_a_threat_is_a_high_risk() -> None:
    contacts = [
        complaint(1, 20 * HOUR),
        complaint(2, 15 * HOUR),
        complaint(3, 9 * HOUR, "第三次投诉了", escalation=("投诉",)),
        call(4, 1 * HOUR, resolved=False, wait_seconds=600.0, churn=("销户",)),
    ]
    risk = assess(contacts, RISK, NOW)
    assert risk.score >= RISK.p1_from
    assert set(points(contacts)) == {
        "churn_threat",
        "negative_contacts",
        "repeat_contacts",
        "escalation",
        "unresolved_call",
        "long_wait",
    }
    reasons = risk.reasons(RISK, NOW)
    assert reasons[0] == f"churn_threat: 销户 (+{CHURN:.0f})"  # most points first
    assert f"repeat_contacts: 4 contacts in 7 days (+{REPEAT:.0f})" in reasons
    assert (risk.contacts, risk.negative) == (4, 4)


def test_an_unresolved_threat_and_a_detractor_saying_the_same_cross_the_threshold() -> None:
    contacts = [
        call(1, 2 * HOUR, resolved=False, churn=("携号转网",)),
        survey(2, HOUR, "nps", 1, "准备携号转网了", churn=("携号转网",)),
    ]
    assert assess(contacts, RISK, NOW).score >= RISK.threshold
    assert points(contacts)["churn_threat"] == pytest.approx(CHURN, rel=0.01)  # once, not twice


@pytest.mark.parametrize(
    "contacts",
    [
        [complaint(1, DAY)],
        [complaint(1, 2 * DAY), call(2, DAY, resolved=True, sentiment=0.7, polarity="positive")],
        [complaint(1, DAY, escalation=("投诉",)), complaint(2, HOUR)],
        [survey(1, HOUR, "nps", 3, "物流太慢了")],
    ],
    ids=["one complaint", "solved by a call", "two complaints, one saying 投诉", "a detractor"],
)
def test_ordinary_customers_stay_below_the_threshold(contacts: list[Any]) -> None:
    assert assess(contacts, RISK, NOW).score < RISK.threshold


def test_one_angry_contact_that_was_resolved_counts_at_the_discount() -> None:
    angry = call(1, HOUR, resolved=True, rating=4, churn=("销户",), escalation=("12315",))
    risk = assess([angry], RISK, NOW)
    assert risk.score < RISK.threshold
    assert points([angry])["churn_threat"] == pytest.approx(CHURN * 0.5, rel=0.01)
    # the same call unresolved is a customer at risk
    assert assess([angry._replace(resolved=False)], RISK, NOW).score >= 60


def test_a_new_problem_after_the_resolution_counts_in_full() -> None:
    contacts = [
        call(1, 3 * DAY, resolved=True, churn=("销户",)),
        complaint(2, HOUR, churn=("销户",)),
    ]
    assert points(contacts)["churn_threat"] == pytest.approx(CHURN, rel=0.01)


def test_a_low_rated_call_is_no_resolution() -> None:
    contacts = [call(1, HOUR, resolved=True, rating=1, churn=("销户",))]
    assert points(contacts)["churn_threat"] == pytest.approx(CHURN, rel=0.01)
    assert "low_rating" in points(contacts)


def test_a_satisfied_survey_response_is_a_resolution() -> None:
    contacts = [complaint(1, 2 * DAY, churn=("退订",)), survey(2, DAY, "csat", 5)]
    assert points(contacts)["churn_threat"] < CHURN * 0.5


def test_threats_in_a_positive_text_do_not_count() -> None:
    joking = complaint(1, HOUR, churn=("销户",), polarity=Polarity.POSITIVE, sentiment=0.9)
    assert "churn_threat" not in points([joking])


def test_a_threat_read_as_positive_counts_when_an_unresolved_call_says_it_is_real() -> None:
    # sarcasm (真是太好了…呵呵，换别家算了) reads as positive; the unresolved call says otherwise
    sarcastic = complaint(1, 2 * HOUR, churn=("换别家",), polarity=Polarity.POSITIVE, sentiment=0.7)
    assert "churn_threat" not in points([sarcastic, call(2, HOUR, resolved=True)])
    assert points([sarcastic, call(2, HOUR, resolved=False)])["churn_threat"] > 0


def test_points_halve_every_half_life() -> None:
    contact = complaint(1, RISK.half_life_days * DAY, churn=("销户",))
    assert points([contact])["churn_threat"] == pytest.approx(CHURN / 2, abs=0.1)
    hits = assess([contact], RISK, NOW).hits
    assert score(hits, RISK, NOW + RISK.half_life_days * DAY) == pytest.approx(
        score(hits, RISK, NOW) / 2, abs=0.1
    )


def test_contacts_up_to_the_handled_mark_do_not_count() -> None:
    contacts = [complaint(1, DAY, churn=("销户",)), complaint(2, HOUR)]
    handled = points(contacts, handled=NOW - DAY)
    assert "churn_threat" not in handled and "negative_contacts" in handled


def test_repeat_contacts_need_the_number_within_the_days() -> None:
    within = [complaint(i, i * DAY) for i in range(1, 4)]  # 1, 2, 3 days ago
    assert "repeat_contacts" in points(within)
    spread = [complaint(i, i * 3 * DAY) for i in range(1, 4)]  # 3, 6, 9 days ago
    assert "repeat_contacts" not in points(spread)


def test_repeat_contacts_of_the_same_issue_when_configured() -> None:
    policy = dataclasses.replace(
        RISK,
        parameters={
            **RISK.parameters,
            RiskSignal.REPEAT_CONTACTS: {"contacts": 3, "days": 7, "same_issue": True},
        },
    )
    mixed = [complaint(1, DAY), complaint(2, DAY, category="price"), complaint(3, HOUR)]
    assert "repeat_contacts" not in points(mixed, policy)
    assert "repeat_contacts" in points([*mixed, complaint(4, HOUR)], policy)


def test_unresolved_calls_and_negative_contacts_count_up_to_their_limit() -> None:
    calls = [call(i, i * HOUR, resolved=False, polarity=Polarity.NEUTRAL) for i in range(1, 5)]
    assert points(calls)["unresolved_call"] == pytest.approx(2 * UNRESOLVED, rel=0.01)  # at most 2


def test_falling_sentiment_compares_the_last_two_texts_with_the_ones_before() -> None:
    warm = dict(polarity=Polarity.POSITIVE)
    falling = [
        complaint(1, 3 * DAY, sentiment=0.8, **warm),
        complaint(2, 2 * DAY, sentiment=0.9, **warm),
        complaint(3, DAY, sentiment=0.3, polarity=Polarity.NEUTRAL),
        complaint(4, HOUR, sentiment=0.2),
    ]
    assert "falling_sentiment" in points(falling)
    assert "falling_sentiment" not in points(falling[1:3])  # too few texts


def test_transfers_long_waits_and_low_ratings() -> None:
    found = points([call(1, HOUR, resolved=True, transfers=3, wait_seconds=200.0, rating=2)])
    assert {"transfers", "long_wait", "low_rating"} <= set(found)
    assert "low_rating" in points([survey(1, HOUR, "csat", 2)])
    assert "detractor" in points([survey(1, HOUR, "nps", 6)])
    assert "detractor" not in points([survey(1, HOUR, "nps", 7)])


def test_a_hit_survives_its_json() -> None:
    hit = Hit(RiskSignal.CHURN_THREAT, 35.0, NOW - HOUR, "销户")
    data = hit.to_json(RISK, NOW)
    assert data["signal"] == "churn_threat" and data["fresh_points"] == 35.0
    assert Hit.from_json(data) == hit


def risk_section(**risk: Any) -> Section:
    return Section(risk, ["customers", "risk"], source="rules.yaml", lines=None)


def test_the_packaged_weights_are_read() -> None:
    assert set(RISK.points) == set(RiskSignal)  # every signal weighed
    assert RISK.param(RiskSignal.REPEAT_CONTACTS, "contacts") == 3
    assert (RISK.threshold, RISK.resolve_below, RISK.repeat_seconds) == (60, 40, 86400)


def test_a_signal_left_out_counts_nothing() -> None:
    policy = parse_risk(risk_section(signals={"churn_threat": {"points": 50}}))
    assert assess([complaint(1, 0, churn=("销户",))], policy, NOW).score == 50
    assert assess([complaint(1, 0)], policy, NOW).score == 0


@pytest.mark.parametrize(
    ("risk", "field"),
    [
        ({"signals": {"churn": {"points": 1}}}, ""),
        ({"signals": {"churn_threat": {"points": -1}}}, "points"),
        ({"signals": {"churn_threat": {"points": 10, "days": 3}}}, ""),
        ({"signals": {"repeat_contacts": {"points": 10, "contacts": 0}}}, "contacts"),
        ({"threshold": 50, "resolve_below": 70}, "resolve_below"),
        ({"threshold": 120}, "threshold"),
        ({"repeat": "daily"}, "repeat"),
        ({"thresold": 50}, ""),
    ],
)
def test_configuration_errors_name_the_field(risk: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_risk(risk_section(**risk))
    assert caught.value.field == field
    assert str(caught.value).startswith("rules.yaml: customers.risk")


def test_a_customer_whose_contacts_show_nothing_scores_0() -> None:
    quiet = complaint(1, HOUR, polarity=Polarity.POSITIVE, sentiment=0.9)
    risk = assess([quiet], RISK, NOW)
    assert (risk.score, risk.hits, risk.contacts) == (0, (), 1)
    # … but with a repeat of a single contact configured, one contact is a repeat
    policy = dataclasses.replace(
        RISK,
        parameters={**RISK.parameters, RiskSignal.REPEAT_CONTACTS: {"contacts": 1, "days": 7}},
    )
    assert "repeat_contacts" in points([quiet], policy)
