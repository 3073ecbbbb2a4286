"""Emerging topics with real Redis: the monitor's reports, step lock and known topics in
Redis, the alert engine's lifecycle, store and sinks — one alert per topic with readable
terms and masked samples, a stable id while it lasts, one alert too when two workers each
see part of it, and resolution when it is over."""

from __future__ import annotations

import csv
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from prometheus_client import CollectorRegistry

from alerts.emerging_clusters import TopicText
from alerts.emerging_monitor import EmergingConfig, EmergingMonitor
from alerts.emerging_store import RedisEmergingStore
from alerts.engine import AlertEngine
from alerts.explain import content_terms
from alerts.rules import parse_rules
from alerts.store import RedisAlertStore
from alerts.windows import RedisWindowStore
from classifiers.analyze import Analyzer
from tests.support import ListSink
from vocwatch.metrics import Metrics
from vocwatch.settings import Settings
from vocwatch.vocabulary import Notification

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0
PHONE = re.compile(r"1[3-9]\d{9}")
RULES = parse_rules(
    {
        "rules": [
            {
                "name": "never",
                "key": ["source"],
                "window": "1m",
                "measure": "count",
                "threshold": 1e9,
                "priority": "P3",
            }
        ]
    }
)
# A short window, so that a test hour is a few simulated minutes.
SETTINGS = Settings(
    emerging_window_seconds=60, emerging_baseline_seconds=600, evaluation_seconds=1.0
)


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture(scope="module")
def background(analyzer: Analyzer) -> list[TopicText]:
    """Customer-service texts of the project's labelled sets, analysed."""
    texts = []
    for path in sorted((ROOT / "data" / "labelled").glob("*.csv"))[:4]:
        with path.open(encoding="utf-8") as file:
            texts += [row["text"] for row in csv.DictReader(file) if row["text"]]
    return [topic_text(analyzer, t, f"bg{n}") for n, t in enumerate(texts[:400])]


@pytest.fixture(scope="module")
def incidents(analyzer: Analyzer) -> dict[str, list[TopicText]]:
    data = yaml.safe_load((ROOT / "data" / "emerging" / "incidents.yaml").read_text("utf-8"))
    chosen = {i["id"]: i["texts"] for i in data["incidents"]}
    return {
        name: [topic_text(analyzer, t, f"{name}-{n}") for n, t in enumerate(chosen[name][:16])]
        for name in ("bottle_cap_mould", "brand_scam_calls", "hotel_bedbugs")
    }


def topic_text(analyzer: Analyzer, text: str, event_id: str) -> TopicText:
    a = analyzer.analyze(text)
    return TopicText(
        event_id, f"author-{event_id}", 0.0, "complaint", "app", a.text, a.tokens,
        a.priority.level, a.negative, a.category,
    )  # fmt: skip


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


class Workers:
    """``count`` monitors (workers) sharing one Redis and one engine state, fed a
    simulated stream; every text goes to one of them, as Kafka partitions do."""

    def __init__(self, client: aioredis.Redis, prefix: str, count: int = 1) -> None:
        self.sink = ListSink()
        self.monitors = []
        for n in range(count):
            metrics = Metrics.create(CollectorRegistry())
            engine = AlertEngine(
                RULES,
                RedisWindowStore(client, prefix=prefix, bucket_seconds=10, spans=[60]),
                RedisAlertStore(client, prefix=prefix),
                [self.sink],
                metrics,
                update_seconds=5,
            )
            store = RedisEmergingStore(client, prefix=prefix, ttl_seconds=4)
            config = EmergingConfig.from_settings(SETTINGS)
            self.monitors.append(
                EmergingMonitor(config, store, metrics, engine=engine, worker=f"w{n}")
            )
        self.now = T0
        self.sent = 0

    async def run(self, seconds: float, texts: list[TopicText]) -> None:
        """Spread ``texts`` over the next ``seconds``; batches and steps every second."""
        start, per_second = self.now, len(texts) / seconds
        for second in range(int(seconds)):
            now = start + second + 1
            due = texts[int(second * per_second) : int((second + 1) * per_second)]
            for monitor in self.monitors:
                mine = [
                    t
                    for t in due
                    if hash(t.event_id) % len(self.monitors) == self.monitors.index(monitor)
                ]
                for text in mine:
                    monitor.activity.add_event(content_terms(text.tokens, text.text), now - 0.5)
                monitor.observe([self._at(t, now - 0.5) for t in mine])
            for monitor in self.monitors:
                await monitor.step(now)
            self.now = now

    def _at(self, text: TopicText, at: float) -> TopicText:
        self.sent += 1
        return text._replace(
            event_time=at,
            event_id=f"{text.event_id}.{self.sent}",
            author=f"{text.author}.{self.sent}",
        )

    def records(self, notification: str | None = None) -> list[dict[str, Any]]:
        return [
            r for r in self.sink.records
            if r["kind"] == "emerging_topic" and notification in (None, r["notification"])
        ]  # fmt: skip


