"""Redis Cluster (集群) key design, without a server: every script call and multi-key command
touches one hash slot, and the window keys of different dimension keys spread over the
slots, so that the state spreads over the nodes.

The key sets are taken where the code builds them: a recording client stands in for Redis
and keeps the keys of every script call the window store and the baseline store make."""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from redis.crc import key_slot

from alerts.config import load_alerting
from alerts.observation import Observation
from alerts.rules import Rule, parse_rules, window_key
from alerts.store import RedisBaselineStore
from alerts.windows import RedisWindowStore
from vocwatch.dev.embedded import split_slots
from vocwatch.errors import ConfigError
from vocwatch.settings import DEFAULT_RULES_FILE, Settings

NOW = 1_700_000_000.0

# Rules as people write them: the packaged ones, plus filters (window keys joined with
# "|" to the filter) and keys on free-text dimensions that carry Chinese values.
EXTRA_RULES = parse_rules(
    {
        "rules": [
            {
                "name": "product_region",
                "key": ["product", "region"],
                "window": "10m",
                "measure": "count",
                "threshold": 100,
                "priority": "P3",
            },
            {
                "name": "app_calls_by_region",
                "key": ["region"],
                "window": "5m",
                "where": {"source": ["call"], "channel": ["call"]},
                "measure": "mean_wait_seconds",
                "threshold": 300,
                "priority": "P2",
            },
            {
                "name": "logistics_by_product",
                "key": ["product", "category"],
                "window": "15m",
                "where": {
                    "category": ["logistics", "after_sales"],
                    "source": ["complaint", "social"],
                },
                "measure": "negative_count",
                "threshold": 10,
                "priority": "P2",
            },
        ]
    }
)
PRODUCTS = [
    "智能手表X2",
    "空气炸锅 Pro",
    "儿童{安全}座椅",
    "耳机|青春版",
    "100% 纯棉T恤",
    "鲜奶,1L",
    "key=value",
    "%E6%89%8B",
]
REGIONS = ["北京", "上海市浦东新区", "广东/深圳", "新疆维吾尔自治区", "香港特別行政區", "內蒙古"]
CHANNELS = {
    "complaint": ["app", "web", "hotline", "wechat"],
    "call": ["call"],
    "social": ["social"],
}
PLATFORMS = ["weibo", "douyin", "xiaohongshu", "wechat"]
CATEGORIES = [["logistics"], ["service", "after_sales"], ["technical", "price"], []]


@functools.cache
def rules() -> tuple[Rule, ...]:
    return (*load_alerting(DEFAULT_RULES_FILE).rules, *EXTRA_RULES)


def events() -> list[tuple[dict[str, str], list[str]]]:
    """(dimensions, categories) of events from every source, channel and platform."""
    found = []
    for product, region, categories in itertools.product(PRODUCTS, REGIONS, CATEGORIES):
        for source, channels in CHANNELS.items():
            for channel in channels:
                dims = {"source": source, "channel": channel, "product": product, "region": region}
                if source == "social":
                    for platform in PLATFORMS:
                        found.append(({**dims, "platform": platform}, categories))
                else:
                    found.append((dims, categories))
    return found


@functools.cache
def window_keys() -> frozenset[str]:
    """Every window key these events count in, as the pipeline forms them."""
    keys = set()
    for dims, categories in events():
        keys.add(window_key({"source": dims["source"]}))
        for rule in rules():
            keys.update(rule.keys_for(dims, categories))
    return frozenset(keys)


class RecordingRedis:
    """Keeps the keys of every script call (EVALSHA in a pipeline, EVAL) and answers as
    the window script would: every observation new, every total 0."""

    def __init__(self) -> None:
        self.key_sets: list[tuple[str, ...]] = []

    def pipeline(self, transaction: bool = False) -> RecordingPipeline:
        assert transaction is False, "a cluster runs no transaction across slots"
        return RecordingPipeline(self)

    async def script_load(self, script: str) -> str:
        raise AssertionError("nothing answered NOSCRIPT")

    async def eval(self, script: str, numkeys: int, *args: Any) -> int:
        self.key_sets.append(tuple(args[:numkeys]))
        return 1


