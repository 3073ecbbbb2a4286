"""AlertEngine features against real Redis: correlation across channels, routing to
teams (chat robots told only what people need), silences, acknowledgements, ``for:``
pending, and spike rules learning baselines step by step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerts.engine import AlertEngine
from alerts.lifecycle import Sample
from alerts.observation import Observation
from alerts.routing import parse_routing
from alerts.rules import parse_config
from alerts.silences import new_silence
from alerts.store import RedisAlertStore, RedisBaselineStore
from alerts.windows import RedisWindowStore
from tests.support import ListSink
from vocwatch.metrics import Metrics
from vocwatch.vocabulary import Priority

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


class Notified:
    """The engine's ``notify`` hook: what went to which routed sinks."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple[str, ...]]] = []

    def __call__(self, record: dict[str, Any], sinks: Any) -> None:
        self.calls.append((record["id"], record["notification"], tuple(sinks)))


def engine_for(
    client: aioredis.Redis,
    prefix: str,
    rules: list[dict[str, Any]],
    *,
    spans: list[int],
    sink: ListSink,
    notify: Notified | None = None,
    update_seconds: float = 0,
    step: float = 60,
) -> AlertEngine:
    config = parse_config(
        {
            "rules": rules,
            "teams": {"客服主管": {"sinks": ["chat", "hook"]}, "技术支持": {"sinks": ["chat"]}},
            "routes": [
                {"match": {"category": ["technical"]}, "team": "技术支持"},
                {"team": "客服主管"},
            ],
            "sinks": {"chat": {}, "hook": {}},
        }
    )
    windows = RedisWindowStore(client, prefix=prefix, bucket_seconds=10, spans=spans)
    return AlertEngine(
        config.rules,
        windows,
        RedisAlertStore(client, prefix=prefix),
        [sink],
        Metrics.create(CollectorRegistry()),
        update_seconds=update_seconds,
        baselines=RedisBaselineStore(client, prefix=prefix),
        router=parse_routing(config, ["chat", "hook"]),
        notify=notify or Notified(),
        chat_sinks=["chat"],
        baseline_step_seconds=step,
    )


async def feed(
    engine: AlertEngine, rule: str, key: str, ids: range, now: float, *, channel: str = "app"
) -> list[Any]:
    observations = [Observation(f"{key}/{i}", now, True, False) for i in ids]
    engine.activity.add_samples(
        key,
        [
            Sample(
                f"{key}/{i}", f"第{i}条 快递丢件", Priority.P2, now - 1, True, "complaint", channel
            )
            for i in ids
        ],
    )
    states = await engine.windows.record({key: observations}, now)
    return await engine.on_batch({rule: [key]}, states, now)


BURST = {
    "name": "burst",
    "key": ["channel", "category"],
    "window": "1m",
    "measure": "negative_count",
    "threshold": 5,
    "min_count": 5,
    "priority": "P2",
}


async def test_the_same_category_on_several_channels_is_one_incident(
    client: aioredis.Redis, unique: str
) -> None:
    sink = ListSink()
    rule = {**BURST, "key": ["source", "category"], "correlate": ["category"]}
    engine = engine_for(client, unique, [rule], spans=[60], sink=sink)
    await feed(engine, "burst", "source=complaint,category=logistics", range(6), NOW)
    await feed(engine, "burst", "source=call,category=logistics", range(6), NOW + 1)
    await feed(engine, "burst", "source=social,category=logistics", range(6), NOW + 2)
    await feed(engine, "burst", "source=call,category=service", range(6), NOW + 3)

    logistics = [r for r in sink.records if r["key"] == {"category": "logistics"}]
    assert len({r["id"] for r in logistics}) == 1, "one incident, not three alerts"
    assert logistics[0]["channels"] == ["complaint"]
    assert logistics[-1]["channels"] == ["call", "complaint", "social"]
    assert logistics[-1]["count"] == 18  # summed over the members
    assert len(logistics[-1]["members"]) == 3
    service = [r for r in sink.records if r["key"] == {"category": "service"}]
    assert len(service) == 1 and service[0]["channels"] == ["call"]


