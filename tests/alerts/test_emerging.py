"""alerts.emerging: the emergence test (new and bursting, with the low-volume guard and the
cold-start window), merging the groups of several workers, stable ids, diverse samples."""

from __future__ import annotations

import json

import pytest

from alerts.emerging import (
    EmergencePolicy,
    GroupSample,
    KnownTopic,
    TopicGroup,
    WorkerReport,
    assess,
    combine,
    continued,
    cosine,
    diverse_samples,
    gather_known,
    join_rising,
    likeness,
    match_known,
    merge_groups,
    new_topic,
)
from vocwatch.vocabulary import Priority

MINUTE = 60
NOW = 1_800_003_600.0  # a whole minute
POLICY = EmergencePolicy()  # the packaged defaults
MOULD = {"瓶盖": 0.7, "发霉": 0.6, "霉": 0.39}
SCAM = {"冒充": 0.8, "客服": 0.4, "诈骗": 0.45}


def group(
    minutes: dict[int, int] | None = None,
    features: dict[str, float] | None = None,
    event_ids: list[str] | None = None,
) -> TopicGroup:
    """A group with ``minutes`` (minutes before NOW → authors)."""
    series = {str(int(NOW // MINUTE) - back): [n, n, 0] for back, n in (minutes or {}).items()}
    return TopicGroup(
        features=dict(features or MOULD),
        minutes=series,
        first_seen=NOW - 600,
        last_seen=NOW - 5,
        terms={"瓶盖": 9, "发霉": 8},
        texts=9,
        samples=[],
        channels={"app": 6, "weibo": 3},
        categories={"product_quality": 9},
        sources={"complaint": 6, "social": 3},
        event_ids=list(event_ids or []),
    )


def totals(per_minute: int, minutes: int) -> dict[str, int]:
    """``per_minute`` texts in each of the ``minutes`` minutes before NOW."""
    now = int(NOW // MINUTE)
    return {str(m): per_minute for m in range(now - minutes, now)}


def test_a_topic_absent_before_and_bursting_now_is_emerging() -> None:
    burst = group({1: 6, 2: 6})
    a = assess(burst, totals(120, 65), NOW - 3 * 3600, NOW, POLICY)
    assert a.emerging and a.holds
    assert (a.count, a.baseline) == (12, 0)
    assert a.expected < 1 and a.growth == 12.0  # against at least one expected text
    assert a.p_value < POLICY.p_value


def test_a_topic_as_frequent_before_is_not_new() -> None:
    steady = group({m: 2 for m in range(1, 60)})
    a = assess(steady, totals(120, 65), NOW - 3 * 3600, NOW, POLICY)
    assert a.count >= POLICY.min_count
    assert not a.emerging
    assert 0.5 < a.growth < 2


def test_the_low_volume_guard_needs_min_count_authors() -> None:
    few = group({1: 4, 2: 5})
    a = assess(few, totals(120, 65), NOW - 3 * 3600, NOW, POLICY)
    assert a.p_value < POLICY.p_value and a.growth >= POLICY.min_growth
    assert not a.emerging  # 9 < 10


def test_a_burst_in_a_busy_hour_must_still_stand_out_of_its_share() -> None:
    """Twice the traffic in the window (a busy hour) with the topic's share unchanged."""
    series = {m: 1 for m in range(6, 60)} | {m: 2 for m in range(1, 6)}
    busy = {**totals(60, 65), **{k: 120 for k, _ in totals(120, 5).items()}}
    a = assess(group(series), busy, NOW - 3 * 3600, NOW, POLICY)
    assert not a.emerging


@pytest.mark.parametrize("observed", [30, 119])
def test_nothing_is_judged_before_a_fifth_of_the_window(observed: float) -> None:
    a = assess(group({0: 20}), totals(100, 2), NOW - observed, NOW, POLICY)
    assert a.count == 20 and not a.emerging


def test_at_a_cold_start_the_window_is_half_of_what_was_observed() -> None:
    """Three minutes after a start: the last 90 s against the 90 s before."""
    started = NOW - 180
    a = assess(group({1: 8, 2: 6}), totals(120, 3), started, NOW, POLICY)
    assert a.window_start == NOW - 90
    assert a.emerging
    assert a.baseline == 0


def test_an_alert_holds_while_half_the_minimum_count_remains() -> None:
    fading = group({1: 3, 2: 2})
    a = assess(fading, totals(120, 65), NOW - 3 * 3600, NOW, POLICY)
    assert not a.emerging and a.holds
    gone = assess(None, {}, NOW - 3 * 3600, NOW, POLICY)
    assert gone.count == 0 and not gone.holds


def test_groups_of_two_workers_about_one_thing_are_merged() -> None:
    first, second = group({1: 6}, MOULD, ["a1"]), group({2: 5}, {**MOULD, "长毛": 0.3}, ["b1"])
    other = group({1: 3}, SCAM)
    merged = merge_groups([first, other, second], POLICY.merge_similarity)
    assert len(merged) == 2
    mould = next(g for g in merged if "瓶盖" in g.features)
    assert mould.count(0) == [11, 11, 0]
    assert mould.channels == {"app": 12, "weibo": 6}
    assert set(mould.event_ids) == {"a1", "b1"}
    assert abs(sum(v * v for v in mould.features.values()) - 1) < 1e-4


RENEWAL = {"自动续费": 0.75, "续费": 0.4, "会员": 0.35, "扣款": 0.3, "自动": 0.25}
DEDUCTED = {"被扣": 0.75, "会员费": 0.4, "会员": 0.35, "续费": 0.3, "开通": 0.25}
APPLES = {"苹果": 0.7, "一体机": 0.4, "习惯": 0.35, "自营": 0.3, "最差": 0.25, "坏了": 0.2}
APPLES["难吃"] = 0.1
TASTE = {"难吃": 0.7, "没吃过": 0.4, "不甜": 0.35, "不要": 0.3, "最差": 0.25, "口感": 0.2}
TASTE["苹果"] = 0.1


def test_fragments_of_one_new_problem_are_joined_and_emerge_together() -> None:
    """自动续费 and 被扣 会员费: one problem in two clusters of six authors, too far apart to
    merge (cosine < 0.5), neither a topic alone; rising together with 续费 and 会员 among
    their heaviest words, they are one group, and it emerges."""
    history = totals(120, 65)
    renewal = group({1: 3, 2: 3}, RENEWAL, ["r1"])
    deducted = group({1: 4, 3: 2}, DEDUCTED, ["d1"])
    assert cosine(RENEWAL, DEDUCTED) < POLICY.merge_similarity
    assert len(merge_groups([renewal, deducted], POLICY.merge_similarity)) == 2
    started = NOW - 3 * 3600
    assert not any(assess(g, history, started, NOW, POLICY).emerging for g in (renewal, deducted))
    (joined,) = join_rising([renewal, deducted], history, started, NOW, POLICY)
    assert joined.count(0) == [12, 12, 0]
    assert set(joined.event_ids) == {"r1", "d1"}
    assert assess(joined, history, started, NOW, POLICY).emerging


def test_a_fragment_is_not_joined_with_a_topic_that_is_not_rising() -> None:
    """The same words, but the second group was as busy in the baseline hour: ordinary
    traffic is never joined to a new problem."""
    history = totals(120, 65)
    renewal = group({1: 3, 2: 3}, RENEWAL)
    steady = group({back: 1 for back in range(1, 61)}, DEDUCTED)
    started = NOW - 3 * 3600
    assert assess(steady, history, started, NOW, POLICY).growth < POLICY.join_growth
    assert join_rising([renewal, steady], history, started, NOW, POLICY) == [renewal, steady]


def test_rising_groups_that_share_too_few_key_words_stay_apart() -> None:
    """苹果 and 难吃 rise together after a start and their centroids touch (苹果 and 难吃 in
    both), but of their six heaviest words they share only 最差: two topics."""
    apples, taste = group({1: 6}, APPLES), group({1: 4}, TASTE)
    assert cosine(APPLES, TASTE) >= POLICY.join_similarity
    started = NOW - 240
    groups = join_rising([apples, taste], totals(120, 4), started, NOW, POLICY)
    assert groups == [apples, taste]


def test_a_group_below_the_join_floor_is_left_alone() -> None:
    history = totals(120, 65)
    renewal, pair = group({1: 6}, RENEWAL), group({1: 2}, DEDUCTED)
    started = NOW - 3 * 3600
    assert join_rising([renewal, pair], history, started, NOW, POLICY) == [renewal, pair]


def test_reports_combine_totals_and_the_earliest_start() -> None:
    reports = [
        WorkerReport("w1", NOW - 600, {"100": 5}, [group({1: 6})]),
        WorkerReport("w2", NOW - 900, {"100": 7, "101": 1}, [group({1: 6})]),
    ]
    combined = combine(reports, POLICY.merge_similarity)
    assert combined is not None
    assert combined.started == NOW - 900
    assert combined.totals == {"100": 12, "101": 1}
    assert len(combined.groups) == 1
    assert combine([], 0.5) is None


def test_a_report_survives_json() -> None:
    sample = GroupSample("e1", "瓶盖发霉", Priority.P1, "complaint", "app", NOW, True)
    report = WorkerReport("w1", NOW, {"1": 2}, [group({1: 3})])
    report.groups[0].samples.append(sample)
    again = WorkerReport.from_json(json.loads(json.dumps(report.to_json(), ensure_ascii=False)))
    assert again == report
    assert again.groups[0].samples[0].priority is Priority.P1


def test_known_topics_are_continued_by_words_or_by_texts() -> None:
    known = [KnownTopic("mould", MOULD, NOW - 900, NOW - 5, ("e1", "e2", "e3"))]
    drifted = group({1: 9}, {"霉斑": 0.9, "黑点": 0.43}, ["e2", "e3", "e9"])  # new words
    assert likeness(drifted, known[0]) == 2 / 3  # two of its three texts were the topic's
    assert match_known([group({1: 9}), group({1: 3}, SCAM)], known, 0.5) == {0: known[0]}
    assert match_known([drifted], known, 0.5) == {0: known[0]}
    assert match_known([group({1: 3}, SCAM)], known, 0.5) == {}


def test_a_known_topic_continues_one_group_only() -> None:
    known = [KnownTopic("mould", MOULD, NOW - 900, NOW - 5)]
    less_alike = {"瓶盖": 0.7, "发霉": 0.3, "黑点": 0.65}
    matched = match_known([group({1: 9}, less_alike), group({1: 9})], known, 0.5)
    assert list(matched) == [1]  # the more alike


def test_the_parts_of_a_known_topic_are_gathered_into_one_group() -> None:
    """A topic whose parts were one group in the last step: now one part is like it by its
    words, the other by its texts. Both continue it, as one group — not one continuing it
    and the other, no longer in any topic, emerging as a second one."""
    known = [KnownTopic("mould", MOULD, NOW - 900, NOW - 5, ("e1", "e2", "e3", "e4"))]
    words = group({1: 9}, event_ids=["e1", "e9"])
    texts = group({1: 4}, {"霉斑": 0.9, "黑点": 0.43}, ["e3", "e4"])
    other = group({1: 3}, SCAM, ["s1"])
    assert len(match_known([words, texts, other], known, 0.5)) == 1  # one part only
    gathered = gather_known([words, other, texts], known, 0.5)
    assert len(gathered) == 2 and gathered[1] is other
    assert gathered[0].count(0) == [13, 13, 0]
    assert set(gathered[0].event_ids) == {"e1", "e9", "e3", "e4"}
    assert match_known(gathered, known, 0.5) == {0: known[0]}


def test_groups_continuing_a_known_topic_one_each_are_left_as_they_are() -> None:
    known = [KnownTopic("mould", MOULD, NOW - 900, NOW - 5), KnownTopic("scam", SCAM, NOW, NOW)]
    groups = [group({1: 9}), group({1: 3}, SCAM)]
    assert gather_known(groups, known, 0.5) == groups
    assert gather_known(groups, [], 0.5) == groups


def test_a_continued_topic_keeps_its_id_and_first_seen() -> None:
    topic = new_topic(group({1: 9}, event_ids=["e1"]), NOW - 60)
    assert len(topic.id) == 12 and int(topic.id, 16) >= 0
    later = continued(topic, group({1: 12}, {**MOULD, "黑点": 0.5}, ["e7"]), NOW)
    assert (later.id, later.first_seen, later.last_seen) == (topic.id, topic.first_seen, NOW)
    assert "黑点" in later.features and later.event_ids == ("e7",)
    assert new_topic(group({1: 9}), NOW).id != new_topic(group({1: 9}), NOW + 5).id


def test_samples_are_the_most_telling_then_the_most_different() -> None:
    def sample(n: int, text: str, priority: Priority = Priority.P2) -> GroupSample:
        return GroupSample(f"e{n}", text, priority, "complaint", "app", NOW - n, True)

    samples = [
        sample(1, "矿泉水瓶盖发霉了，黑色霉点"),
        sample(2, "矿泉水瓶盖发霉了，黑色霉点！"),
        sample(3, "矿泉水瓶盖发霉了，黑色霉点"),  # an exact repeat
        sample(4, "孩子喝了以后拉肚子，要求赔偿", Priority.P1),
        sample(5, "整箱都有霉斑，已经向市场监管部门反映"),
    ]
    chosen = diverse_samples(samples)
    assert chosen[0].event_id == "e4"  # P1 first
    assert len({s.text for s in chosen}) == 3
    assert {"e5"} <= {s.event_id for s in chosen}
    assert not {"e1", "e2"} <= {s.event_id for s in chosen}  # not two near-copies
    assert diverse_samples([]) == []
