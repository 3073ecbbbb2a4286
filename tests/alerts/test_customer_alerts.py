"""alerts.customer_alerts: customer_risk and detractor alerts on the one lifecycle. Pure."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from alerts.customer_alerts import (
    acknowledged,
    detractor_step,
    incident_key,
    parse_customers,
    reassess,
    risk_step,
)
from alerts.lifecycle import WINDOW_FIELDS, Ack, Alert
from alerts.risk import assess
from alerts.rules import AlertConfig
from tests.alerts.customer_support import DAY, HOUR, NOW, POLICY, call, complaint, survey
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import AlertStatus, Notification, Priority

UPDATE = 30.0
AT_RISK = [
    complaint(1, 20 * HOUR, "宽带断网三天了"),
    complaint(2, 9 * HOUR, "第三次投诉了", escalation=("投诉",)),
    call(3, HOUR, resolved=False, wait_seconds=600.0, churn=("销户",), text="再不解决就销户"),
]


def step(contacts: list[Any], current: Alert | None = None, now: float = NOW) -> Any:
    risk = assess(contacts, POLICY.risk, now)
    return risk_step(current, "u1", risk, now, POLICY, update_seconds=UPDATE)


def test_a_customer_at_risk_opens_one_firing_alert_with_its_evidence() -> None:
    alert, kind = step(AT_RISK)
    assert kind == Notification.NEW and alert is not None
    record = alert.to_record()
    assert record["kind"] == "customer_risk" and record["rule"] == "customer_risk"
    assert record["status"] == "firing" and record["key"] == {"customer_id": "u1"}
    assert record["customer_id"] == "u1"
    assert record["score"] >= 60 and record["threshold"] == 60
    assert record["reasons"][0].startswith("churn_threat: 销户")
    assert [s["id"] for s in record["samples"]] == ["k3", "c2", "c1"]  # newest first
    assert [c["source"] for c in record["contacts"]] == ["call", "complaint", "complaint"]
    assert record["contacts"][0]["resolved"] is False
    assert {"time", "channel", "category", "sentiment"} <= set(record["contacts"][0])
    # no window, measure, count …: the threshold is the score's
    assert set(WINDOW_FIELDS) & set(record) == {"threshold"}
    assert {s["signal"] for s in record["signals"]} >= {"churn_threat", "unresolved_call"}
    assert Alert.from_state(json.loads(json.dumps(alert.to_state()))) == alert
    assert json.dumps(alert.to_state()) == json.dumps(dataclasses.asdict(alert))


def test_an_ordinary_customer_opens_nothing() -> None:
    assert step([complaint(1, HOUR)]) == (None, None)


def test_new_contacts_update_the_alert_at_most_every_update_interval() -> None:
    alert, _ = step(AT_RISK)
    more = [*AT_RISK, complaint(4, 0.5 * HOUR, "还是没人管")]
    soon, kind = step(more, alert, NOW + 10)
    assert kind is None and soon is not None and soon.counts.count == 4
    later, kind = step(more, soon, NOW + UPDATE)
    assert kind == Notification.UPDATE and later is not None
    assert later.to_record()["samples"][0]["id"] == "c4"


def test_the_alert_resolves_once_the_risk_has_decayed() -> None:
    alert, _ = step(AT_RISK)
    assert alert is not None
    almost, kind = reassess(alert, NOW + 3 * DAY, POLICY, update_seconds=UPDATE)
    assert almost is not None and almost.status == AlertStatus.FIRING
    assert almost.details["score"] < alert.details["score"]
    gone, kind = reassess(alert, NOW + 14 * DAY, POLICY, update_seconds=UPDATE)
    assert kind == Notification.RESOLVED and gone is not None
    assert gone.status == AlertStatus.RESOLVED and gone.details["score"] < 40


def test_acknowledging_resolves_and_says_up_to_when_the_contacts_were_handled() -> None:
    alert, _ = step(AT_RISK)
    assert alert is not None
    done, handled = acknowledged(alert, Ack("李四", NOW + 60, "已回电，免除月租"), NOW + 60)
    assert done.status == AlertStatus.RESOLVED and done.notification == Notification.RESOLVED
    assert done.to_record()["acknowledged"]["note"] == "已回电，免除月租"
    assert handled == pytest.approx(NOW - HOUR, abs=0.01)  # the newest contact shown


def test_the_customer_key_is_quoted() -> None:
    assert incident_key("[PHONE]~3b1f, x") == "customer_id=%5BPHONE%5D~3b1f%2C%20x"


# --- detractor ---------------------------------------------------------------------------


def follow_up(
    contacts: list[Any], current: Alert | None = None, now: float = NOW, **kw: Any
) -> Any:
    return detractor_step(current, "u1", contacts, now, POLICY, update_seconds=UPDATE, **kw)


def test_an_nps_1_with_a_comment_opens_a_follow_up_due_in_48_hours() -> None:
    alert, kind = follow_up([survey(1, HOUR, "nps", 1, "物流太慢，包装也破了")])
    assert kind == Notification.NEW and alert is not None
    record = alert.to_record()
    assert record["kind"] == "detractor" and record["priority"] == "P3"
    assert record["due_at"] == "2027-01-17T07:00:00.000+00:00"  # the response + 48 h
    assert record["overdue"] is False
    assert record["responses"] == [
        {
            "id": "s1",
            "time": "2027-01-15T07:00:00.000+00:00",
            "kind": "nps",
            "score": 1,
            "touchpoint": None,
            "comment": "物流太慢，包装也破了",
        }
    ]
    assert record["samples"][0]["text"] == "物流太慢，包装也破了"


@pytest.mark.parametrize(
    "response",
    [survey(1, HOUR, "nps", 7), survey(1, HOUR, "csat", 3), survey(1, HOUR, "ces", 1)],
    ids=["nps 7", "csat 3", "ces 1"],
)
def test_other_responses_open_nothing(response: Any) -> None:
    assert follow_up([response]) == (None, None)


def test_a_csat_of_2_is_a_detractor_too() -> None:
    alert, _ = follow_up([survey(1, HOUR, "csat", 2)])
    assert alert is not None


def test_later_detractor_responses_join_the_open_follow_up() -> None:
    first, _ = follow_up([survey(1, 2 * HOUR, "nps", 2)])
    both, kind = follow_up(
        [survey(1, 2 * HOUR, "nps", 2), survey(2, HOUR, "csat", 1)], first, NOW + UPDATE
    )
    assert both is not None and first is not None
    assert both.fingerprint == first.fingerprint and kind == Notification.UPDATE
    assert [r["id"] for r in both.details["responses"]] == ["s2", "s1"]
    assert both.details["due_at"] == first.details["due_at"]  # due from the first


def test_a_later_response_that_is_no_detractors_resolves_it() -> None:
    opened, _ = follow_up([survey(1, 2 * HOUR, "nps", 2)])
    done, kind = follow_up([survey(1, 2 * HOUR, "nps", 2), survey(2, HOUR, "nps", 9)], opened)
    assert kind == Notification.RESOLVED and done is not None
    assert done.status == AlertStatus.RESOLVED


def test_an_earlier_satisfied_response_does_not_resolve_it() -> None:
    opened, kind = follow_up([survey(1, DAY, "nps", 10), survey(2, HOUR, "nps", 0)])
    assert kind == Notification.NEW and opened is not None


def test_handled_responses_open_nothing_again() -> None:
    assert follow_up([survey(1, HOUR, "nps", 1)], handled=NOW - HOUR) == (None, None)


def test_an_overdue_follow_up_escalates_once() -> None:
    alert, _ = follow_up([survey(1, HOUR, "nps", 1)])
    assert alert is not None
    waiting, kind = reassess(alert, NOW + 46 * HOUR, POLICY, update_seconds=UPDATE)
    assert kind is None and waiting is not None
    late, kind = reassess(waiting, NOW + 47 * HOUR, POLICY, update_seconds=UPDATE)
    assert kind == Notification.ESCALATION and late is not None
    assert late.priority == Priority.P2 and late.details["overdue"] is True
    _, kind = reassess(late, NOW + 60 * HOUR, POLICY, update_seconds=UPDATE)
    assert kind is None  # told once


def test_customer_alerts_have_fingerprints_of_their_own() -> None:
    risk, _ = step(AT_RISK)
    follow, _ = follow_up([survey(1, HOUR, "nps", 1)])
    assert risk is not None and follow is not None
    assert risk.fingerprint != follow.fingerprint


# --- configuration -------------------------------------------------------------------------


def config(customers: Any) -> AlertConfig:
    return AlertConfig(rules=(), customers=customers, source="rules.yaml")


def test_without_a_customers_section_there_is_no_policy() -> None:
    assert parse_customers(config(None)) is None


def test_an_empty_customers_section_has_the_defaults_and_no_signals() -> None:
    policy = parse_customers(config({}))
    assert policy is not None
    assert (policy.history_seconds, policy.max_contacts) == (30 * 86400, 50)
    assert policy.risk.points == {}
    assert policy.detractor.due_seconds == 48 * 3600


@pytest.mark.parametrize(
    ("customers", "field"),
    [
        ({"history_day": 30}, ""),
        ({"max_contacts": 0}, "max_contacts"),
        ({"history_days": 400}, "history_days"),
        ({"detractor": {"due": "soon"}}, "due"),
        ({"detractor": {"priority": "P4"}}, "priority"),
        ({"risk": []}, ""),
    ],
)
def test_customer_configuration_errors_name_the_field(customers: Any, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_customers(config(customers))
    assert caught.value.field == field
    assert str(caught.value).startswith("rules.yaml: customers")


def test_the_packaged_policy() -> None:
    assert dataclasses.asdict(POLICY.detractor) == {
        "due_seconds": 172800,
        "priority": "P3",
        "overdue_priority": "P2",
    }
