"""Pipeline.process with real Redis and an in-memory publisher: what a batch produces."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerts.emerging_monitor import EmergingConfig, EmergingMonitor
from alerts.emerging_store import RedisEmergingStore
from alerts.engine import AlertEngine
from alerts.rules import parse_rules
from alerts.series import RedisSeries
from alerts.store import RedisAlertStore
from alerts.windows import RedisWindowStore
from classifiers.analyze import Analyzer
from streams.app import redis_client
from streams.pipeline import Pipeline
from streams.records import RawMessage
from tests.classifiers.fixed_models import fixed_models
from tests.support import ListSink
from vocwatch.dev import embedded
from vocwatch.metrics import Metrics
from vocwatch.settings import Settings

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0
RULES = parse_rules(
    {
        "rules": [
            {
                "name": "burst",
                "key": ["channel", "category"],
                "window": "5m",
                "measure": "negative_count",
                "threshold": 10,
                "min_count": 10,
                "priority": "P2",
            }
        ]
    }
)


class MemoryPublisher:
    def __init__(self) -> None:
        self.sent: dict[str, list[tuple[bytes | None, dict[str, Any]]]] = {}

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[None]:
        self.sent.setdefault(topic, []).append((key, json.loads(value)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def build(
    client: aioredis.Redis,
    prefix: str,
    analyzer: Analyzer,
    registry: CollectorRegistry,
    *,
    emerging: bool = False,
) -> tuple[Pipeline, MemoryPublisher, ListSink]:
    settings = Settings(app_id=prefix, retry_max_seconds=0.2)
    metrics = Metrics.create(registry)
    windows = RedisWindowStore(client, prefix=prefix, bucket_seconds=10, spans=[300])
    sink = ListSink()
    engine = AlertEngine(
        RULES, windows, RedisAlertStore(client, prefix=prefix), [sink], metrics, update_seconds=30
    )
    publisher = MemoryPublisher()
    monitor = (
        EmergingMonitor(
            EmergingConfig.from_settings(settings),
            RedisEmergingStore(client, prefix=prefix, ttl_seconds=10),
            metrics,
            engine=engine,
        )
        if emerging
        else None
    )
    pipeline = Pipeline(
        settings=settings,
        analyzer=analyzer,
        rules=RULES,
        windows=windows,
        engine=engine,
        publisher=publisher,
        metrics=metrics,
        clock=lambda: NOW,
        series=RedisSeries(client, prefix=prefix),
        emerging=monitor,
    )
    return pipeline, publisher, sink


def complaint(i: int, text: str, channel: str = "app") -> bytes:
    return json.dumps(
        {
            "id": f"c{i}",
            "customer_id": "13812345678",
            "channel": channel,
            "text": text,
            "created_at": NOW - 30,
        },
        ensure_ascii=False,
    ).encode()


def messages(values: list[bytes | None], first_offset: int = 0) -> list[RawMessage]:
    return [
        RawMessage(v, "vocwatch.complaints", 2, first_offset + i, NOW - 30)
        for i, v in enumerate(values)
    ]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_bad_messages_are_dead_lettered_with_reason_and_origin(
    client: aioredis.Redis, unique: str, analyzer: Analyzer
) -> None:
    registry = CollectorRegistry()
    pipeline, publisher, _ = build(client, unique, analyzer, registry)
    batch = messages(
        [
            complaint(1, "快递员态度很差，电话13912345678"),
            b"{oops",
            b'{"id": "c2", "channel": "app"}',
            None,
        ]
    )
    outcome = await pipeline.process("complaint", batch)

    assert (outcome.valid, outcome.dead_lettered) == (1, 3)
    dead = [record for _, record in publisher.sent["vocwatch.deadletter"]]
    assert [d["reason"] for d in dead] == ["not_json", "missing_field", "not_json"]
    assert [d["origin"]["offset"] for d in dead] == [1, 2, 3]
    assert all(
        d["origin"]["topic"] == "vocwatch.complaints" and d["origin"]["partition"] == 2
        for d in dead
    )
    assert "customer_id" in dead[1]["detail"]
    [(key, scored)] = publisher.sent["vocwatch.scored"]
    assert key == b"c1"
    assert "13912345678" not in json.dumps(scored, ensure_ascii=False)
    assert scored["fields"]["customer_id"] == "[PHONE]"
    assert "[PHONE]" in scored["text"]
    assert (
        registry.get_sample_value(
            "vocwatch_events_dead_lettered_total", {"source": "complaint", "reason": "not_json"}
        )
        == 2
    )
    assert registry.get_sample_value("vocwatch_events_received_total", {"source": "complaint"}) == 4


async def test_replayed_events_do_not_count_twice_or_realert(
    client: aioredis.Redis, unique: str, analyzer: Analyzer
) -> None:
    registry = CollectorRegistry()
    pipeline, _, sink = build(client, unique, analyzer, registry)
    burst = messages([complaint(i, "快递丢件了，包裹一直没收到，物流太慢了") for i in range(12)])
    first = await pipeline.process("complaint", burst)
    replay = await pipeline.process("complaint", burst)

    assert (first.new, first.duplicates) == (12, 0)
    assert (replay.new, replay.duplicates) == (0, 12)
    assert [r["status"] for r in sink.records] == ["firing"]
    assert sink.records[0]["key"] == {"channel": "app", "category": "logistics"}
    assert sink.records[0]["count"] == 12
    assert registry.get_sample_value("vocwatch_events_valid_total", {"source": "complaint"}) == 12
    assert (
        registry.get_sample_value("vocwatch_events_duplicate_total", {"source": "complaint"}) == 12
    )
    # The console's minute series counted each event once too.
    assert pipeline.series is not None
    series = await pipeline.series.read("category", NOW - 120, NOW)
    assert sum(t.count for t in series["logistics"].values()) == 12


async def test_a_window_alert_is_told_before_the_series_and_clustering_of_its_batch(
    client: aioredis.Redis, unique: str, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, _, sink = build(client, unique, analyzer, CollectorRegistry(), emerging=True)
    told_by: dict[str, int] = {}
    assert pipeline.series is not None and pipeline.emerging is not None
    series, monitor = pipeline.series, pipeline.emerging
    add, observe = series.add, monitor.observe

    async def add_series(*args: Any) -> Any:
        told_by["series"] = len(sink.records)
        return await add(*args)

    def observe_texts(*args: Any) -> Any:
        told_by["emerging"] = len(sink.records)
        return observe(*args)

    monkeypatch.setattr(series, "add", add_series)
    monkeypatch.setattr(monitor, "observe", observe_texts)
    burst = messages([complaint(i, "快递丢件了，包裹一直没收到，物流太慢了") for i in range(12)])
    await pipeline.process("complaint", burst)
    assert told_by == {"series": 1, "emerging": 1}  # the alert was out before either began


async def test_new_texts_of_the_emerging_polarities_are_clustered_once(
    client: aioredis.Redis, unique: str, analyzer: Analyzer
) -> None:
    registry = CollectorRegistry()
    pipeline, _, _ = build(client, unique, analyzer, registry, emerging=True)
    batch = messages(
        [
            complaint(1, "矿泉水瓶盖里面发霉了，黑色霉点"),
            complaint(2, "矿泉水瓶盖里面发霉了，黑色霉点，电话13912345678"),
            complaint(3, "请问门店几点关门"),  # neutral
            complaint(4, "东西很好，物流很快，好评！"),  # positive: not clustered
            complaint(5, "在吗？？？"),  # negative, but no content word
        ]
    )
    await pipeline.process("complaint", batch)
    await pipeline.process("complaint", batch)  # a replay is not seen again

    def texts(outcome: str) -> float | None:
        return registry.get_sample_value("vocwatch_emerging_texts_total", {"outcome": outcome})

    assert (texts("clustered"), texts("near_duplicate"), texts("no_content")) == (2, 1, 1)
    assert pipeline.emerging is not None
    clusters = pipeline.emerging.clusters
    mould = next(c for c in clusters.clusters.values() if "发霉" in c.centroid)
    assert mould.count(0) == 1  # one customer (13812345678) sent both
    assert all("13912345678" not in m.text for c in clusters.clusters.values() for m in c.members)


async def test_normal_traffic_raises_no_alert(
    client: aioredis.Redis, unique: str, analyzer: Analyzer
) -> None:
    pipeline, _, sink = build(client, unique, analyzer, CollectorRegistry())
    texts = [
        "东西很好，物流很快，好评",
        "快递有点慢",
        "客服态度不错",
        "价格有点贵",
        "APP偶尔卡顿",
        "请问怎么退货",
    ]
    await pipeline.process(
        "complaint", messages([complaint(i, texts[i % len(texts)]) for i in range(30)])
    )
    assert sink.records == []


async def test_redis_outage_is_retried_until_it_passes(unique: str, analyzer: Analyzer) -> None:
    port = embedded.free_port()
    client = redis_client(f"redis://127.0.0.1:{port}/0")
    registry = CollectorRegistry()
    pipeline, publisher, _ = build(client, unique, analyzer, registry)
    server = embedded.redis_server(port=port)
    task = asyncio.create_task(pipeline.process("complaint", messages([complaint(1, "慢")])))
    try:
        await asyncio.sleep(1.0)
        assert not task.done(), "the batch must wait for Redis, not give up"
        await asyncio.to_thread(server.start)
        outcome = await asyncio.wait_for(task, timeout=20)
    finally:
        server.stop()
        await client.aclose()
    assert (outcome.new, outcome.dead_lettered) == (1, 0)
    assert (registry.get_sample_value("vocwatch_redis_errors_total") or 0) >= 1
    assert len(publisher.sent["vocwatch.scored"]) == 1


async def test_an_unexpected_error_dead_letters_the_batch(
    client: aioredis.Redis, unique: str, analyzer: Analyzer
) -> None:
    pipeline, publisher, _ = build(client, unique, analyzer, CollectorRegistry())

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    pipeline.engine.on_batch = broken  # type: ignore[method-assign]
    outcome = await pipeline.process(
        "complaint", messages([complaint(1, "慢"), complaint(2, "差")])
    )
    assert outcome.dead_lettered == 2
    reasons = [d["reason"] for _, d in publisher.sent["vocwatch.deadletter"]]
    assert reasons == ["processing_error", "processing_error"]
    # Scored records go out before counting starts (their delivery overlaps it).
    assert [key for key, _ in publisher.sent["vocwatch.scored"]] == [b"c1", b"c2"]


class FlakyPublisher(MemoryPublisher):
    """Refuses the first send, then fails the first delivery, then works."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[None]:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("broker gone")
        if self.calls == 2:
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(TimeoutError("no ack"))
            return failed
        return await super().send(topic, key, value)