async def test_routed_sinks_get_news_and_chat_robots_no_plain_updates(
    client: aioredis.Redis, unique: str
) -> None:
    sink, notified = ListSink(), Notified()
    engine = engine_for(client, unique, [BURST], spans=[60], sink=sink, notify=notified)
    await feed(engine, "burst", "channel=app,category=logistics", range(6), NOW)
    await feed(engine, "burst", "channel=app,category=logistics", range(6, 8), NOW + 1)
    await feed(engine, "burst", "channel=app,category=technical", range(6), NOW + 2)
    await engine.tick(NOW + 200)

    first = sink.records[0]
    assert first["route"] == {"team": "客服主管", "sinks": ["chat", "hook"]}
    kinds = [(kind, sinks) for alert_id, kind, sinks in notified.calls if alert_id == first["id"]]
    assert kinds == [
        ("new", ("chat", "hook")),
        ("update", ("hook",)),
        ("resolved", ("chat", "hook")),
    ]
    technical = [r for r in sink.records if r["key"]["category"] == "technical"]
    assert technical[0]["route"]["team"] == "技术支持"


async def test_a_silenced_alert_reaches_no_chat_robot_but_other_sinks_see_it(
    client: aioredis.Redis, unique: str
) -> None:
    sink, notified = ListSink(), Notified()
    engine = engine_for(client, unique, [BURST], spans=[60], sink=sink, notify=notified)
    silence = new_silence(
        {"matchers": {"category": "logistics"}, "duration_seconds": 60, "created_by": "张三"},
        NOW - 1,
    )
    await engine.add_silence(silence)
    await feed(engine, "burst", "channel=app,category=logistics", range(6), NOW)
    assert sink.records[0]["silenced_by"] == silence.id
    assert [sinks for _, _, sinks in notified.calls] == [("hook",)]  # no "chat"
    # Once the silence ends, the chat robot hears the next news again.
    await engine.tick(NOW + 200)
    assert [(kind, sinks) for _, kind, sinks in notified.calls][-1] == (
        "resolved",
        ("chat", "hook"),
    )
    assert sink.records[-1]["silenced_by"] is None


async def test_acknowledged_alerts_keep_the_ack_and_get_no_reminders(
    client: aioredis.Redis, unique: str
) -> None:
    sink, notified = ListSink(), Notified()
    rules = [
        {**BURST, "window": "5m", "repeat": "1m"},
        {**BURST, "name": "other", "window": "5m", "repeat": "1m"},
    ]
    engine = engine_for(
        client, unique, rules, spans=[300], sink=sink, notify=notified, update_seconds=1000
    )
    key = "channel=app,category=logistics"
    acked = (await feed(engine, "burst", key, range(6), NOW))[0]
    other = (await feed(engine, "other", key, range(6), NOW))[0]
    assert await engine.acknowledge("no-such-id", "张三", "", NOW) is None
    result = await engine.acknowledge(acked.id, "张三", "处理中", NOW + 1)
    assert result is not None and result.acknowledged is not None

    await feed(engine, "burst", key, range(6, 8), NOW + 30)  # a worker saves it again
    await engine.tick(NOW + 70)  # reminder time
    reminders = [alert_id for alert_id, kind, _ in notified.calls if kind == "reminder"]
    assert reminders == [other.id]
    active = {a.id: a for a in await engine.store.all_active()}
    ack = active[acked.id].acknowledged
    assert ack is not None and (ack.by, ack.note) == ("张三", "处理中")


async def test_for_keeps_an_alert_pending_until_the_breach_lasts(
    client: aioredis.Redis, unique: str
) -> None:
    sink = ListSink()
    engine = engine_for(client, unique, [{**BURST, "for": "30s"}], spans=[60], sink=sink)
    key = "channel=app,category=logistics"
    assert await feed(engine, "burst", key, range(6), NOW) == []
    assert [a.status for a in await engine.store.all_active()] == ["pending"]
    assert await engine.tick(NOW + 10) == []
    fired = await engine.tick(NOW + 31)
    assert [(a.status, a.notification) for a in fired] == [("firing", "new")]
    # A pending alert whose breach ends before `for:` passes is dropped without a word.
    await feed(engine, "burst", "channel=web,category=price", range(6), NOW + 40)
    await engine.tick(NOW + 140)
    assert [r["key"]["channel"] for r in sink.records] == ["app", "app"]  # new + resolved


