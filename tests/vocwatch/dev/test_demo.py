"""vocwatch.dev.demo.DemoTraffic: deterministic, realistic, with an incident and broken messages."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from classifiers.normalize import normalize
from classifiers.pii import mask_pii
from streams.events import SOURCES, decode
from vocwatch.dev.demo import BROKEN, DemoPlan, DemoTraffic
from vocwatch.errors import InvalidEvent

START = 1_714_528_800.0  # 2024-05-01T02:00:00Z
MAX_BYTES = 256 * 1024

Message = tuple[float, str, bytes, bytes]  # (elapsed, source, key, value)


def run(traffic: DemoTraffic, seconds: int, tick: float = 1.0) -> list[Message]:
    """Drive the generator like vocwatch.dev.demo.run does, one tick at a time."""
    out: list[Message] = []
    steps = int(seconds / tick)
    for step in range(steps):
        elapsed_from, elapsed_to = step * tick, (step + 1) * tick
        for source, key, value in traffic.between(elapsed_from, elapsed_to, START + elapsed_to):
            out.append((elapsed_to, source, key, value))
    return out


def test_same_seed_same_traffic() -> None:
    assert run(DemoTraffic(seed=11, run="r1"), 90) == run(DemoTraffic(seed=11, run="r1"), 90)


def test_two_generators_make_distinct_event_ids() -> None:
    # Same seed, same texts, but each run's events are new events, not replays.
    first, second = run(DemoTraffic(seed=11), 30), run(DemoTraffic(seed=11), 30)
    ids = [{key for _, _, key, _ in messages if key != b"broken"} for messages in (first, second)]
    assert ids[0] and not ids[0] & ids[1]


def test_different_seed_different_traffic() -> None:
    assert run(DemoTraffic(seed=11), 30) != run(DemoTraffic(seed=12), 30)


def test_default_seed_is_fixed() -> None:
    assert run(DemoTraffic(run="r"), 20) == run(DemoTraffic(seed=7, run="r"), 20)


def _incident_complaints(messages: list[Message], channel: str) -> Counter[str]:
    """Complaints on ``channel`` per phase: before / during / after the incident."""
    counts: Counter[str] = Counter()
    plan = DemoPlan()
    end = plan.incident_start + plan.incident_seconds
    for elapsed, source, key, value in messages:
        if source != "complaint" or key == b"broken":
            continue
        if json.loads(value)["channel"] != channel:
            continue
        # A tick ending at ``elapsed`` covers (elapsed - 1, elapsed]; skip the edge ticks.
        if elapsed <= plan.incident_start:
            counts["before"] += 1
        elif plan.incident_start + 1 < elapsed <= end:
            counts["during"] += 1
        elif elapsed > end + 1:
            counts["after"] += 1
    return counts


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_incident_window_brings_a_burst_of_complaints_on_its_channel(seed: int) -> None:
    plan = DemoPlan()  # incident from 15 s to 60 s, 5 per second, channel "app"
    messages = run(DemoTraffic(plan, seed=seed), 100)
    counts = _incident_complaints(messages, plan.incident_channel)
    during_seconds = plan.incident_seconds - 1  # 44 s
    quiet_seconds = plan.incident_start + (100 - plan.incident_seconds - plan.incident_start - 1)
    # Expected ≈ 5.25/s during (incident + background), ≈ 0.25/s otherwise.
    assert counts["during"] >= 0.6 * plan.incident_rate * during_seconds
    quiet = counts["before"] + counts["after"]
    assert counts["during"] / during_seconds > 5 * max(quiet, 1) / quiet_seconds


def test_incident_follows_the_planned_channel_and_is_about_logistics() -> None:
    plan = DemoPlan(rate=0.0, incident_channel="wechat", broken_share=0.0, customers=False)
    traffic = DemoTraffic(plan, seed=3)
    messages = list(traffic.between(20.0, 40.0, START))
    assert len(messages) >= 0.6 * plan.incident_rate * 20
    for source, _, value in messages:
        event = decode(source, value, max_bytes=MAX_BYTES)
        assert event.source == "complaint"
        assert event.channel == "wechat"
        assert any(word in event.text for word in ("快递", "物流", "包裹", "配送"))


def test_no_incident_outside_its_window() -> None:
    plan = DemoPlan(rate=0.0, broken_share=0.0, customers=False)
    traffic = DemoTraffic(plan, seed=5)
    assert list(traffic.between(0.0, 14.9, START)) == []
    assert list(traffic.between(60.0, 90.0, START)) == []


def test_every_message_decodes_or_is_deliberately_broken() -> None:
    plan = DemoPlan(broken_share=0.2, pii_share=0.5, escalation_share=0.05)
    messages = run(DemoTraffic(plan, seed=42), 120)
    sources: Counter[str] = Counter()
    broken = 0
    for elapsed, source, key, value in messages:
        assert source in SOURCES
        if key == b"broken":
            broken += 1
            assert value in BROKEN
            with pytest.raises(InvalidEvent):
                decode(source, value, max_bytes=MAX_BYTES)
            continue
        event = decode(source, value, max_bytes=MAX_BYTES)
        assert event.source == source
        assert event.id.encode() == key
        assert event.event_time == pytest.approx(START + elapsed, abs=0.001)
        sources[source] += 1
    assert broken > 0
    assert set(sources) == set(SOURCES)


def test_ids_are_unique() -> None:
    messages = run(DemoTraffic(seed=9), 90)
    keys = [key for _, _, key, _ in messages if key != b"broken"]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("raw", BROKEN)
def test_every_broken_template_is_invalid_for_every_source(source: str, raw: bytes) -> None:
    with pytest.raises(InvalidEvent):
        decode(source, raw, max_bytes=MAX_BYTES)


def test_some_texts_carry_personal_data_to_mask() -> None:
    plan = DemoPlan(pii_share=1.0, broken_share=0.0)
    messages = run(DemoTraffic(plan, seed=4), 20)
    kinds = Counter(
        kind
        for _, _, _, value in messages
        for kind in mask_pii(normalize(json.loads(value).get("text", ""))).kinds
    )
    assert kinds["phone"] > 0
    assert kinds["email"] > 0


def test_a_new_problem_follows_later_in_its_own_words() -> None:
    plan = DemoPlan(rate=0.0, broken_share=0.0)
    traffic = DemoTraffic(plan, seed=4)
    assert list(traffic.between(60.0, plan.emerging_start - 0.1, START)) == []
    end = plan.emerging_start + plan.emerging_seconds
    messages = list(traffic.between(plan.emerging_start, end, START))
    assert len(messages) >= 0.6 * plan.emerging_rate * plan.emerging_seconds
    events = [decode(source, value, max_bytes=MAX_BYTES) for source, _, value in messages]
    assert {e.source for e in events} == {"complaint", "social"}
    assert all("固件" in e.text or "扫地机器人" in e.text for e in events)
    assert len({e.text for e in events}) >= 8  # many customers, different words
    assert list(traffic.between(end + 0.1, end + 60, START)) == []


def test_customers_drift_into_risk_and_answer_as_detractors() -> None:
    """The scripted journeys: customer a (three negative complaints, an unresolved call of
    a long wait threatening to close the account), b (an unresolved call and a detractor
    survey, both threatening to switch operators), c (a detractor survey with a comment)."""
    plan = DemoPlan(rate=0.0, broken_share=0.0)
    events = [
        decode(source, value, max_bytes=MAX_BYTES)
        for _, source, _, value in run(DemoTraffic(plan, seed=1, run="r9"), 60)
    ]
    journeys: dict[str, list[str]] = {}
    for event in events:
        if event.customer_id and event.customer_id.startswith("vip-r9-"):
            journeys.setdefault(event.customer_id[-1], []).append(event.source)
    assert journeys == {
        "a": ["complaint", "complaint", "complaint", "call"],
        "b": ["call", "survey"],
        "c": ["survey"],
    }
    a_call = next(e for e in events if e.customer_id == "vip-r9-a" and e.source == "call")
    assert a_call.fields["resolved_first_contact"] is False and "销户" in a_call.text
    assert a_call.fields["wait_seconds"] >= 600
    surveys = [e for e in events if e.source == "survey"]
    assert [(e.fields["kind"], e.fields["score"]) for e in surveys] == [("nps", 1), ("nps", 2)]


def test_background_surveys_are_mostly_satisfied_and_often_commented() -> None:
    plan = DemoPlan(broken_share=0.0, customers=False, rate=20.0)
    events = [
        decode(source, value, max_bytes=MAX_BYTES)
        for _, source, _, value in run(DemoTraffic(plan, seed=3), 30)
        if source == "survey"
    ]
    assert len(events) > 20
    nps = [e.fields["score"] for e in events if e.fields["kind"] == "nps"]
    assert sum(score >= 9 for score in nps) > sum(score <= 6 for score in nps)
    assert 0.3 < sum(bool(e.text) for e in events) / len(events) < 0.9


def test_the_new_problem_becomes_one_emerging_topic_with_readable_terms() -> None:
    """The demo's traffic, analysed and clustered by the worker's own monitor in demo time
    (its packaged defaults): the robot-vacuum problem emerges as one topic whose terms
    name it, and the background raises none."""
    import asyncio

    from prometheus_client import CollectorRegistry

    from alerts.emerging_clusters import TopicText
    from alerts.emerging_monitor import EmergingConfig, EmergingMonitor
    from alerts.explain import content_terms
    from classifiers.analyze import Analyzer
    from vocwatch.bench.emerging import MemoryStore
    from vocwatch.metrics import Metrics
    from vocwatch.settings import Settings

    settings = Settings()
    plan = DemoPlan(broken_share=0.0)
    traffic = DemoTraffic(plan, seed=5)
    analyzer = Analyzer()
    monitor = EmergingMonitor(
        EmergingConfig.from_settings(settings),
        MemoryStore(3 * settings.evaluation_seconds + 5),
        Metrics.create(CollectorRegistry()),
    )
    topics: dict[str, list[str]] = {}

    async def play() -> None:
        tick = 1.0
        for step in range(int((plan.emerging_start + plan.emerging_seconds + 60) / tick)):
            now = START + step * tick
            events = [
                decode(source, value, max_bytes=MAX_BYTES)
                for source, _, value in traffic.between(step * tick, (step + 1) * tick, now)
            ]
            analyses = analyzer.analyze_batch([e.text for e in events])
            for analysis in analyses:  # the background the terms are ranked against
                monitor.activity.add_event(content_terms(analysis.tokens, analysis.text), now)
            monitor.observe(
                TopicText(
                    e.id,
                    e.id,
                    now,
                    e.source,
                    "app",
                    a.text,
                    a.tokens,
                    a.priority.level,
                    a.negative,
                    a.category,
                )
                for e, a in zip(events, analyses, strict=True)
                if monitor.wants(a.polarity)
            )
            for decision in await monitor.decide(now + tick) or ():
                if decision.topic is not None and decision.group is not None:
                    terms = monitor.terms(decision.group, decision.assessment.window_start)
                    topics.setdefault(decision.topic.id, [t.term for t in terms])

    asyncio.run(play())
    assert len(topics) == 1, topics
    (terms,) = topics.values()
    assert any("固件" in t or "扫地机器人" in t or "转圈" in t for t in terms[:3]), terms
    assert not {"的", "了", "客户", "来电"} & set(terms)