async def test_records_kafka_refuses_are_resent_before_the_batch_returns(
    client: aioredis.Redis, unique: str, analyzer: Analyzer
) -> None:
    registry = CollectorRegistry()
    pipeline, _, _ = build(client, unique, analyzer, registry)
    flaky = FlakyPublisher()
    pipeline.publisher = flaky
    outcome = await pipeline.process("complaint", messages([complaint(1, "慢"), b"bad"]))
    assert (outcome.valid, outcome.dead_lettered) == (1, 1)
    assert [k for k, _ in flaky.sent["vocwatch.scored"]] == [b"c1"]
    assert len(flaky.sent["vocwatch.deadletter"]) == 1
    errors = sum(
        registry.get_sample_value("vocwatch_publish_errors_total", {"topic": t}) or 0
        for t in ("vocwatch.scored", "vocwatch.deadletter")
    )
    assert errors == 2


async def test_polarity_uses_the_cutoffs_of_the_event_channel(
    client: aioredis.Redis, unique: str
) -> None:
    from classifiers.polarity import Cutoffs, PolarityPolicy

    # 60 % negative: negative by default, neutral where negative needs 70 %.
    policy = PolarityPolicy(Cutoffs(0.5, 0.5), {"store": Cutoffs(0.7, 0.5)})
    analyzer = Analyzer(fixed_models(0.6, 0.3, 0.1), polarity=policy)
    pipeline, publisher, _ = build(client, unique, analyzer, CollectorRegistry())
    await pipeline.process(
        "complaint", messages([complaint(1, "快递没到", "app"), complaint(2, "快递没到", "store")])
    )
    scored = {
        record["channel"]: record["sentiment"] for _, record in publisher.sent["vocwatch.scored"]
    }
    model = "sentiment-fixed+categories-fixed"
    assert scored == {
        "app": {"score": 0.25, "polarity": "negative", "model": model},
        "store": {"score": 0.25, "polarity": "neutral", "model": model},
    }


