"""alerts.emerging_monitor without Redis: a step judges the groups of every worker's
report, fragments of one new problem joined (the Redis-backed lifecycle is in
test_emerging_redis.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from alerts.emerging import KnownTopic, WorkerReport
from alerts.emerging_monitor import QUIET_GRACE, EmergingConfig, EmergingMonitor
from tests.alerts.test_emerging import DEDUCTED, MOULD, NOW, RENEWAL, group, totals
from vocwatch.bench.emerging import MemoryStore
from vocwatch.metrics import Metrics
from vocwatch.settings import Settings


def monitor_and_store() -> tuple[EmergingMonitor, MemoryStore]:
    settings = Settings()
    store = MemoryStore(3 * settings.evaluation_seconds + 5)
    monitor = EmergingMonitor(
        EmergingConfig.from_settings(settings), store, Metrics.create(CollectorRegistry())
    )
    return monitor, store


async def test_the_parts_of_a_known_topic_continue_it_as_one_group() -> None:
    """The topic's parts come apart (one like it in words, one by its texts): one decision
    continues the topic with both parts' texts, and no second topic begins."""
    monitor, store = monitor_and_store()
    await store.remember([KnownTopic("mould", MOULD, NOW - 600, NOW - 5, ("e1", "e3", "e4"))])
    parts = [
        group({1: 6, 2: 3}, event_ids=["e1", "e7"]),
        group({1: 4}, {"霉斑": 0.9, "黑点": 0.43}, ["e3", "e4"]),
    ]
    await store.publish(WorkerReport("w-other", NOW - 3 * 3600, totals(120, 65), parts), NOW)
    decisions = await monitor.decide(NOW)
    assert decisions is not None
    (decision,) = [d for d in decisions if d.group is not None]
    assert decision.topic is not None and decision.topic.id == "mould"
    assert set(decision.topic.event_ids) == {"e1", "e7", "e3", "e4"}
    assert [t.id for t in await store.known()] == ["mould"]


async def test_a_step_judges_the_fragments_of_one_problem_as_one_group() -> None:
    """Another worker reports 自动续费 and 被扣 会员费, six authors each in the last two
    minutes: the step's decisions hold one group with both, and it is emerging."""
    monitor, store = monitor_and_store()
    fragments = [group({1: 3, 2: 3}, RENEWAL, ["r1"]), group({1: 4, 3: 2}, DEDUCTED, ["d1"])]
    await store.publish(WorkerReport("w-other", NOW - 3 * 3600, totals(120, 65), fragments), NOW)
    decisions = await monitor.decide(NOW)
    assert decisions is not None
    (joined,) = [(d.group, d.assessment) for d in decisions if d.group is not None]
    joined_group, assessment = joined
    assert joined_group is not None and set(joined_group.event_ids) == {"r1", "d1"}
    assert assessment.count == 12 and assessment.emerging


async def test_a_known_topic_unseen_for_a_moment_is_not_judged_until_it_is_gone() -> None:
    """A topic whose group misses a step keeps its alert as it is; unseen for a fifth of
    the window (a minute by default), it is judged: nothing holds it and its alert resolves."""
    monitor, store = monitor_and_store()
    grace = monitor.config.policy.window_seconds * QUIET_GRACE
    await store.remember(
        [
            KnownTopic("moment", MOULD, NOW - 600, NOW - grace + 5),
            KnownTopic("gone", MOULD, NOW - 600, NOW - grace - 5),
        ]
    )
    await store.publish(WorkerReport("w-other", NOW - 3 * 3600, totals(120, 65), []), NOW)
    decisions = await monitor.decide(NOW)
    assert decisions is not None
    judged = {d.topic.id: d for d in decisions if d.topic is not None}
    assert list(judged) == ["gone"]
    assert judged["gone"].group is None and not judged["gone"].assessment.holds