class RecordingPipeline:
    def __init__(self, redis: RecordingRedis) -> None:
        self.redis = redis
        self.replies: list[Any] = []

    def execute_command(
        self, command: str, sha: str, numkeys: int, *args: Any
    ) -> RecordingPipeline:
        assert command == "EVALSHA"
        keys, argv = args[:numkeys], args[numkeys:]
        self.redis.key_sets.append(tuple(keys))
        spans = int(argv[5])
        observations = (len(argv) - 6 - spans) // 9
        self.replies.append([[1] * observations, ["0"] * (8 * spans)])
        return self

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        return self.replies


def slot(key: str) -> int:
    return key_slot(key.encode())  # redis-py sends str keys as UTF-8


def test_the_realistic_window_keys_include_chinese_filtered_and_quoted_ones() -> None:
    keys = window_keys()
    assert len(keys) > 100
    assert any("|" in k for k in keys)  # rules with a where filter
    assert any("%E5%8C%97%E4%BA%AC" in k for k in keys)  # 北京, quoted
    assert any("%7B" in k for k in keys)  # a brace in a value, quoted


async def test_every_window_script_call_touches_one_slot() -> None:
    redis = RecordingRedis()
    store = RedisWindowStore(
        redis,
        prefix="vocwatch",
        bucket_seconds=10,
        spans=sorted({r.window_seconds for r in rules()}),
    )
    keys = sorted(window_keys())
    observations = {
        key: [Observation(f"e{i}", NOW - 5, negative=True, p1=False)] for i, key in enumerate(keys)
    }
    states = await store.record(observations, NOW)
    assert set(states) == set(keys)
    assert len(redis.key_sets) == len(keys)
    for key, redis_keys in zip(keys, redis.key_sets, strict=True):
        assert list(redis_keys) == store.redis_keys(key)
        assert len({slot(k) for k in redis_keys}) == 1, redis_keys
        # The slot is the window key's own: it does not depend on the app id.
        assert slot(redis_keys[0]) == slot(key)
    await store.read(keys[:3], NOW)  # reads run the same script
    assert all(len({slot(k) for k in ks}) == 1 for ks in redis.key_sets[-3:])


@pytest.mark.parametrize("prefix", ["vocwatch", "客服-prod", "team:a|b"])
def test_both_keys_of_a_window_share_a_slot_whatever_the_prefix(prefix: str) -> None:
    store = RedisWindowStore(RecordingRedis(), prefix=prefix, bucket_seconds=10, spans=[60])
    for key in window_keys():
        assert len({slot(k) for k in store.redis_keys(key)}) == 1, key


async def test_the_baseline_step_lock_is_a_one_key_script() -> None:
    redis = RecordingRedis()
    assert await RedisBaselineStore(redis, prefix="vocwatch").claim_step(7)
    assert redis.key_sets == [("vocwatch:baseline:step",)]


def test_window_keys_spread_over_the_slots_of_every_node() -> None:
    keys = [window_key({"region": f"{region}{i}"}) for region in REGIONS for i in range(50)]
    per_node = Counter(
        next(n for n, (first, last) in enumerate(split_slots(3)) if first <= slot(k) <= last)
        for k in keys
    )
    assert len({slot(k) for k in keys}) > 0.9 * len(keys)
    assert sorted(per_node) == [0, 1, 2]
    assert min(per_node.values()) > len(keys) / 5  # about a third each


def test_a_prefix_with_a_hash_tag_would_put_every_window_in_one_slot() -> None:
    """Why VOCWATCH_APP_ID may not contain braces on a cluster: the first {…} of a key is
    its hash tag, so every key would land on one node."""
    store = RedisWindowStore(RecordingRedis(), prefix="voc{prod}", bucket_seconds=10, spans=[60])
    assert len({slot(store.redis_keys(k)[0]) for k in list(window_keys())[:100]}) == 1
    with pytest.raises(ConfigError, match="APP_ID"):
        Settings.from_env({"VOCWATCH_REDIS_CLUSTER": "true", "VOCWATCH_APP_ID": "voc{prod}"})
    assert Settings.from_env({"VOCWATCH_APP_ID": "voc{prod}"}).app_id == "voc{prod}"


def test_split_slots_covers_every_slot_once() -> None:
    for nodes in (1, 2, 3, 5, 16):
        ranges = split_slots(nodes)
        covered: Sequence[int] = [s for first, last in ranges for s in range(first, last + 1)]
        assert list(covered) == list(range(16384))
        assert max(b - a for a, b in ranges) - min(b - a for a, b in ranges) <= 1