async def test_a_spike_rule_learns_a_busy_key_and_alerts_on_a_quiet_one(
    client: aioredis.Redis, unique: str
) -> None:
    sink = ListSink()
    rule = {
        "name": "spike",
        "key": ["channel", "category"],
        "window": "10s",
        "measure": "count",
        "min_count": 5,
        "priority": "P2",
        "spike": {"z": 3, "alpha": 0.3, "warmup": 4, "seasonal": False},
    }
    engine = engine_for(client, unique, [rule], spans=[10], sink=sink, step=10)
    busy, quiet = "channel=app,category=logistics", "channel=web,category=price"
    t = NOW
    for step in range(6):  # learn: busy ≈ 20 per window, quiet ≈ 1
        t = NOW + 10 * step
        await feed(engine, "spike", busy, range(100 * step, 100 * step + 20), t)
        await feed(engine, "spike", quiet, range(100 * step, 100 * step + 1), t)
        await engine.tick(t + 5)
    assert sink.records == [], "learning must not alert"
    t += 10
    await feed(engine, "spike", busy, range(1000, 1022), t)  # busy as usual
    await feed(engine, "spike", quiet, range(1000, 1015), t)  # quiet key jumps
    assert [r["key"] for r in sink.records] == [{"channel": "web", "category": "price"}]
    record = sink.records[0]
    assert record["threshold"] is None and record["baseline"]["expected"] == pytest.approx(1)
    assert record["severity"] > 10


async def test_a_silence_on_a_channel_matches_the_channels_an_incident_lists(
    client: aioredis.Redis, unique: str
) -> None:
    sink, notified = ListSink(), Notified()
    rule = {**BURST, "key": ["source", "category"], "correlate": ["category"]}
    engine = engine_for(client, unique, [rule], spans=[60], sink=sink, notify=notified)
    await engine.add_silence(
        new_silence(
            {"matchers": {"source": "call"}, "duration_seconds": 60, "created_by": "张三"}, NOW
        )
    )
    await feed(engine, "burst", "source=complaint,category=logistics", range(6), NOW)
    await feed(engine, "burst", "source=call,category=logistics", range(6), NOW + 1)
    assert [r["silenced_by"] is None for r in sink.records] == [True, False]


async def test_firing_alerts_are_refreshed_to_sinks_that_expire_them(
    client: aioredis.Redis, unique: str
) -> None:
    sink, notified = ListSink(), Notified()
    engine = engine_for(
        client,
        unique,
        [{**BURST, "window": "5m", "repeat": 0}],
        spans=[300],
        sink=sink,
        notify=notified,
        update_seconds=1000,
    )
    engine.refresh_sinks, engine.refresh_seconds = frozenset({"hook"}), 60
    (alert,) = await feed(engine, "burst", "channel=app,category=logistics", range(6), NOW)
    await engine.tick(NOW + 30)
    await engine.tick(NOW + 61)
    await engine.tick(NOW + 90)
    await engine.tick(NOW + 122)
    refreshes = [(alert_id, sinks) for alert_id, kind, sinks in notified.calls if kind == "refresh"]
    assert refreshes == [(alert.id, ("hook",)), (alert.id, ("hook",))]
    assert len(sink.records) == 1  # refreshes are not new records


async def test_a_batch_during_the_baseline_step_neither_crashes_it_nor_is_lost(
    client: aioredis.Redis, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = {
        "name": "spike",
        "key": ["channel", "category"],
        "window": "10s",
        "measure": "count",
        "min_count": 5,
        "priority": "P2",
        "spike": {"z": 3, "alpha": 0.3, "warmup": 4, "seasonal": False},
    }
    other = rule | {"name": "spike2"}
    engine = engine_for(client, unique, [rule, other], spans=[10], sink=ListSink(), step=10)
    assert engine.baselines is not None
    await feed(engine, "spike", "channel=app,category=logistics", range(3), NOW)
    register = engine.baselines.register
    late = "channel=web,category=price"

    async def register_while_a_batch_lands(name: str, keys: Any, now: float) -> None:
        await feed(engine, "spike2", late, range(3), now)  # the next batch, meanwhile
        await register(name, keys, now)

    monkeypatch.setattr(engine.baselines, "register", register_while_a_batch_lands)
    await engine.tick(NOW + 5)  # iterating the live set raised "changed size during iteration"
    monkeypatch.setattr(engine.baselines, "register", register)
    await engine.tick(NOW + 15)  # the late key is registered at the next step
    assert late in await engine.baselines.keys("spike2", NOW + 15)
