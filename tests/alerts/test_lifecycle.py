"""alerts.lifecycle: one incident is one alert — fired, updated (throttled), resolved."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime

import pytest

from alerts.lifecycle import (
    MAX_SAMPLES,
    Alert,
    Sample,
    Window,
    advance,
    fingerprint,
    merge_samples,
)
from alerts.rules import WindowCounts, parse_rules

(RULE,) = parse_rules({"rules": [{
    "name": "burst", "description": "负面激增", "key": ["channel", "category"], "window": "5m",
    "measure": "negative_count", "threshold": 10, "min_count": 10, "resolve_ratio": 0.8,
    "priority": "P2"}]})
KEY = "channel=app,category=logistics"
T0 = 1_800_000_000.0
UPDATE = 30.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def window(negative: int, *, count: int | None = None, p1: int = 0, end: float = T0) -> Window:
    total = negative if count is None else count
    return Window(start=end - RULE.window_seconds, end=end,
                  counts=WindowCounts(count=total, negative=negative, p1=p1))


def sample(event_id: str, priority: str = "P2", event_time: float = T0,
           negative: bool = True, text: str | None = None) -> Sample:
    return Sample(event_id, text or f"text of {event_id}", priority, event_time, negative)


def fire(negative: int = 12, samples: tuple[Sample, ...] = ()) -> Alert:
    alert, emit = advance(RULE, KEY, window(negative), T0, None, samples,
                          update_seconds=UPDATE)
    assert alert is not None
    assert emit
    return alert


# --- firing --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "counts",
    [WindowCounts(), WindowCounts(count=50, negative=9),
     WindowCounts(count=9, negative=9, p1=9)],              # below min_count
)
def test_no_alert_when_not_breached(counts: WindowCounts) -> None:
    result = advance(RULE, KEY, Window(T0 - 300, T0, counts), T0, None,
                     (sample("e1"),), update_seconds=UPDATE)
    assert result == (None, False)


def test_fingerprint_is_stable_per_rule_and_key() -> None:
    fp = fingerprint("burst", KEY)
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert fingerprint("burst", KEY) == fp
    assert fingerprint("burst", "channel=web,category=logistics") != fp
    assert fingerprint("other_rule", KEY) != fp


def test_new_alert_fires_with_fingerprint_based_id() -> None:
    samples = (sample("e1"), sample("e2", "P1"))
    alert, emit = advance(RULE, KEY, window(12, count=20, p1=1), T0 + 0.75, None, samples,
                          update_seconds=UPDATE)
    assert emit
    assert alert is not None
    fp = fingerprint("burst", KEY)
    assert alert.fingerprint == fp
    assert alert.id == f"{fp}-{int(T0)}"
    assert (alert.rule, alert.description, alert.priority) == ("burst", "负面激增", "P2")
    assert (alert.status, alert.key, alert.measure) == ("firing", KEY, "negative_count")
    assert (alert.value, alert.threshold, alert.min_count) == (12, 10.0, 10)
    assert alert.counts == WindowCounts(count=20, negative=12, p1=1)
    assert (alert.window_start, alert.window_end, alert.window_seconds) == (T0 - 300, T0, 300)
    assert alert.first_seen == alert.last_seen == alert.updated_at == T0 + 0.75
    assert alert.resolved_at is None
    assert alert.updates == 0
    assert [s.event_id for s in alert.samples] == ["e2", "e1"]      # P1 first


def test_the_same_incident_later_has_the_same_fingerprint_but_a_new_id() -> None:
    first = fire()
    later, _ = advance(RULE, KEY, window(12), T0 + 3600, None, update_seconds=UPDATE)
    assert later is not None
    assert later.fingerprint == first.fingerprint
    assert later.id != first.id


# --- updates -------------------------------------------------------------------------

def test_update_is_throttled() -> None:
    current = fire()
    alert, emit = advance(RULE, KEY, window(15, end=T0 + 10), T0 + 10, current,
                          update_seconds=UPDATE)
    assert not emit
    assert alert is not None
    # The state follows the window, but nothing is emitted yet.
    assert alert.counts.negative == 15
    assert alert.value == 15
    assert alert.last_seen == T0 + 10
    assert alert.updated_at == T0
    assert alert.updates == 0
    assert alert.status == "firing"


def test_update_emitted_when_changed_after_the_interval() -> None:
    current = fire()
    alert, emit = advance(RULE, KEY, window(15, end=T0 + UPDATE), T0 + UPDATE, current,
                          update_seconds=UPDATE)
    assert emit
    assert alert is not None
    assert (alert.id, alert.fingerprint) == (current.id, current.fingerprint)
    assert alert.status == "firing"
    assert alert.counts.negative == 15
    assert alert.updated_at == alert.last_seen == T0 + UPDATE
    assert alert.first_seen == T0
    assert alert.window_end == T0 + UPDATE
    assert alert.updates == 1


def test_no_update_when_nothing_changed() -> None:
    current = fire()
    alert, emit = advance(RULE, KEY, window(12, end=T0 + 100), T0 + 100, current,
                          update_seconds=UPDATE)
    assert not emit
    assert alert is not None
    assert alert.updates == 0
    assert alert.updated_at == T0


def test_a_better_sample_is_a_change() -> None:
    current = fire(samples=(sample("e1"),))
    alert, emit = advance(RULE, KEY, window(12, end=T0 + 60), T0 + 60, current,
                          (sample("e9", "P1", T0 + 50),), update_seconds=UPDATE)
    assert emit
    assert alert is not None
    assert [s.event_id for s in alert.samples] == ["e9", "e1"]
    assert alert.updates == 1


def test_a_throttled_change_is_emitted_once_the_interval_has_passed() -> None:
    # Like the engine does: every returned state is stored, emitted or not.
    current = fire(12)
    stored, emit = advance(RULE, KEY, window(15, end=T0 + 10), T0 + 10, current,
                           update_seconds=UPDATE)
    assert not emit
    assert stored is not None
    # The window stays at 15 from then on. The last emitted record still says 12, so once
    # the interval has passed the change must go out — throttled, not lost.
    later, emit = advance(RULE, KEY, window(15, end=T0 + 40), T0 + 40, stored,
                          update_seconds=UPDATE)
    assert emit
    assert later is not None
    assert later.counts.negative == 15
    assert later.updates == 1


def test_several_updates_count_up() -> None:
    alert = fire(12)
    for step, negative in enumerate((13, 14, 15), start=1):
        now = T0 + step * UPDATE
        following, emit = advance(RULE, KEY, window(negative, end=now), now, alert,
                                  update_seconds=UPDATE)
        assert emit
        assert following is not None
        assert following.updates == step
        assert following.updated_at == now
        alert = following


# --- hysteresis and resolution -------------------------------------------------------

@pytest.mark.parametrize("negative", [9, 8])
def test_hysteresis_keeps_firing_between_thresholds(negative: int) -> None:
    current = fire()
    # Below the threshold (10) but not below 10 × 0.8 = 8: still firing.
    alert, emit = advance(RULE, KEY, window(negative, count=20, end=T0 + 5), T0 + 5, current,
                          update_seconds=UPDATE)
    assert alert is not None
    assert alert.status == "firing"
    assert not emit                            # within the update interval
    assert alert.last_seen == T0               # not breached any more: last_seen stays
    later, emit = advance(RULE, KEY, window(negative, count=20, end=T0 + 60), T0 + 60,
                          current, update_seconds=UPDATE)
    assert later is not None
    assert later.status == "firing"
    assert emit                                # changed and the interval passed
    assert later.resolved_at is None


@pytest.mark.parametrize("negative", [7, 0])
def test_resolves_below_threshold_times_resolve_ratio(negative: int) -> None:
    current = fire()
    now = T0 + 5                               # even within the update interval
    alert, emit = advance(RULE, KEY, window(negative, count=20, end=now), now, current,
                          update_seconds=UPDATE)
    assert emit
    assert alert is not None
    assert alert.status == "resolved"
    assert alert.resolved_at == now
    assert alert.updated_at == now
    assert alert.updates == 1
    assert alert.last_seen == T0
    assert alert.id == current.id
    assert alert.counts.negative == negative


def test_empty_window_resolves() -> None:
    current = fire()
    alert, emit = advance(RULE, KEY, Window(T0, T0 + 400, WindowCounts()), T0 + 400, current,
                          update_seconds=UPDATE)
    assert emit
    assert alert is not None
    assert alert.status == "resolved"


# --- records and state ---------------------------------------------------------------

def test_to_record() -> None:
    samples = tuple(sample(f"e{i}", event_time=T0 - i, text=f"快递没到 {i}") for i in range(5))
    alert = fire(12, samples)
    record = alert.to_record()
    assert record["id"] == alert.id
    assert record["rule"] == "burst"
    assert record["priority"] == "P2"
    assert record["status"] == "firing"
    assert record["key"] == {"channel": "app", "category": "logistics"}
    assert record["window"] == {"start": iso(T0 - 300), "end": iso(T0), "seconds": 300}
    assert record["count"] == 12
    assert record["negative_count"] == 12
    assert record["p1_count"] == 0
    assert record["threshold"] == 10.0
    assert record["value"] == 12
    assert record["samples"] == ["快递没到 0", "快递没到 1", "快递没到 2"]   # most recent
    assert record["sample_ids"] == ["e0", "e1", "e2"]
    assert record["first_seen"] == record["last_seen"] == iso(T0)
    assert record["resolved_at"] is None
    assert record["sequence"] == 0
    assert json.loads(json.dumps(record, ensure_ascii=False)) == record


def test_to_record_samples_are_strings_and_at_most_three() -> None:
    record = fire(12, tuple(sample(f"e{i}") for i in range(10))).to_record()
    assert len(record["samples"]) == MAX_SAMPLES == 3
    assert all(isinstance(s, str) for s in record["samples"])
    assert fire(12).to_record()["samples"] == []


def test_to_record_of_a_resolved_alert() -> None:
    current = fire()
    resolved, _ = advance(RULE, KEY, window(0, count=3, end=T0 + 90), T0 + 90, current,
                          update_seconds=UPDATE)
    assert resolved is not None
    record = resolved.to_record()
    assert record["status"] == "resolved"
    assert record["resolved_at"] == iso(T0 + 90)
    assert record["sequence"] == 1
    assert record["count"] == 3
    assert record["last_seen"] == iso(T0)


def test_key_with_escaped_values_is_decoded_in_the_record() -> None:
    alert = dataclasses.replace(fire(), key="product=%E6%89%8B%E8%A1%A8%2CX2,region=a%3Db")
    assert alert.to_record()["key"] == {"product": "手表,X2", "region": "a=b"}


def test_state_round_trip() -> None:
    alert = fire(12, (sample("e1", "P1"), sample("e2", negative=False)))
    assert Alert.from_state(alert.to_state()) == alert
    # The store keeps the state as JSON.
    assert Alert.from_state(json.loads(json.dumps(alert.to_state()))) == alert


def test_state_round_trip_of_a_resolved_alert() -> None:
    current = fire(12, (sample("e1"),))
    resolved, _ = advance(RULE, KEY, window(1, end=T0 + 9), T0 + 9, current,
                          update_seconds=UPDATE)
    assert resolved is not None
    assert Alert.from_state(json.loads(json.dumps(resolved.to_state()))) == resolved


def test_state_is_plain_data() -> None:
    state = fire(12, (sample("e1"),)).to_state()
    assert state["counts"] == {"count": 12, "negative": 12, "p1": 0}
    assert state["samples"] == [{"event_id": "e1", "text": "text of e1", "priority": "P2",
                                 "event_time": T0, "negative": True}]


# --- sample ranking ------------------------------------------------------------------

def ids(samples: tuple[Sample, ...]) -> list[str]:
    return [s.event_id for s in samples]


def test_merge_samples_p1_first() -> None:
    merged = merge_samples([sample("p3", "P3", T0 + 9)],
                           [sample("p2", "P2", T0 + 5),
                            sample("p1", "P1", T0 - 100, negative=False)])
    assert ids(merged) == ["p1", "p2", "p3"]


def test_merge_samples_negative_before_non_negative() -> None:
    merged = merge_samples([], [sample("pos", "P2", T0 + 10, negative=False),
                                sample("neg", "P2", T0 - 10, negative=True)])
    assert ids(merged) == ["neg", "pos"]


def test_merge_samples_recent_first() -> None:
    merged = merge_samples([sample("old", event_time=T0 - 60)],
                           [sample("new", event_time=T0), sample("mid", event_time=T0 - 30)])
    assert ids(merged) == ["new", "mid", "old"]


def test_merge_samples_keeps_at_most_three() -> None:
    merged = merge_samples([sample(f"a{i}", event_time=T0 - i) for i in range(3)],
                           [sample(f"b{i}", event_time=T0 - 10 - i) for i in range(3)])
    assert ids(merged) == ["a0", "a1", "a2"]


def test_merge_samples_dedupes_by_event_id() -> None:
    merged = merge_samples([sample("e1"), sample("e2", event_time=T0 - 1)],
                           [sample("e1"), sample("e1"), sample("e3", event_time=T0 - 2)])
    assert ids(merged) == ["e1", "e2", "e3"]


def test_merge_samples_unknown_priority_last() -> None:
    merged = merge_samples([], [sample("odd", "P9", T0 + 100), sample("p3", "P3", T0)])
    assert ids(merged) == ["p3", "odd"]


def test_merge_samples_of_nothing() -> None:
    assert merge_samples([], []) == ()
