"""alerts.emerging_monitor without Redis: a step judges the groups of every worker's
report, fragments of one new problem joined (the Redis-backed lifecycle is in
test_emerging_redis.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from alerts.emerging import WorkerReport
from alerts.emerging_monitor import EmergingConfig, EmergingMonitor
from tests.alerts.test_emerging import DEDUCTED, NOW, RENEWAL, group, totals
from vocwatch.bench.emerging import MemoryStore
from vocwatch.metrics import Metrics
from vocwatch.settings import Settings


async def test_a_step_judges_the_fragments_of_one_problem_as_one_group() -> None:
    """Another worker reports 自动续费 and 被扣 会员费, six authors each in the last two
    minutes: the step's decisions hold one group with both, and it is emerging."""
    settings = Settings()
    store = MemoryStore(3 * settings.evaluation_seconds + 5)
    monitor = EmergingMonitor(
        EmergingConfig.from_settings(settings), store, Metrics.create(CollectorRegistry())
    )
    fragments = [group({1: 3, 2: 3}, RENEWAL, ["r1"]), group({1: 4, 3: 2}, DEDUCTED, ["d1"])]
    await store.publish(WorkerReport("w-other", NOW - 3 * 3600, totals(120, 65), fragments), NOW)
    decisions = await monitor.decide(NOW)
    assert decisions is not None
    (joined,) = [(d.group, d.assessment) for d in decisions if d.group is not None]
    joined_group, assessment = joined
    assert joined_group is not None and set(joined_group.event_ids) == {"r1", "d1"}
    assert assessment.count == 12 and assessment.emerging