async def test_calls_social_posts_products_and_regions_feed_their_metrics(
    client: aioredis.Redis, unique: str, analyzer: Analyzer
) -> None:
    registry = CollectorRegistry()
    pipeline, _, _ = build(client, unique, analyzer, registry)
    pipeline.settings = Settings(
        app_id=unique, metric_products=("智能手表X2",), metric_regions=("上海",)
    )
    call = {
        "id": "k1",
        "customer_id": "u",
        "agent_id": "a",
        "started_at": NOW - 60,
        "wait_seconds": 420,
        "talk_seconds": 60,
        "resolved_first_contact": False,
        "transfers": 2,
        "satisfaction": 2,
        "text": "客户来电投诉快递丢件，非常不满",
        "product": "智能手表X2",
        "region": "上海",
    }
    post = {
        "id": "p1",
        "platform": "weibo",
        "author": "a",
        "followers": 1000,
        "likes": 10,
        "reposts": 5,
        "comments": 20,
        "text": "这家快递太差了，一周都没到，差评！",
        "posted_at": NOW - 60,
        "product": "扫地机器人",
        "region": "火星",
    }
    await pipeline.process(
        "call",
        [RawMessage(json.dumps(call, ensure_ascii=False).encode(), "vocwatch.calls", 0, 0, NOW)],
    )
    await pipeline.process(
        "social",
        [RawMessage(json.dumps(post, ensure_ascii=False).encode(), "vocwatch.social", 0, 0, NOW)],
    )
    value = registry.get_sample_value
    assert value("vocwatch_call_wait_seconds_count") == 1
    assert value("vocwatch_call_wait_seconds_bucket", {"le": "300.0"}) == 0
    assert value("vocwatch_call_wait_seconds_bucket", {"le": "600.0"}) == 1
    assert value("vocwatch_call_first_contact_total", {"resolved": "false"}) == 1
    assert value("vocwatch_call_satisfaction_sum") == 2
    assert value("vocwatch_social_posts_total", {"platform": "weibo", "polarity": "negative"}) == 1
    assert (
        value("vocwatch_social_negative_reach_total", {"platform": "weibo"})
        == 1000 + 10 * 5 + 2 * 20 + 10
    )
    assert (
        value("vocwatch_events_by_product_total", {"source": "call", "product": "智能手表X2"}) == 1
    )
    assert value("vocwatch_events_by_product_total", {"source": "social", "product": "other"}) == 1
    assert value("vocwatch_events_by_region_total", {"source": "social", "region": "other"}) == 1
    assert pipeline.next_offsets == {("vocwatch.calls", 0): 1, ("vocwatch.social", 0): 1}
