"""vocwatch.vocabulary: the closed vocabularies as types — one ranking of priorities, strict
parsing, Literal aliases that match their enums, members that travel as plain strings."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, get_args

import pytest

from alerts.lifecycle import Alert
from alerts.rules import MEASURES
from classifiers.category import CATEGORIES
from streams.events import PLATFORMS, SOURCES
from vocwatch import vocabulary
from vocwatch.vocabulary import (
    CATEGORY_NAMES_ZH,
    CHAT_NOTIFICATIONS,
    COMPLAINT_CHANNELS,
    AlertKind,
    AlertKindName,
    AlertStatus,
    AlertStatusName,
    Category,
    CategoryName,
    Channel,
    ChannelName,
    CorrectionKind,
    CorrectionKindName,
    Kpi,
    KpiName,
    KpiStatus,
    KpiStatusName,
    Measure,
    MeasureName,
    Notification,
    NotificationName,
    Platform,
    PlatformName,
    Polarity,
    PolarityName,
    Priority,
    PriorityName,
    RiskSignal,
    RiskSignalName,
    Source,
    SourceName,
    SurveyKind,
    SurveyKindName,
    priority_rank,
)

ALIASES: list[tuple[type[StrEnum], Any]] = [
    (Source, SourceName),
    (Channel, ChannelName),
    (Platform, PlatformName),
    (Priority, PriorityName),
    (AlertStatus, AlertStatusName),
    (Notification, NotificationName),
    (Measure, MeasureName),
    (AlertKind, AlertKindName),
    (Polarity, PolarityName),
    (Category, CategoryName),
    (SurveyKind, SurveyKindName),
    (RiskSignal, RiskSignalName),
    (Kpi, KpiName),
    (KpiStatus, KpiStatusName),
    (CorrectionKind, CorrectionKindName),
]


@pytest.mark.parametrize(("enum", "alias"), ALIASES, ids=lambda v: getattr(v, "__name__", ""))
def test_every_literal_alias_lists_exactly_its_enums_values_in_order(
    enum: type[StrEnum], alias: Any
) -> None:
    assert get_args(alias) == tuple(member.value for member in enum)


def test_every_vocabulary_has_its_alias() -> None:
    enums = {
        value
        for value in vars(vocabulary).values()
        if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
    }
    assert enums == {enum for enum, _ in ALIASES}


def test_priorities_rank_most_urgent_first() -> None:
    assert [p.rank for p in Priority] == [0, 1, 2]
    assert sorted(["P3", "P1", "P2"], key=priority_rank) == ["P1", "P2", "P3"]
    assert priority_rank(Priority.P2) == priority_rank("P2") == Priority.P2.rank


@pytest.mark.parametrize("unknown", ["P4", "p1", "", "P0", "urgent"])
def test_an_unknown_priority_ranks_after_every_known_one(unknown: str) -> None:
    assert priority_rank(unknown) == 3
    assert sorted([unknown, "P3", "P1"], key=priority_rank) == ["P1", "P3", unknown]


@pytest.mark.parametrize(
    ("enum", "value"),
    [
        (AlertStatus, "firng"),
        (AlertStatus, "acknowledged"),  # shown beside an alert, never its status
        (AlertStatus, "FIRING"),  # the member's name is not its value
        (Priority, "p1"),
        (Channel, "fax"),
        (Platform, "twitter"),
        (Source, "surveys"),
        (Measure, "median"),
        (Category, "物流配送"),
        (Polarity, "mixed"),
        (Notification, ""),
    ],
)
def test_parsing_an_unknown_value_is_a_value_error(enum: type[StrEnum], value: str) -> None:
    with pytest.raises(ValueError, match=repr(value)):
        enum(value)


@pytest.mark.parametrize(("enum", "_alias"), ALIASES)
def test_parsing_a_known_value_gives_the_member_itself(enum: type[StrEnum], _alias: Any) -> None:
    for member in enum:
        assert enum(member.value) is member
        assert enum(str(member)) is member


def test_members_travel_as_their_plain_strings() -> None:
    record = {"status": AlertStatus.FIRING, "priority": Priority.P1, Channel.APP: [Measure.COUNT]}
    assert json.dumps(record) == '{"status": "firing", "priority": "P1", "app": ["count"]}'
    assert f"{Priority.P1} {AlertStatus.FIRING}" == "P1 firing"
    assert str(Category.AFTER_SALES) == "after_sales"
    app: str = "app"
    assert app == Channel.APP and hash(Channel.APP) == hash(app)
    assert {"app": 1}[Channel.APP] == 1  # dictionaries keyed either way find each other


def test_complaint_channels_are_the_channels_but_call_and_social() -> None:
    assert set(COMPLAINT_CHANNELS) == set(Channel) - {Channel.CALL, Channel.SOCIAL}
    assert len(set(COMPLAINT_CHANNELS)) == len(COMPLAINT_CHANNELS)


def test_chat_robots_hear_the_lifecycle_news_only() -> None:
    assert {"new", "escalation", "reminder", "resolved"} == CHAT_NOTIFICATIONS
    assert set(Notification) > CHAT_NOTIFICATIONS


def test_every_category_has_a_chinese_name() -> None:
    assert list(CATEGORY_NAMES_ZH) == list(Category)
    assert len(set(CATEGORY_NAMES_ZH.values())) == len(Category)


def test_the_modules_lists_are_the_vocabularies_in_order() -> None:
    assert tuple(Source) == SOURCES
    assert tuple(Platform) == PLATFORMS
    assert tuple(Measure) == MEASURES
    assert tuple(Category) == CATEGORIES


def state(**changes: Any) -> dict[str, Any]:
    base = {
        "id": "fp-1",
        "fingerprint": "fp",
        "rule": "burst",
        "description": "",
        "priority": "P2",
        "status": "firing",
        "key": "channel=app",
        "window_seconds": 300,
        "window_start": 0.0,
        "window_end": 300.0,
        "measure": "negative_count",
        "value": 12.0,
        "threshold": 10.0,
        "expected": None,
        "deviation": None,
        "severity": 1.2,
        "min_count": 1,
        "counts": {"count": 20, "negative": 12},
        "first_seen": 0.0,
        "last_seen": 300.0,
        "updated_at": 300.0,
        "notification": "new",
        "samples": [{"event_id": "e1", "text": "快递没到", "priority": "P1", "event_time": 10.0}],
    }
    return base | changes


def test_alert_state_read_back_from_redis_json_is_parsed_into_the_vocabularies() -> None:
    alert = Alert.from_state(json.loads(json.dumps(state())))
    assert alert.status is AlertStatus.FIRING
    assert alert.priority is Priority.P2
    assert alert.measure is Measure.NEGATIVE_COUNT
    assert alert.notification is Notification.NEW
    assert alert.samples[0].priority is Priority.P1
    assert Alert.from_state(alert.to_state()) == alert
    stored = json.loads(json.dumps(alert.to_state()))
    for name in ("status", "priority", "measure", "notification"):
        assert stored[name] == state()[name]


def test_alert_state_before_its_first_record_has_no_notification() -> None:
    assert Alert.from_state(state(status="pending", notification="")).notification == ""


@pytest.mark.parametrize(
    "change",
    [{"status": "firng"}, {"priority": "P9"}, {"measure": "median"}, {"notification": "ping"}],
)
def test_alert_state_with_an_unknown_value_is_refused(change: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Alert.from_state(state(**change))


def test_survey_kinds_name_their_score_ranges() -> None:
    assert [k.scores for k in SurveyKind] == [(0, 10), (1, 5), (1, 7)]


def test_kpis_know_which_way_is_better_and_statuses_their_levels() -> None:
    assert {k for k in Kpi if not k.higher_is_better} == {
        Kpi.MEAN_WAIT_SECONDS,
        Kpi.REPEAT_CONTACT_RATE,
    }
    assert [s.level for s in KpiStatus] == [0, 1, 2, -1]
