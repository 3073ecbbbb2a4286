"""alerts.lifecycle: one incident is one alert — pending, firing (new, update, escalation,
reminder), resolved; records and state."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from alerts.baseline import Baseline
from alerts.evaluate import evaluate
from alerts.lifecycle import (
    MAX_SAMPLES,
    Ack,
    Alert,
    Member,
    Route,
    Sample,
    Term,
    Window,
    advance,
    fingerprint,
    merge_samples,
)
from alerts.rules import Rule, WindowCounts, parse_rules
from vocwatch.vocabulary import CHAT_NOTIFICATIONS, AlertKind, Priority, PriorityName


def parse_rule(**changes: Any) -> Rule:
    data = {
        "name": "burst",
        "description": "负面激增",
        "key": ["channel", "category"],
        "window": "5m",
        "measure": "negative_count",
        "threshold": 10,
        "min_count": 10,
        "resolve_ratio": 0.8,
        "priority": "P2",
        **changes,
    }
    (rule,) = parse_rules({"rules": [{k: v for k, v in data.items() if v is not ...}]})
    return rule


RULE = parse_rule()
PENDING_RULE = parse_rule(**{"for": "1m"})
KEY = "channel=app,category=logistics"
T0 = 1_800_000_000.0
UPDATE = 30.0
Result = tuple[Alert | None, str | None]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def counts(negative: int, *, count: int | None = None, p1: int = 0) -> WindowCounts:
    return WindowCounts(count=negative if count is None else count, negative=negative, p1=p1)


def step(
    window_counts: WindowCounts,
    now: float,
    current: Alert | None,
    samples: tuple[Sample, ...] = (),
    *,
    rule: Rule = RULE,
    end: float | None = None,
    members: tuple[Member, ...] = (),
) -> Result:
    """Evaluate the window at ``now`` and advance the alert, as the engine does."""
    end = now if end is None else end
    evaluation = evaluate(rule, window_counts, now=now)
    return advance(
        rule,
        KEY,
        Window(end - rule.window_seconds, end),
        evaluation,
        now,
        current,
        samples,
        update_seconds=UPDATE,
        members=members,
    )


def sample(
    event_id: str,
    priority: PriorityName = "P2",
    event_time: float = T0,
    negative: bool = True,
    text: str | None = None,
) -> Sample:
    return Sample(event_id, text or f"text of {event_id}", Priority(priority), event_time, negative)


def fire(negative: int = 12, samples: tuple[Sample, ...] = (), *, rule: Rule = RULE) -> Alert:
    alert, kind = step(counts(negative), T0, None, samples, rule=rule)
    assert alert is not None
    assert kind == "new"
    return alert


# --- firing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "window_counts",
    [
        WindowCounts(),
        WindowCounts(count=50, negative=9),
        WindowCounts(count=9, negative=9, p1=9),
    ],  # below min_count
)
def test_no_alert_when_not_breached(window_counts: WindowCounts) -> None:
    assert step(window_counts, T0, None, (sample("e1"),)) == (None, None)


def test_fingerprint_is_stable_per_rule_and_key() -> None:
    fp = fingerprint("burst", KEY)
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert fingerprint("burst", KEY) == fp
    assert fingerprint("burst", "channel=web,category=logistics") != fp
    assert fingerprint("other_rule", KEY) != fp


def test_new_alert_fires_with_fingerprint_based_id() -> None:
    samples = (sample("e1"), sample("e2", "P1"))
    alert, kind = step(counts(12, count=20, p1=1), T0 + 0.75, None, samples, end=T0)
    assert kind == "new"
    assert alert is not None
    fp = fingerprint("burst", KEY)
    assert alert.fingerprint == fp
    assert alert.id == f"{fp}-{int(T0)}"
    assert (alert.rule, alert.description, alert.priority) == ("burst", "负面激增", "P2")
    assert (alert.status, alert.key, alert.measure) == ("firing", KEY, "negative_count")
    assert (alert.value, alert.threshold, alert.min_count) == (12, 10.0, 10)
    assert alert.severity == 1.2
    assert alert.counts == WindowCounts(count=20, negative=12, p1=1)
    assert (alert.window_start, alert.window_end, alert.window_seconds) == (T0 - 300, T0, 300)
    assert alert.first_seen == alert.last_seen == alert.updated_at == T0 + 0.75
    assert alert.fired_at == alert.notified_at == T0 + 0.75
    assert (alert.notification, alert.notified_severity) == ("new", 1.2)
    assert alert.resolved_at is None
    assert alert.updates == 0
    assert alert.acknowledged is None
    assert [s.event_id for s in alert.samples] == ["e2", "e1"]  # P1 first


def test_the_same_incident_later_has_the_same_fingerprint_but_a_new_id() -> None:
    first = fire()
    later, _ = step(counts(12), T0 + 3600, None)
    assert later is not None
    assert later.fingerprint == first.fingerprint
    assert later.id != first.id


def test_notify_kinds() -> None:
    # Chat robots hear of everything but routine updates.
    assert {"new", "escalation", "reminder", "resolved"} == CHAT_NOTIFICATIONS
    assert "update" not in CHAT_NOTIFICATIONS


# --- pending: the rule's `for:` span -------------------------------------------------


def test_pending_then_firing_after_the_span() -> None:
    pending, kind = step(counts(12), T0, None, (sample("e1"),), rule=PENDING_RULE)
    assert kind is None  # nothing is said while pending
    assert pending is not None
    assert (pending.status, pending.fired_at, pending.notification) == ("pending", None, "")
    assert pending.first_seen == T0

    still, kind = step(counts(14), T0 + 59, pending, rule=PENDING_RULE)
    assert kind is None
    assert still is not None
    assert still.status == "pending"
    assert still.counts.negative == 14  # but the state follows the window
    assert still.last_seen == T0 + 59

    fired, kind = step(counts(14), T0 + 60, still, rule=PENDING_RULE)
    assert kind == "new"
    assert fired is not None
    assert (fired.status, fired.fired_at, fired.first_seen) == ("firing", T0 + 60, T0)
    assert fired.id == pending.id == f"{fingerprint('burst', KEY)}-{int(T0)}"
    assert [s.event_id for s in fired.samples] == ["e1"]
    assert fired.updates == 0


def test_pending_is_dropped_when_the_breach_ends_first() -> None:
    pending, _ = step(counts(12), T0, None, rule=PENDING_RULE)
    assert pending is not None
    # Still within the hysteresis band (9 ≥ 8), but not breached: a pending alert needs the
    # breach to last; it goes without a word.
    assert step(counts(9, count=20), T0 + 30, pending, rule=PENDING_RULE) == (None, None)
    assert step(counts(0), T0 + 30, pending, rule=PENDING_RULE) == (None, None)
    # A new breach later starts the span again.
    again, kind = step(counts(12), T0 + 45, None, rule=PENDING_RULE)
    assert again is not None and kind is None
    assert step(counts(12), T0 + 90, again, rule=PENDING_RULE)[1] is None
    assert step(counts(12), T0 + 105, again, rule=PENDING_RULE)[1] == "new"


def test_without_for_an_alert_fires_at_once() -> None:
    assert RULE.for_seconds == 0
    assert fire().status == "firing"


# --- updates -------------------------------------------------------------------------


def test_update_is_throttled() -> None:
    current = fire()
    alert, kind = step(counts(15), T0 + 10, current)
    assert kind is None
    assert alert is not None
    # The state follows the window, but nothing is emitted yet.
    assert alert.counts.negative == 15
    assert alert.value == 15
    assert alert.last_seen == T0 + 10
    assert alert.updated_at == T0
    assert alert.updates == 0
    assert alert.status == "firing"
    assert alert.notification == "new"


def test_update_emitted_when_changed_after_the_interval() -> None:
    current = fire()
    alert, kind = step(counts(15), T0 + UPDATE, current)
    assert kind == "update"
    assert alert is not None
    assert (alert.id, alert.fingerprint) == (current.id, current.fingerprint)
    assert alert.status == "firing"
    assert alert.counts.negative == 15
    assert alert.updated_at == alert.last_seen == T0 + UPDATE
    assert alert.first_seen == T0
    assert alert.window_end == T0 + UPDATE
    assert alert.updates == 1
    assert alert.notification == "update"
    # Chat robots were not told: reminders and escalations count from the "new".
    assert (alert.notified_at, alert.notified_severity) == (T0, 1.2)


def test_no_update_when_nothing_changed() -> None:
    current = fire()
    alert, kind = step(counts(12), T0 + 100, current)
    assert kind is None
    assert alert is not None
    assert alert.updates == 0
    assert alert.updated_at == T0


def test_a_better_sample_is_a_change() -> None:
    current = fire(samples=(sample("e1"),))
    alert, kind = step(counts(12), T0 + 60, current, (sample("e9", "P1", T0 + 50),))
    assert kind == "update"
    assert alert is not None
    assert [s.event_id for s in alert.samples] == ["e9", "e1"]
    assert alert.updates == 1


def test_a_throttled_change_is_emitted_once_the_interval_has_passed() -> None:
    # Like the engine does: every returned state is stored, emitted or not.
    current = fire(12)
    stored, kind = step(counts(15), T0 + 10, current)
    assert kind is None
    assert stored is not None
    # The window stays at 15 from then on. The last emitted record still says 12, so once
    # the interval has passed the change must go out — throttled, not lost.
    later, kind = step(counts(15), T0 + 40, stored)
    assert kind == "update"
    assert later is not None
    assert later.counts.negative == 15
    assert later.updates == 1
    # And then it is not sent again: the same state is no news.
    assert step(counts(15), T0 + 80, later)[1] is None


def test_several_updates_count_up() -> None:
    alert = fire(12)
    for number, negative in enumerate((13, 14, 15), start=1):
        now = T0 + number * UPDATE
        following, kind = step(counts(negative), now, alert)
        assert kind == "update"
        assert following is not None
        assert following.updates == number
        assert following.updated_at == now
        alert = following


# --- escalation and reminders --------------------------------------------------------


def test_escalation_when_severity_doubles() -> None:
    current = fire(12)  # severity 1.2
    almost, kind = step(counts(23), T0 + 5, current)  # 2.3 < 2 × 1.2: throttled
    assert kind is None
    assert almost is not None
    # Escalations are not held back by the update interval.
    escalated, kind = step(counts(24), T0 + 6, almost)
    assert kind == "escalation"
    assert escalated is not None
    assert (escalated.notification, escalated.severity) == ("escalation", 2.4)
    assert (escalated.notified_at, escalated.notified_severity) == (T0 + 6, 2.4)
    assert escalated.updates == 1
    # The next escalation needs another doubling, from 2.4.
    assert step(counts(40), T0 + 60, escalated)[1] == "update"
    assert step(counts(48), T0 + 7, escalated)[1] == "escalation"


def test_reminder_after_the_repeat_interval() -> None:
    current = fire()
    assert RULE.repeat_seconds == 3600
    quiet, kind = step(counts(12), T0 + 3599, current)
    assert kind is None
    assert quiet is not None
    reminded, kind = step(counts(12), T0 + 3600, quiet)
    assert kind == "reminder"
    assert reminded is not None
    assert (reminded.notification, reminded.notified_at, reminded.updates) == (
        "reminder",
        T0 + 3600,
        1,
    )
    # The next reminder counts from this one.
    assert step(counts(12), T0 + 7199, reminded)[1] is None
    assert step(counts(12), T0 + 7200, reminded)[1] == "reminder"


def test_updates_do_not_postpone_reminders() -> None:
    updated, kind = step(counts(15), T0 + 1800, fire())
    assert kind == "update"
    assert updated is not None
    assert step(counts(15), T0 + 3600, updated)[1] == "reminder"


def test_no_reminder_once_acknowledged() -> None:
    acked = dataclasses.replace(fire(), acknowledged=Ack("张三", T0 + 60, "在处理"))
    alert, kind = step(counts(12), T0 + 3600, acked)
    assert kind is None
    assert alert is not None
    assert alert.acknowledged == Ack("张三", T0 + 60, "在处理")
    assert step(counts(12), T0 + 10 * 3600, acked)[1] is None
    # Acknowledged alerts still update, escalate and resolve.
    assert step(counts(15), T0 + 3600, acked)[1] == "update"
    assert step(counts(30), T0 + 3600, acked)[1] == "escalation"
    assert step(counts(0), T0 + 3600, acked)[1] == "resolved"


def test_no_reminders_with_repeat_zero() -> None:
    rule = parse_rule(repeat=0)
    current = fire(rule=rule)
    assert step(counts(12), T0 + 30 * 86400, current, rule=rule)[1] is None


def test_rule_repeat_interval() -> None:
    rule = parse_rule(repeat="30m")
    current = fire(rule=rule)
    assert step(counts(12), T0 + 1799, current, rule=rule)[1] is None
    assert step(counts(12), T0 + 1800, current, rule=rule)[1] == "reminder"


# --- hysteresis and resolution -------------------------------------------------------


@pytest.mark.parametrize("negative", [9, 8])
def test_hysteresis_keeps_firing_between_thresholds(negative: int) -> None:
    current = fire()
    # Below the threshold (10) but not below 10 × 0.8 = 8: still firing.
    alert, kind = step(counts(negative, count=20), T0 + 5, current)
    assert alert is not None
    assert alert.status == "firing"
    assert kind is None  # within the update interval
    assert alert.last_seen == T0  # not breached any more: last_seen stays
    later, kind = step(counts(negative, count=20), T0 + 60, current)
    assert later is not None
    assert later.status == "firing"
    assert kind == "update"  # changed and the interval passed
    assert later.resolved_at is None


@pytest.mark.parametrize("negative", [7, 0])
def test_resolves_below_threshold_times_resolve_ratio(negative: int) -> None:
    current = fire()
    now = T0 + 5  # even within the update interval
    alert, kind = step(counts(negative, count=20), now, current)
    assert kind == "resolved"
    assert alert is not None
    assert alert.status == "resolved"
    assert alert.notification == "resolved"
    assert alert.resolved_at == now
    assert alert.updated_at == alert.notified_at == now
    assert alert.updates == 1
    assert alert.last_seen == T0
    assert alert.id == current.id
    assert alert.counts.negative == negative


def test_empty_window_resolves() -> None:
    alert, kind = step(WindowCounts(), T0 + 400, fire())
    assert kind == "resolved"
    assert alert is not None
    assert alert.status == "resolved"


# --- records and state ---------------------------------------------------------------


def test_to_record() -> None:
    samples = tuple(sample(f"e{i}", event_time=T0 - i, text=f"快递没到 {i}") for i in range(5))
    alert = fire(12, samples)
    record = alert.to_record()
    assert record["id"] == alert.id
    assert record["fingerprint"] == alert.fingerprint
    assert record["rule"] == "burst"
    assert record["description"] == "负面激增"
    assert record["priority"] == "P2"
    assert record["status"] == "firing"
    assert record["notification"] == "new"
    assert record["acknowledged"] is None
    assert record["silenced_by"] is None
    assert record["key"] == {"channel": "app", "category": "logistics"}
    assert record["window"] == {"start": iso(T0 - 300), "end": iso(T0), "seconds": 300}
    assert record["measure"] == "negative_count"
    assert record["count"] == 12
    assert record["negative_count"] == 12
    assert record["p1_count"] == 0
    assert record["threshold"] == 10.0
    assert record["baseline"] is None  # a threshold rule
    assert record["severity"] == 1.2
    assert record["min_count"] == 10
    assert record["value"] == 12
    assert record["samples"] == [  # most recent first
        {"id": f"e{i}", "text": f"快递没到 {i}", "priority": "P2", "source": "", "channel": ""}
        for i in range(3)
    ]
    assert (record["terms"], record["members"], record["channels"]) == ([], [], [])
    assert record["route"] is None
    assert record["first_seen"] == record["last_seen"] == iso(T0)
    assert record["fired_at"] == record["updated_at"] == iso(T0)
    assert record["resolved_at"] is None
    assert record["sequence"] == 0
    assert json.loads(json.dumps(record, ensure_ascii=False)) == record


def explained(alert: Alert) -> Alert:
    """An alert as the engine completes it: members, channels, terms, route, an ack."""
    member = Member(
        "source=social,category=logistics", "social", 12, 1.2, True, True, counts(12), None, None
    )
    return dataclasses.replace(
        alert,
        members=(member,),
        channels=("app", "weibo"),
        terms=(Term("快递", 9, 4.5), Term("丢件", 3, 12.0)),
        route=Route("客服主管", ("wecom_support", "stream")),
        acknowledged=Ack("张三", T0 + 90.5, "已联系物流"),
        silenced_by="s1",
    )


def test_to_record_explains_the_alert() -> None:
    record = explained(
        fire(12, (Sample("e1", "包裹三天没到", Priority.P1, T0, True, "complaint", "app"),))
    ).to_record()
    assert record["channels"] == ["app", "weibo"]
    assert record["terms"] == [
        {"term": "快递", "count": 9, "lift": 4.5},
        {"term": "丢件", "count": 3, "lift": 12.0},
    ]
    assert record["route"] == {"team": "客服主管", "sinks": ["wecom_support", "stream"]}
    assert record["acknowledged"] == {"by": "张三", "at": iso(T0 + 90.5), "note": "已联系物流"}
    assert record["silenced_by"] == "s1"
    assert record["members"] == [
        {
            "key": {"source": "social", "category": "logistics"},
            "channel": "social",
            "value": 12,
            "severity": 1.2,
            "breached": True,
        }
    ]
    assert record["samples"] == [
        {
            "id": "e1",
            "text": "包裹三天没到",
            "priority": "P1",
            "source": "complaint",
            "channel": "app",
        }
    ]
    assert json.loads(json.dumps(record, ensure_ascii=False)) == record


def test_to_record_of_a_spike_alert_has_its_baseline() -> None:
    rule = parse_rule(threshold=..., spike={"z": 3}, min_count=1)
    baseline = Baseline()
    for i in range(60):
        baseline = baseline.update(4.0, T0 - 3600 + i * 60, alpha=0.1)
    evaluation = evaluate(rule, counts(20), now=T0, baseline=baseline, warm=True)
    alert, kind = advance(
        rule, KEY, Window(T0 - 300, T0), evaluation, T0, None, update_seconds=UPDATE
    )
    assert kind == "new"
    assert alert is not None
    record = alert.to_record()
    assert record["threshold"] is None
    assert record["baseline"] == {"expected": 4.0, "deviation": 2.0}  # the floor, √4
    assert record["severity"] == 8.0  # (20 − 4) / 2


def test_to_record_samples_are_at_most_three() -> None:
    record = fire(12, tuple(sample(f"e{i}") for i in range(10))).to_record()
    assert len(record["samples"]) == MAX_SAMPLES == 3
    assert all(isinstance(s, dict) for s in record["samples"])
    assert fire(12).to_record()["samples"] == []


def test_to_record_of_a_resolved_alert() -> None:
    resolved, _ = step(counts(0, count=3), T0 + 90, fire())
    assert resolved is not None
    record = resolved.to_record()
    assert record["status"] == "resolved"
    assert record["notification"] == "resolved"
    assert record["resolved_at"] == iso(T0 + 90)
    assert record["sequence"] == 1
    assert record["count"] == 3
    assert record["last_seen"] == iso(T0)
    assert record["fired_at"] == iso(T0)


def test_key_with_escaped_values_is_decoded_in_the_record() -> None:
    alert = dataclasses.replace(fire(), key="product=%E6%89%8B%E8%A1%A8%2CX2,region=a%3Db")
    assert alert.to_record()["key"] == {"product": "手表,X2", "region": "a=b"}


def test_state_round_trip() -> None:
    alert = fire(12, (sample("e1", "P1"), sample("e2", negative=False)))
    assert Alert.from_state(alert.to_state()) == alert
    # The store keeps the state as JSON.
    assert Alert.from_state(json.loads(json.dumps(alert.to_state()))) == alert


def test_state_round_trip_of_an_explained_alert() -> None:
    alert = explained(fire(12, (sample("e1"),)))
    restored = Alert.from_state(json.loads(json.dumps(alert.to_state())))
    assert restored == alert
    assert isinstance(restored.members[0].counts, WindowCounts)
    assert isinstance(restored.route, Route)
    assert isinstance(restored.terms[0], Term)


def test_state_is_what_asdict_gives_without_its_copies() -> None:
    acknowledged = dataclasses.replace(
        explained(fire(12, (sample("e1", "P1"), sample("e2", negative=False)))),
        acknowledged=Ack("张三", T0 + 5, "已处理"),
    )
    pending, _ = step(counts(12), T0, None, rule=PENDING_RULE)
    for alert in (acknowledged, pending):
        assert alert is not None
        assert alert.to_state() == dataclasses.asdict(alert)
        assert json.dumps(alert.to_state()) == json.dumps(dataclasses.asdict(alert))


def test_state_round_trip_of_a_resolved_alert() -> None:
    resolved, _ = step(counts(1), T0 + 9, fire(12, (sample("e1"),)))
    assert resolved is not None
    assert Alert.from_state(json.loads(json.dumps(resolved.to_state()))) == resolved


def test_state_round_trip_of_a_pending_alert() -> None:
    pending, _ = step(counts(12), T0, None, rule=PENDING_RULE)
    assert pending is not None
    restored = Alert.from_state(json.loads(json.dumps(pending.to_state())))
    assert restored == pending
    assert restored.emitted_counts is None


def test_state_is_plain_data() -> None:
    state = fire(12, (sample("e1"),)).to_state()
    assert json.loads(json.dumps(state)) == {
        k: list(v) if isinstance(v, tuple) else v for k, v in state.items()
    }
    assert state["counts"] == {
        "count": 12,
        "negative": 12,
        "p1": 0,
        "sentiment": 0.0,
        "reach_negative": 0.0,
        "calls": 0,
        "first_contact": 0,
        "wait": 0.0,
        "nps": 0,
        "promoters": 0,
        "detractors": 0,
        "csat": 0,
        "csat_sum": 0,
        "csat_squares": 0,
        "ces": 0,
        "ces_sum": 0,
        "ces_squares": 0,
    }
    assert list(state["samples"]) == [
        {
            "event_id": "e1",
            "text": "text of e1",
            "priority": "P2",
            "event_time": T0,
            "negative": True,
            "source": "",
            "channel": "",
        }
    ]
    assert state["emitted_samples"] == ("e1",)
    assert state["status"] == "firing"


# --- sample ranking ------------------------------------------------------------------


def ids(samples: tuple[Sample, ...]) -> list[str]:
    return [s.event_id for s in samples]


def test_merge_samples_p1_first() -> None:
    merged = merge_samples(
        [sample("p3", "P3", T0 + 9)],
        [sample("p2", "P2", T0 + 5), sample("p1", "P1", T0 - 100, negative=False)],
    )
    assert ids(merged) == ["p1", "p2", "p3"]


def test_merge_samples_negative_before_non_negative() -> None:
    merged = merge_samples(
        [],
        [sample("pos", "P2", T0 + 10, negative=False), sample("neg", "P2", T0 - 10, negative=True)],
    )
    assert ids(merged) == ["neg", "pos"]


def test_merge_samples_recent_first() -> None:
    merged = merge_samples(
        [sample("old", event_time=T0 - 60)],
        [sample("new", event_time=T0), sample("mid", event_time=T0 - 30)],
    )
    assert ids(merged) == ["new", "mid", "old"]


def test_merge_samples_keeps_at_most_three() -> None:
    merged = merge_samples(
        [sample(f"a{i}", event_time=T0 - i) for i in range(3)],
        [sample(f"b{i}", event_time=T0 - 10 - i) for i in range(3)],
    )
    assert ids(merged) == ["a0", "a1", "a2"]


def test_merge_samples_dedupes_by_event_id() -> None:
    merged = merge_samples(
        [sample("e1"), sample("e2", event_time=T0 - 1)],
        [sample("e1"), sample("e1"), sample("e3", event_time=T0 - 2)],
    )
    assert ids(merged) == ["e1", "e2", "e3"]


def test_merge_samples_unknown_priority_last() -> None:
    odd = Sample("odd", "text of odd", cast(Priority, "P9"), T0 + 100)  # built untyped
    merged = merge_samples([], [odd, sample("p3", "P3", T0)])
    assert ids(merged) == ["p3", "odd"]


def test_merge_samples_of_nothing() -> None:
    assert merge_samples([], []) == ()


def test_an_alert_of_another_kind_adds_its_details_to_its_record_and_keeps_them() -> None:
    alert = dataclasses.replace(
        fire(), kind=AlertKind.CUSTOMER_RISK, details={"score": 72, "reasons": ["repeat:3"]}
    )
    record = alert.to_record()
    assert record["kind"] == "customer_risk"
    assert (record["score"], record["reasons"]) == (72, ["repeat:3"])
    assert Alert.from_state(json.loads(json.dumps(alert.to_state()))) == alert
    assert fire().to_record()["kind"] == "window"


def test_details_may_not_replace_a_common_field() -> None:
    alert = dataclasses.replace(fire(), kind=AlertKind.DETRACTOR, details={"status": "x"})
    with pytest.raises(ValueError, match="status"):
        alert.to_record()


def test_state_stored_before_kinds_existed_reads_as_a_window_alert() -> None:
    state = json.loads(json.dumps(fire().to_state()))
    del state["kind"], state["details"]
    assert Alert.from_state(state).kind == AlertKind.WINDOW
