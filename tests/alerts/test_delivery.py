"""Budgets and delivery queues, with a fixed clock and a fake notifier: one message per
record within budget, a digest once over it, nothing lost silently, retries with backoff,
and ``submit`` that returns at once whatever the sink does."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client import CollectorRegistry

from alerts.delivery import (
    Budget,
    DeliveryQueue,
    Dispatcher,
    QueueLimits,
    default_budget,
)
from alerts.notifiers import WeComRobot
from alerts.sinkconfig import SinkSpec, build_dispatcher, parse_sinks
from tests.alerts.test_payloads import example_record, resolved_record
from vocwatch.errors import ConfigError, DeliveryError
from vocwatch.metrics import Metrics

T0 = 1_000.0


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = T0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class FakeNotifier:
    """Keeps what it is sent, with the time; fails with the errors it is given first."""

    kind = "wecom"

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        failures: Sequence[Exception] = (),
        per_message: int = 1_000,
        hang: bool = False,
        name: str = "fake",
    ) -> None:
        self.name = name
        self.clock = clock
        self.failures = list(failures)
        self.per_message = per_message
        self.hang = hang
        self.sent: list[list[str]] = []
        self.attempts: list[float] = []

    def messages(self, records: Sequence[dict[str, Any]]) -> int:
        return math.ceil(len(records) / self.per_message)

    async def send(self, records: list[dict[str, Any]]) -> None:
        self.attempts.append(self.clock())
        if self.hang:
            await asyncio.Event().wait()
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append([r["id"] for r in records])


class Harness:
    def __init__(
        self, *, budget: Budget | None = None, limits: QueueLimits | None = None, **notifier: Any
    ) -> None:
        self.time = FakeTime()
        self.registry = CollectorRegistry()
        self.notifier = FakeNotifier(self.time.clock, **notifier)
        self.queue = DeliveryQueue(
            self.notifier,
            budget or Budget(),
            Metrics.create(self.registry),
            limits=limits,
            clock=self.time.clock,
            sleep=self.time.sleep,
            rng=random.Random(7),
        )

    def outcome(self, outcome: str) -> float:
        return (
            self.registry.get_sample_value(
                "vocwatch_sink_deliveries_total", {"sink": "fake", "outcome": outcome}
            )
            or 0.0
        )

    def depth(self) -> float | None:
        return self.registry.get_sample_value("vocwatch_sink_queue_depth", {"sink": "fake"})

    def submit(self, count: int, start: int = 0) -> None:
        for i in range(start, start + count):
            self.queue.submit(example_record(id=f"a{i}"))


async def settle(condition: Callable[[], bool], rounds: int = 5_000) -> None:
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def ids(first: int, last: int) -> list[str]:
    return [f"a{i}" for i in range(first, last + 1)]


# --- Budget ----------------------------------------------------------------------------------


def test_budget_per_minute_is_a_sliding_window() -> None:
    budget = Budget(per_minute=3)
    for now in (0.0, 1.0, 2.0):
        assert budget.allow(now)
        budget.record(now)
    assert not budget.allow(3.0) and budget.remaining(3.0) == 0
    assert budget.wait_time(3.0) == pytest.approx(57.0)
    assert not budget.allow(59.9)
    assert budget.allow(60.0) and budget.remaining(60.0) == 1
    assert budget.wait_time(60.0) == 0.0


def test_budget_per_second_and_per_minute_together() -> None:
    budget = Budget(per_minute=100, per_second=5)
    budget.record(10.0, messages=5)
    assert not budget.allow(10.5) and budget.wait_time(10.5) == pytest.approx(0.5)
    assert budget.remaining(11.0) == 5


def test_budget_blocked_until_a_vendor_says_we_may_send_again() -> None:
    budget = Budget(per_minute=20)
    budget.block(600.0)
    assert not budget.allow(599.0) and budget.wait_time(100.0) == pytest.approx(500.0)
    budget.block(300.0)  # an earlier end never shortens a block
    assert budget.blocked_until == 600.0 and budget.allow(600.0)


def test_unlimited_budget_always_allows() -> None:
    budget = Budget()
    budget.record(0.0, messages=10_000)
    assert budget.allow(0.0) and budget.wait_time(0.0) == 0.0


@pytest.mark.parametrize(
    ("kind", "overrides", "limits"),
    [
        ("wecom", {}, (20, None)),
        ("dingtalk", {}, (20, None)),
        ("feishu", {}, (100, 5)),
        ("alertmanager", {}, (None, None)),
        ("webhook", {}, (None, None)),
        ("redis_stream", {}, (None, None)),
        ("wecom", {"per_minute": 5}, (5, None)),
        ("feishu", {"per_second": 2}, (100, 2)),
    ],
)
def test_default_budgets_per_vendor(
    kind: str, overrides: dict[str, int], limits: tuple[int | None, int | None]
) -> None:
    budget = default_budget(kind, **overrides)
    assert (budget.per_minute, budget.per_second) == limits


# --- DeliveryQueue ---------------------------------------------------------------------------


async def test_within_budget_each_record_is_its_own_message() -> None:
    h = Harness(budget=Budget(per_minute=20))
    h.queue.start()
    h.submit(5)
    await settle(lambda: len(h.notifier.sent) == 5)
    await h.queue.stop(1.0)
    assert h.notifier.sent == [[i] for i in ids(0, 4)]
    assert (h.outcome("sent"), h.outcome("merged"), h.outcome("dropped")) == (5, 0, 0)
    assert h.depth() == 0


async def test_over_budget_the_waiting_records_go_out_as_one_digest() -> None:
    h = Harness(budget=Budget(per_minute=3))
    h.queue.start()
    h.submit(10)
    await settle(lambda: len(h.notifier.sent) == 4)
    await h.queue.stop(1.0)
    assert h.notifier.sent == [["a0"], ["a1"], ["a2"], ids(3, 9)]
    assert h.notifier.attempts[3] >= T0 + 60.0  # as soon as the window let one more through
    assert (h.outcome("sent"), h.outcome("merged")) == (3, 7)


async def test_a_digest_takes_only_as_many_messages_as_the_budget_allows() -> None:
    h = Harness(budget=Budget(per_minute=2), limits=QueueLimits(max_pending=1), per_message=2)
    h.submit(10)  # before the worker starts: more than max_pending wait, a digest is due
    h.queue.start()
    await settle(lambda: sum(map(len, h.notifier.sent)) == 10)
    await h.queue.stop(1.0)
    assert h.notifier.sent == [ids(0, 3), ids(4, 7), ids(8, 9)]
    assert h.notifier.attempts == [T0, T0 + 60.0, T0 + 120.0]
    assert h.outcome("merged") == 10


async def test_a_full_queue_merges_the_oldest_and_drops_only_past_the_hard_cap() -> None:
    h = Harness(limits=QueueLimits(max_pending=5, max_records=8))
    h.submit(12)
    assert h.outcome("dropped") == 4 and h.depth() == 8
    h.queue.start()
    await settle(lambda: len(h.notifier.sent) == 1)
    await h.queue.stop(1.0)
    assert h.notifier.sent == [ids(4, 11)]
    assert (h.outcome("merged"), h.outcome("dropped"), h.outcome("sent")) == (8, 4, 0)


async def test_failures_are_retried_with_growing_backoff() -> None:
    error = DeliveryError("fake: HTTP 502", retryable=True)
    h = Harness(
        failures=[error, error, error], limits=QueueLimits(backoff_base=2.0, backoff_max=60.0)
    )
    h.queue.start()
    h.submit(1)
    await settle(lambda: bool(h.notifier.sent))
    await h.queue.stop(1.0)
    gaps = [b - a for a, b in zip(h.notifier.attempts, h.notifier.attempts[1:], strict=False)]
    assert len(gaps) == 3
    for attempt, gap in enumerate(gaps, start=1):  # base × 2^(n-1), jittered to 50–100 %
        assert 2.0 * 2 ** (attempt - 1) * 0.5 <= gap <= 2.0 * 2 ** (attempt - 1)
    assert (h.outcome("retried"), h.outcome("sent"), h.outcome("failed")) == (3, 1, 0)


async def test_retry_after_is_honoured() -> None:
    h = Harness(failures=[DeliveryError("429", retryable=True, retry_after=30.0)])
    h.queue.start()
    h.submit(1)
    await settle(lambda: bool(h.notifier.sent))
    await h.queue.stop(1.0)
    assert h.notifier.attempts[1] - h.notifier.attempts[0] >= 30.0


async def test_a_rate_limit_blocks_the_budget_and_merges_what_waits_meanwhile() -> None:
    too_fast = DeliveryError("130101", retryable=True, retry_after=600.0, rate_limited=True)
    h = Harness(budget=Budget(per_minute=20), failures=[too_fast])
    h.queue.start()
    h.submit(1)
    await settle(lambda: len(h.notifier.attempts) == 1)
    h.submit(3, start=1)
    await settle(lambda: bool(h.notifier.sent))
    await h.queue.stop(1.0)
    assert h.queue.budget.blocked_until == T0 + 600.0
    assert h.notifier.attempts[1] >= T0 + 600.0
    assert h.notifier.sent == [ids(0, 3)]
    assert (h.outcome("retried"), h.outcome("merged")) == (1, 4)


async def test_gives_up_after_max_attempts_and_goes_on() -> None:
    error = DeliveryError("fake: HTTP 503", retryable=True)
    h = Harness(failures=[error] * 3, limits=QueueLimits(max_attempts=3))
    h.queue.start()
    h.submit(1)
    await settle(lambda: h.outcome("failed") == 1)
    h.submit(1, start=1)
    await settle(lambda: bool(h.notifier.sent))
    await h.queue.stop(1.0)
    assert len(h.notifier.attempts) == 4 and h.notifier.sent == [["a1"]]
    assert (h.outcome("retried"), h.outcome("failed"), h.outcome("sent")) == (2, 1, 1)


async def test_gives_up_on_records_older_than_max_age() -> None:
    error = DeliveryError("fake: HTTP 503", retryable=True, retry_after=100.0)
    h = Harness(failures=[error] * 10, limits=QueueLimits(max_attempts=10, max_age=250.0))
    h.queue.start()
    h.submit(1)
    await settle(lambda: h.outcome("failed") == 1)
    await h.queue.stop(1.0)
    assert len(h.notifier.attempts) == 3  # at 0, 100, 200 s; the next would be past 250 s


async def test_an_error_that_retrying_cannot_fix_fails_at_once() -> None:
    h = Harness(failures=[DeliveryError("fake: HTTP 400", retryable=False)])
    h.queue.start()
    h.submit(1)
    await settle(lambda: h.outcome("failed") == 1)
    await h.queue.stop(1.0)
    assert len(h.notifier.attempts) == 1 and h.outcome("retried") == 0


async def test_a_bug_in_an_adapter_fails_the_record_but_not_the_worker() -> None:
    h = Harness(failures=[KeyError("text")])
    h.queue.start()
    h.submit(2)
    await settle(lambda: bool(h.notifier.sent))
    await h.queue.stop(1.0)
    assert h.notifier.sent == [["a1"]] and h.outcome("failed") == 1


async def test_submit_returns_at_once_while_the_notifier_hangs() -> None:
    registry = CollectorRegistry()
    notifier = FakeNotifier(time.monotonic, hang=True)
    queue = DeliveryQueue(
        notifier, Budget(), Metrics.create(registry), limits=QueueLimits(send_timeout=60.0)
    )
    queue.start()
    queue.submit(example_record(id="first"))
    await settle(lambda: bool(notifier.attempts))  # the worker is now stuck in send
    started = time.perf_counter()
    for i in range(1_000):
        queue.submit(example_record(id=f"a{i}"))
    assert time.perf_counter() - started < 0.5
    await queue.stop(0.2)
    dropped = registry.get_sample_value(
        "vocwatch_sink_deliveries_total", {"sink": "fake", "outcome": "dropped"}
    )
    assert dropped == 1_001  # the one in flight and the 1000 waiting, none silently lost


async def test_a_hanging_send_times_out_and_is_retried() -> None:
    registry = CollectorRegistry()
    notifier = FakeNotifier(time.monotonic, hang=True)
    queue = DeliveryQueue(
        notifier,
        Budget(),
        Metrics.create(registry),
        limits=QueueLimits(send_timeout=0.05, max_attempts=2, backoff_base=0.01),
    )
    queue.start()
    queue.submit(example_record())
    await settle(lambda: len(notifier.attempts) == 2, rounds=10**6)
    await queue.stop(0.5)
    assert (
        registry.get_sample_value(
            "vocwatch_sink_deliveries_total", {"sink": "fake", "outcome": "failed"}
        )
        == 1
    )


async def test_stop_drains_what_is_waiting() -> None:
    h = Harness(budget=Budget(per_minute=1))
    h.queue.start()
    h.submit(3)
    await h.queue.stop(1.0)
    assert h.notifier.sent == [["a0"], ["a1", "a2"]]
    assert h.outcome("dropped") == 0 and h.depth() == 0


# --- Dispatcher ------------------------------------------------------------------------------


async def test_dispatcher_routes_to_the_named_sinks_and_counts_disabled_ones() -> None:
    fake = FakeTime()
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    notifiers = {name: FakeNotifier(fake.clock, name=name) for name in ("chat", "am")}
    queues = {
        name: DeliveryQueue(n, Budget(), metrics, clock=fake.clock, sleep=fake.sleep)
        for name, n in notifiers.items()
    }
    dispatcher = Dispatcher(queues, metrics, disabled={"off": "VOCWATCH_SINK_OFF_URL not set"})
    assert dispatcher.enabled == ("chat", "am") and set(dispatcher.disabled) == {"off"}
    await dispatcher.start()
    dispatcher.dispatch(example_record(), ["chat", "am", "off", "typo", "chat"])
    dispatcher.dispatch(resolved_record(), ["am"])
    await dispatcher.stop(1.0)
    assert notifiers["chat"].sent == [["3f2a9c0d11aa22bb-1763800000"]]
    assert [len(batch) for batch in notifiers["am"].sent] == [1, 1]  # resolved delivered too

    def value(sink: str, outcome: str) -> float | None:
        return registry.get_sample_value(
            "vocwatch_sink_deliveries_total", {"sink": sink, "outcome": outcome}
        )

    assert value("off", "disabled") == 1 and value("typo", "disabled") is None
    assert value("chat", "sent") == 1 and value("am", "sent") == 2


def test_dispatch_never_raises() -> None:
    metrics = Metrics.create(CollectorRegistry())
    dispatcher = Dispatcher({}, metrics)
    dispatcher.dispatch({"id": "x"}, None)  # type: ignore[arg-type]  # a caller's bug


# --- sink configuration ----------------------------------------------------------------------

EXAMPLE_SINKS = yaml.safe_load("""
wecom_support: {type: wecom, url_env: VOCWATCH_SINK_WECOM_SUPPORT_URL}
dingtalk_tech: {type: dingtalk, url_env: VOCWATCH_SINK_DINGTALK_TECH_URL,
                secret_env: VOCWATCH_SINK_DINGTALK_TECH_SECRET}
