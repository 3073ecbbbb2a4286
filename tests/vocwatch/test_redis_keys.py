"""vocwatch.redis_keys: every Redis key name in one place — the same strings the stores have
always used (data written by an earlier version stays readable), hash tags that keep the keys
of one script in one Redis Cluster slot, and a module docstring that lists every key."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from redis.crc import key_slot

from alerts.contacts import customer_key
from alerts.customer_history import RedisCustomerHistory
from alerts.series import RedisSeries
from alerts.store import RedisAlertStore, RedisBaselineStore
from alerts.windows import RedisWindowStore
from streams.corrections_store import RedisCorrections
from vocwatch import redis_keys

KEY_FUNCTIONS: list[Callable[..., str]] = [
    f
    for _, f in inspect.getmembers(redis_keys, inspect.isfunction)
    if f.__module__ == redis_keys.__name__
]
WINDOW_KEY = "channel=app,category=logistics"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (redis_keys.window_buckets("vocwatch", WINDOW_KEY), f"vocwatch:{{{WINDOW_KEY}}}:b"),
        (redis_keys.window_ids("vocwatch", WINDOW_KEY), f"vocwatch:{{{WINDOW_KEY}}}:ids"),
        (redis_keys.series("vocwatch", "platform", 19675), "vocwatch:series:platform:19675"),
        (redis_keys.posts("vocwatch", 472200), "vocwatch:posts:472200"),
        (redis_keys.alerts_active("vocwatch"), "vocwatch:alerts:active"),
        (redis_keys.alerts_summaries("vocwatch"), "vocwatch:alerts:summaries"),
        (redis_keys.alerts_acks("vocwatch"), "vocwatch:alerts:acks"),
        (redis_keys.alerts_history("vocwatch"), "vocwatch:alerts:history"),
        (redis_keys.silences("vocwatch"), "vocwatch:silences"),
        (redis_keys.baselines("vocwatch", "burst"), "vocwatch:baseline:{burst}"),
        (redis_keys.baseline_keys("vocwatch", "burst"), "vocwatch:baseline:{burst}:keys"),
        (redis_keys.baseline_step("vocwatch"), "vocwatch:baseline:step"),
        (redis_keys.live_channel("vocwatch"), "vocwatch:alerts:live"),
        (redis_keys.emerging_report("vocwatch", "w1"), "vocwatch:emerging:report:w1"),
        (redis_keys.emerging_workers("vocwatch"), "vocwatch:emerging:workers"),
        (redis_keys.emerging_step("vocwatch"), "vocwatch:emerging:step"),
        (redis_keys.emerging_known("vocwatch"), "vocwatch:emerging:known"),
        (redis_keys.emerging_watch("vocwatch"), "vocwatch:emerging:watch"),
        (redis_keys.customer_contacts("vocwatch", "u1"), "vocwatch:customer:{u1}"),
        (redis_keys.kpis("vocwatch", 480000), "vocwatch:kpi:480000"),
        (redis_keys.corrections("vocwatch"), "vocwatch:{corrections}"),
        (redis_keys.corrections_order("vocwatch"), "vocwatch:{corrections}:order"),
        (redis_keys.alerts_active("客服-prod"), "客服-prod:alerts:active"),
    ],
)
def test_each_key_is_the_string_the_stores_have_always_used(key: str, expected: str) -> None:
    assert key == expected


def test_every_key_function_is_tested_above_and_listed_in_the_docstring() -> None:
    """Each function called with its parameters' names as placeholders (``<prefix>``,
    ``<window key>`` …) gives a name that the module docstring lists."""
    doc = redis_keys.__doc__ or ""
    assert len(KEY_FUNCTIONS) == 22
    for function in KEY_FUNCTIONS:
        names = inspect.signature(function).parameters
        placeholders: list[Any] = [f"<{name.replace('_', ' ')}>" for name in names]
        assert f"``{function(*placeholders)}``" in doc, function.__name__


def slot(key: str) -> int:
    return key_slot(key.encode())


@pytest.mark.parametrize("prefix", ["vocwatch", "客服-prod", "team:a|b"])
@pytest.mark.parametrize(
    "window_key", [WINDOW_KEY, "product=%E6%89%8B,region=%7B", "source=call|channel:call"]
)
def test_the_two_keys_of_the_window_script_share_a_slot(prefix: str, window_key: str) -> None:
    keys = [
        redis_keys.window_buckets(prefix, window_key),
        redis_keys.window_ids(prefix, window_key),
    ]
    assert {slot(k) for k in keys} == {slot(window_key)}  # the window key's own slot


@pytest.mark.parametrize("prefix", ["vocwatch", "客服-prod"])
@pytest.mark.parametrize("customer", ["u1", "[PHONE]~3b1f0c9a2e", "u{1}, x=y", "}x{"])
def test_a_customers_key_is_hashed_on_the_customer_alone(prefix: str, customer: str) -> None:
    redis: Any = object()
    history = RedisCustomerHistory(redis, prefix=prefix, history_seconds=60, max_contacts=1)
    key = history.redis_key(customer)
    assert key == redis_keys.customer_contacts(prefix, customer_key(customer))
    assert slot(key) == slot(customer_key(customer))


@pytest.mark.parametrize("rule", ["burst", "social_spike", "x"])
def test_a_rules_baselines_and_its_key_set_share_a_slot(rule: str) -> None:
    keys = [redis_keys.baselines("vocwatch", rule), redis_keys.baseline_keys("vocwatch", rule)]
    assert {slot(k) for k in keys} == {slot(rule)}


@pytest.mark.parametrize("prefix", ["vocwatch", "客服-prod", "team:a|b"])
def test_the_two_keys_of_the_corrections_script_share_a_slot(prefix: str) -> None:
    keys = [redis_keys.corrections(prefix), redis_keys.corrections_order(prefix)]
    assert {slot(k) for k in keys} == {slot("corrections")}


def test_the_stores_use_these_names() -> None:
    redis: Any = object()
    alerts = RedisAlertStore(redis, prefix="p")
    assert (
        alerts.key,
        alerts.summaries_key,
        alerts.acks_key,
        alerts.history_key,
        alerts.silences_key,
    ) == (
        redis_keys.alerts_active("p"),
        redis_keys.alerts_summaries("p"),
        redis_keys.alerts_acks("p"),
        redis_keys.alerts_history("p"),
        redis_keys.silences("p"),
    )
    windows = RedisWindowStore(redis, prefix="p", bucket_seconds=10, spans=[60])
    assert windows.redis_keys(WINDOW_KEY) == [
        redis_keys.window_buckets("p", WINDOW_KEY),
        redis_keys.window_ids("p", WINDOW_KEY),
    ]
    assert RedisBaselineStore(redis, prefix="p")._key("burst") == redis_keys.baselines("p", "burst")
    assert RedisSeries(redis, prefix="p")._key("category", 3) == redis_keys.series(
        "p", "category", 3
    )
    corrections = RedisCorrections(redis, prefix="p")
    assert (corrections.key, corrections.order_key) == (
        redis_keys.corrections("p"),
        redis_keys.corrections_order("p"),
    )