def stream(background: list[TopicText], n: int, seed: int = 1) -> list[TopicText]:
    rng = random.Random(seed)
    return [rng.choice(background) for _ in range(n)]


def mixed(*parts: list[TopicText], seed: int = 2) -> list[TopicText]:
    texts = [t for part in parts for t in part]
    random.Random(seed).shuffle(texts)
    return texts


async def test_each_new_topic_raises_one_alert_with_readable_terms_and_masked_samples(
    client: aioredis.Redis,
    unique: str,
    background: list[TopicText],
    incidents: dict[str, list[TopicText]],
) -> None:
    workers = Workers(client, unique)
    await workers.run(150, stream(background, 450))
    assert workers.records() == []  # ordinary traffic: nothing new
    await workers.run(
        30,
        mixed(
            stream(background, 90, 3), incidents["bottle_cap_mould"], incidents["brand_scam_calls"]
        ),
    )
    await workers.run(20, stream(background, 60, 4))
    new = workers.records(Notification.NEW)
    assert len(new) == 2, [r["terms"] for r in new]
    by_words = {" ".join(t["term"] for t in r["terms"]): r for r in new}
    mould = next(r for words, r in by_words.items() if "瓶盖" in words or "发霉" in words)
    scam = next(r for words, r in by_words.items() if "冒充" in words or "客服" in words)
    for record in (mould, scam):
        assert record["rule"] == "emerging_topic" and record["status"] == "firing"
        assert record["key"] == {"topic": record["topic_id"]}
        assert record["count"] >= 10 and record["growth"] >= 4
        assert record["baseline"]["expected"] is not None
        assert len(record["samples"]) == 3
        assert len({s["text"] for s in record["samples"]}) == 3
        assert not any(PHONE.search(s["text"]) for s in record["samples"])
        assert not {"的", "了", "您好"} & {t["term"] for t in record["terms"]}
        assert record["categories"] and record["channels"] == ["app"]
        assert record["first_text_at"] <= record["last_text_at"]
    assert mould["topic_id"] != scam["topic_id"]
    # the same id while it lasts: every later record of a topic is of its alert
    for record in workers.records():
        assert record["id"] in {mould["id"], scam["id"]}


async def test_two_workers_each_seeing_part_of_a_topic_raise_one_alert(
    client: aioredis.Redis,
    unique: str,
    background: list[TopicText],
    incidents: dict[str, list[TopicText]],
) -> None:
    workers = Workers(client, unique, count=2)
    await workers.run(150, stream(background, 450))
    await workers.run(30, mixed(stream(background, 90, 3), incidents["bottle_cap_mould"]))
    await workers.run(10, stream(background, 30, 4))
    new = workers.records(Notification.NEW)
    assert len(new) == 1, [r["terms"] for r in new]
    assert new[0]["count"] >= 10  # both workers' texts counted


async def test_a_topic_that_is_over_resolves_and_its_id_is_forgotten_later(
    client: aioredis.Redis,
    unique: str,
    background: list[TopicText],
    incidents: dict[str, list[TopicText]],
) -> None:
    workers = Workers(client, unique)
    await workers.run(150, stream(background, 450))
    await workers.run(30, mixed(stream(background, 90, 3), incidents["hotel_bedbugs"]))
    (new,) = workers.records(Notification.NEW)
    await workers.run(90, stream(background, 270, 5))  # a window and a half of quiet
    resolved = workers.records(Notification.RESOLVED)
    assert [r["id"] for r in resolved] == [new["id"]]
    store = workers.monitors[0].store
    assert [t.id for t in await store.known()] == [new["topic_id"]]
    await workers.run(620, stream(background, 620, 6))  # the baseline span later
    assert await store.known() == []
    topics = await workers.monitors[0].topics()
    assert [t["id"] for t in topics["topics"]] == [new["id"]]  # history
    assert topics["topics"][0]["status"] == "resolved"