feishu_social: {type: feishu, url_env: VOCWATCH_SINK_FEISHU_SOCIAL_URL,
                secret_env: VOCWATCH_SINK_FEISHU_SOCIAL_SECRET, per_second: 2, timeout: 2.5}
alertmanager: {type: alertmanager, url_env: VOCWATCH_SINK_ALERTMANAGER_URL}
webhook: {type: webhook, url_env: VOCWATCH_SINK_WEBHOOK_URL, token_env: VOCWATCH_SINK_WEBHOOK_TOKEN}
stream: {type: redis_stream, stream: alerts, maxlen: 10000}
""")


def test_parse_sinks_reads_the_documented_example() -> None:
    specs = parse_sinks(EXAMPLE_SINKS, "rules.yaml")
    assert list(specs) == list(EXAMPLE_SINKS)
    assert specs["dingtalk_tech"] == SinkSpec(
        name="dingtalk_tech",
        type="dingtalk",
        url_env="VOCWATCH_SINK_DINGTALK_TECH_URL",
        secret_env="VOCWATCH_SINK_DINGTALK_TECH_SECRET",
    )
    assert (specs["feishu_social"].per_second, specs["feishu_social"].timeout) == (2, 2.5)
    assert (specs["stream"].stream, specs["stream"].maxlen) == ("alerts", 10_000)
    assert specs["webhook"].env_vars == ("VOCWATCH_SINK_WEBHOOK_URL", "VOCWATCH_SINK_WEBHOOK_TOKEN")
    assert parse_sinks(None, "rules.yaml") == {}


@pytest.mark.parametrize(
    ("sink", "field", "message"),
    [
        ({"type": "slack", "url_env": "VOCWATCH_SINK_X_URL"}, "type", "must be one of"),
        ({"type": "wecom"}, "url_env", "required"),
        (
            {"type": "wecom", "url_env": "https://qyapi.weixin.qq.com/?key=1"},
            "url_env",
            "must name an environment variable",
        ),
        ({"type": "wecom", "url_env": "HOME"}, "url_env", "VOCWATCH_SINK_"),
        (
            {"type": "wecom", "url_env": "VOCWATCH_SINK_X_URL", "secret_env": "VOCWATCH_SINK_X"},
            "secret_env",
            "unknown field",
        ),
        (
            {"type": "wecom", "url_env": "VOCWATCH_SINK_X_URL", "url": "https://x"},
            "url",
            "unknown field",
        ),
        (
            {"type": "dingtalk", "url_env": "VOCWATCH_SINK_X_URL", "secret_env": "secret"},
            "secret_env",
            "must name",
        ),
        (
            {"type": "wecom", "url_env": "VOCWATCH_SINK_X_URL", "per_minute": 0},
            "per_minute",
            "whole number",
        ),
        (
            {"type": "wecom", "url_env": "VOCWATCH_SINK_X_URL", "per_second": True},
            "per_second",
            "whole number",
        ),
        ({"type": "webhook", "url_env": "VOCWATCH_SINK_X_URL", "timeout": 0}, "timeout", "seconds"),
        (
            {"type": "webhook", "url_env": "VOCWATCH_SINK_X_URL", "timeout": 600},
            "timeout",
            "seconds",
        ),
        ({"type": "redis_stream"}, "stream", "required"),
        ({"type": "redis_stream", "stream": "alerts", "maxlen": -5}, "maxlen", "whole number"),
        (
            {"type": "redis_stream", "stream": "alerts", "url_env": "VOCWATCH_SINK_X_URL"},
            "url_env",
            "unknown field",
        ),
    ],
)
def test_parse_sinks_names_the_sink_and_the_field(
    sink: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_sinks({"wecom_support": sink}, "rules.yaml")
    assert caught.value.source == "rules.yaml: sink 'wecom_support'"
    assert caught.value.field == field and message in str(caught.value)


@pytest.mark.parametrize("data", [["wecom"], {"Bad-Name": {"type": "wecom"}}, {"ok": "wecom"}])
def test_parse_sinks_refuses_a_malformed_section(data: Any) -> None:
    with pytest.raises(ConfigError, match=r"^rules\.yaml"):
        parse_sinks(data, "rules.yaml")


def test_parse_sinks_names_the_line_when_it_is_known() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_sinks(
            {"hook": {"type": "nope"}},
            "rules.yaml",
            lines=lambda path: 41 if list(path) == ["sinks", "hook"] else None,
        )
    assert caught.value.source == "rules.yaml:41: sink 'hook'"


async def test_build_dispatcher_disables_sinks_whose_variables_are_unset(
    caplog: pytest.LogCaptureFixture,
) -> None:
    specs = parse_sinks(
        {
            **EXAMPLE_SINKS,
            "wecom_ops": {"type": "wecom", "url_env": "VOCWATCH_SINK_OPS_URL", "per_minute": 5},
        },
        "rules.yaml",
    )
    env = {
        "VOCWATCH_SINK_WECOM_SUPPORT_URL": "http://127.0.0.1:9/send?key=k1",
        "VOCWATCH_SINK_DINGTALK_TECH_URL": "http://127.0.0.1:9/robot/send?access_token=t",
        "VOCWATCH_SINK_OPS_URL": "http://127.0.0.1:9/send?key=k2",
        "VOCWATCH_SINK_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "VOCWATCH_SINK_WEBHOOK_TOKEN": "  ",
    }
    async with aiohttp.ClientSession() as session:
        dispatcher = build_dispatcher(
            specs, env, session, None, Metrics.create(CollectorRegistry())
        )
    assert dispatcher.enabled == ("wecom_support", "wecom_ops")
    assert dispatcher.disabled == {
        "dingtalk_tech": "VOCWATCH_SINK_DINGTALK_TECH_SECRET not set",
        "feishu_social": "VOCWATCH_SINK_FEISHU_SOCIAL_URL and "
        "VOCWATCH_SINK_FEISHU_SOCIAL_SECRET not set",
        "alertmanager": "VOCWATCH_SINK_ALERTMANAGER_URL not set",
        "webhook": "VOCWATCH_SINK_WEBHOOK_TOKEN not set",
        "stream": "no Redis client",
    }
    for variable in ("VOCWATCH_SINK_DINGTALK_TECH_SECRET", "VOCWATCH_SINK_ALERTMANAGER_URL"):
        assert sum(variable in r.getMessage() for r in caplog.records) == 1
    assert "k1" not in caplog.text and "access_token" not in caplog.text
    budgets = {
        name: (q.budget.per_minute, q.budget.per_second) for name, q in dispatcher.queues.items()
    }
    assert budgets == {"wecom_support": (20, None), "wecom_ops": (5, None)}
    assert isinstance(dispatcher.queues["wecom_support"].notifier, WeComRobot)
