"""End to end: kafka-python produces to a real broker (Tansu), the real ``vocwatch worker``
process consumes, scores, counts in real Redis (valkey), and alerts; we read what comes out."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from alerts.rules import window_key
from alerts.windows import RedisWindowStore
from classifiers.analyze import Models
from tests.support import HttpReceiver, eventually, read_topic, values
from tests.workers import LiveWorker, WorkerFactory

pytestmark = pytest.mark.integration

RULES = """
rules:
  - name: burst
    key: [channel, category]
    window: 30s
    measure: negative_count
    threshold: 20
    min_count: 20
    priority: P2
  - name: region_volume
    description: never fires; keeps a window per region for the tests to read
    key: [region]
    window: 5m
    measure: count
    threshold: 1000000
    priority: P3
teams:
  客服主管: {sinks: [hook]}
  技术支持: {sinks: [hook]}
routes:
  - match: {category: [technical]}
    team: 技术支持
  - team: 客服主管
sinks:
  hook: {type: webhook, url_env: VOCWATCH_SINK_HOOK_URL}
"""
PHONE = re.compile(r"1[3-9]\d{9}")


@pytest.fixture(scope="module")
def hook() -> Iterator[HttpReceiver]:
    """The webhook the rules route every alert to."""
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def worker(hook: HttpReceiver, module_worker_factory: WorkerFactory) -> LiveWorker:
    return module_worker_factory(
        RULES,
        name="e2e",
        VOCWATCH_API_TOKEN="e2e-token",
        VOCWATCH_SINK_HOOK_URL=hook.url + "/hook",
    )


def scored_ids(worker: LiveWorker, ids: set[str], timeout: float = 45) -> list[dict[str, Any]]:
    records = read_topic(
        worker.settings.bootstrap_servers,
        worker.settings.scored_topic,
        until=lambda rs: ids <= {json.loads(r.value)["id"] for r in rs},
        timeout=timeout,
    )
    return [r for r in values(records) if r["id"] in ids]


def complaint(event_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "customer_id": "u1",
        "channel": "web",
        "text": text,
        "created_at": time.time(),
        **extra,
    }


def test_valid_events_are_scored_masked_and_published(worker: LiveWorker) -> None:
    tag = uuid.uuid4().hex[:6]
    now = time.time()
    events = {
        "complaint": complaint(
            f"c-{tag}", "退款一周还没到账，联系电话13812345678，邮箱a.b@example.com"
        ),
        "call": {
            "id": f"call-{tag}",
            "customer_id": "u2",
            "agent_id": "a7",
            "started_at": int(now * 1000),
            "wait_seconds": 420,
            "talk_seconds": 300,
            "resolved_first_contact": False,
            "transfers": 3,
            "satisfaction": 1,
            "text": "客户反映APP闪退，重复扣费，要求退款",
        },
        "social": {
            "id": f"post-{tag}",
            "platform": "weibo",
            "author": "小王",
            "followers": 250000,
            "likes": 30,
            "reposts": 12,
            "comments": 40,
            "text": "这家快递太慢了，一周都没到，差评！😡",
            "posted_at": "2026-11-22T10:00:00+08:00",
        },
    }
    for source, event in events.items():
        worker.send(source, event)
    worker.flush()

    scored = {r["source"]: r for r in scored_ids(worker, {e["id"] for e in events.values()})}
    assert set(scored) == {"complaint", "call", "social"}
    for record in scored.values():
        assert 0.0 <= record["sentiment"]["score"] <= 1.0
        assert record["priority"] in {"P1", "P2", "P3"} and record["reasons"]
        assert record["categories"][0]["code"] == record["category"]
    assert "[PHONE]" in scored["complaint"]["text"] and "[EMAIL]" in scored["complaint"]["text"]
    assert not PHONE.search(json.dumps(scored, ensure_ascii=False))
    # APP闪退 is technical, 要求退款 after-sales: both are named (the order is the model's)
    assert {c["code"] for c in scored["call"]["categories"]} >= {"technical", "after_sales"}
    assert any(r.startswith("call:") for r in scored["call"]["reasons"])
    assert any(r.startswith("reach:") for r in scored["social"]["reasons"])
    assert scored["social"]["channel"] == "social"


def test_bad_input_is_dead_lettered_with_reason_and_origin(worker: LiveWorker) -> None:
    bad = [
        ("complaint", b"\xff\xfe not utf-8", "not_utf8"),
        ("complaint", b"{broken json", "not_json"),
        ("call", b'"just a string"', "not_object"),
        (
            "social",
            json.dumps(
                {
                    "id": "p1",
                    "platform": "tiktok",
                    "author": "a",
                    "text": "x",
                    "posted_at": 1700000000,
                }
            ).encode(),
            "unknown_enum",
        ),
        (
            "complaint",
            json.dumps(complaint("c-time", "慢", created_at="2026-11-22 10:00")).encode(),
            "invalid_time",
        ),
        ("complaint", json.dumps(complaint("c-long", "长" * 6000)).encode(), "too_long"),
    ]
    origins = {}
    for source, value, reason in bad:
        meta = worker.send(source, value).get(timeout=10)
        origins[(meta.topic, meta.partition, meta.offset)] = reason

    def arrived(records: list[Any]) -> bool:
        seen = {
            (d["origin"]["topic"], d["origin"]["partition"], d["origin"]["offset"])
            for d in values(records)
        }
        return set(origins) <= seen

    records = values(
        read_topic(
            worker.settings.bootstrap_servers,
            worker.settings.deadletter_topic,
            until=arrived,
            timeout=45,
        )
    )
    got = {
        (d["origin"]["topic"], d["origin"]["partition"], d["origin"]["offset"]): d for d in records
    }
    for origin, reason in origins.items():
        assert got[origin]["reason"] == reason, got[origin]
        assert got[origin]["detail"]
    assert worker.metric("vocwatch_events_dead_lettered_total") >= len(bad)


def test_windows_count_unique_events_and_replays_change_nothing(worker: LiveWorker) -> None:
    region = f"测试区{uuid.uuid4().hex[:6]}"
    events = [complaint(f"w-{region}-{i}", "物流有点慢", region=region) for i in range(15)]
    for event in events + events[:5]:  # five duplicates in the first pass
        worker.send("complaint", event)
    worker.flush()
    scored_ids(worker, {e["id"] for e in events})

    def window_count() -> int:
        async def read() -> int:
            client = aioredis.Redis.from_url(worker.settings.redis_url)
            try:
                store = RedisWindowStore(
                    client,
                    prefix=worker.settings.app_id,
                    bucket_seconds=worker.settings.bucket_seconds,
                    spans=[300],
                )
                key = window_key({"region": region})
                return (await store.read([key], time.time()))[key].totals[300].count
            finally:
                await client.aclose()

        return asyncio.run(read())

    eventually(lambda: window_count() == 15, what="15 unique events in the window")
    duplicates_before = worker.metric("vocwatch_events_duplicate_total", source="complaint")
    for event in events:  # a full replay
        worker.send("complaint", event)
    worker.flush()
    eventually(
        lambda: (
            worker.metric("vocwatch_events_duplicate_total", source="complaint")
            >= duplicates_before + 15
        ),
        what="the replay is seen as duplicates",
    )
    assert window_count() == 15


def test_a_burst_raises_one_alert_and_normal_traffic_none(
    worker: LiveWorker, hook: HttpReceiver
) -> None:
    tag = uuid.uuid4().hex[:6]
    normal = [
        "东西很好，物流很快，好评",
        "快递有点慢",
        "客服态度不错",
        "请问怎么退货",
        "价格有点贵",
        "APP偶尔卡顿",
    ]
    normal_events = [
        complaint(f"n-{tag}-{i}", normal[i % len(normal)], channel="store") for i in range(30)
    ]
    for event in normal_events:
        worker.send("complaint", event)
    worker.flush()
    scored_ids(worker, {e["id"] for e in normal_events})
    time.sleep(2)  # two evaluation ticks
    assert [a for a in worker.alerts() if a["key"].get("channel") == "store"] == []

    text = "快递丢件了，包裹一直没收到，物流太慢了，电话1391234{:04d}"
    burst = [complaint(f"b-{tag}-{i}", text.format(i), channel="email") for i in range(30)]
    for event in burst:
        worker.send("complaint", event)
    worker.flush()
    key = {"channel": "email", "category": "logistics"}
    eventually(
        lambda: any(a["key"] == key for a in worker.alerts()),
        timeout=45,
        what="an alert for the burst",
    )

    alerts = [a for a in worker.alerts() if a["key"] == key]
    assert len({a["id"] for a in alerts}) == 1, "one incident, one alert"
    alert = alerts[-1]
    for field in (
        "id",
        "rule",
        "priority",
        "status",
        "key",
        "window",
        "count",
        "threshold",
        "samples",
        "first_seen",
        "last_seen",
    ):
        assert field in alert, field
    assert alert["rule"] == "burst" and alert["priority"] == "P2"
    assert alert["status"] == "firing" and alert["count"] >= 20
    assert alert["window"]["start"] < alert["window"]["end"]
    assert 1 <= len(alert["samples"]) <= 3
    assert not any(PHONE.search(s["text"]) for s in alert["samples"])

    published = values(
        read_topic(
            worker.settings.bootstrap_servers,
            worker.settings.alerts_topic,
            until=lambda rs: any(json.loads(r.value)["id"] == alert["id"] for r in rs),
        )
    )
    assert any(a["id"] == alert["id"] for a in published)
    assert worker.metric("vocwatch_alerts_total", rule="burst", status="firing") >= 1
    assert alert["route"] == {"team": "客服主管", "sinks": ["hook"]}
    assert alert["channels"] == ["email"] and alert["severity"] >= 1
    assert any(w in t["term"] for t in alert["terms"] for w in ("快递", "丢件", "包裹", "物流"))

    # The API lists it; a supervisor acknowledges it there.
    listed = [a for a in worker.api("GET", "/api/alerts")["alerts"] if a["id"] == alert["id"]]
    assert [a["status"] for a in listed] == ["firing"]
    acked = worker.api("POST", f"/api/alerts/{alert['id']}/ack", {"by": "张三"})
    assert acked["acknowledged"]["by"] == "张三"

    # The routed webhook hears the news; once the burst is over the alert resolves.
    eventually(
        lambda: any(a["status"] == "resolved" for a in worker.alerts() if a["id"] == alert["id"]),
        timeout=60,
        what="the alert resolves",
    )
    eventually(
        lambda: _hook_statuses(hook, alert["id"])[-1:] == ["resolved"],
        timeout=15,
        what="the webhook hears the resolution",
    )
    assert _hook_statuses(hook, alert["id"])[0] == "firing"
    assert len({a["id"] for a in worker.alerts() if a["key"] == key}) == 1
    resolved = worker.api("GET", "/api/alerts?status=resolved")["alerts"]
    assert [a["acknowledged"]["by"] for a in resolved if a["id"] == alert["id"]] == ["张三"]


def _hook_statuses(hook: HttpReceiver, alert_id: str) -> list[str]:
    return [
        a["status"]
        for path, body in hook.received
        if path == "/hook"
        for a in body["alerts"]
        if a["id"] == alert_id
    ]


def test_metrics_and_health_are_served(worker: LiveWorker) -> None:
    with urllib.request.urlopen(f"{worker.base_url}/health", timeout=5) as reply:  # noqa: S310
        health = json.load(reply)
    assert health["status"] == "ok" and health["redis"] is True
    assert health["models"] == Models.load().version  # the shipped pair, by default
    worker.send("complaint", complaint(f"m-{uuid.uuid4().hex[:6]}", "客服态度差"))
    worker.flush()
    eventually(
        lambda: worker.metric("vocwatch_events_valid_total", source="complaint") > 0,
        what="events counted in /metrics",
    )
    assert worker.metric("vocwatch_processing_latency_seconds_count") > 0
    eventually(
        lambda: worker.metric("vocwatch_alert_step_duration_seconds_count") > 0,
        what="the alert timer's steps timed",
    )
    eventually(  # woken four times a second
        lambda: worker.metric("vocwatch_event_loop_lag_seconds_count") >= 4,
        what="the event loop's lag measured",
    )
    complaints = worker.settings.complaints_topic
    eventually(
        lambda: (
            bool(worker.samples("vocwatch_consumer_lag_messages", topic=complaints))
            and worker.metric("vocwatch_consumer_lag_messages", topic=complaints) == 0
        ),
        what="consumer lag measured and caught up",
    )
    # the burst rule keys windows by channel × category: their gauges are set per batch
    assert worker.metric("vocwatch_window_events", channel="web", window="300s") > 0


def test_worker_refuses_an_invalid_rules_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: x\n    key: [channel]\n    window: 5 minutes\n"
        "    measure: count\n    threshold: 3\n    priority: P2\n"
    )
    env = {**os.environ, "VOCWATCH_RULES_FILE": str(rules)}
    result = subprocess.run(
        [sys.executable, "-m", "vocwatch.cli", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "rule 'x'" in result.stderr and "window" in result.stderr


def test_no_personal_data_leaves_the_process(worker: LiveWorker) -> None:
    """Runs last in this module: everything the worker wrote after events seeded with phone
    numbers, e-mails, an ID number and a bank card holds none of them."""
    seeded = {
        "13700001111": "phone",
        "user.pii@example.org": "e-mail",
        "11010519491231002X": "ID number",
        "6222021234567890128": "bank card",
    }
    text = (
        "退款没到账，手机13700001111，邮箱user.pii@example.org，身份证11010519491231002X，"
        "卡号6222021234567890128"
    )
    tag = uuid.uuid4().hex[:6]
    worker.send("complaint", complaint(f"pii-{tag}", text, product="手机13700001111"))
    worker.send("complaint", text.encode())  # a dead letter too
    worker.flush()
    scored_ids(worker, {f"pii-{tag}"})
    time.sleep(1.5)

    outputs = {
        "scored topic": read_topic(
            worker.settings.bootstrap_servers,
            worker.settings.scored_topic,
            until=lambda _: False,
            timeout=3,
        ),
        "dead-letter topic": read_topic(
            worker.settings.bootstrap_servers,
            worker.settings.deadletter_topic,
            until=lambda _: False,
            timeout=3,
        ),
        "alerts topic": read_topic(
            worker.settings.bootstrap_servers,
            worker.settings.alerts_topic,
            until=lambda _: False,
            timeout=3,
        ),
    }
    texts = {
        name: "\n".join(r.value.decode() for r in records) for name, records in outputs.items()
    }
    texts["alerts file"] = worker.alerts_out.read_text() if worker.alerts_out.exists() else ""
    texts["worker log"] = worker.log.read_text(errors="replace")
    texts["metrics"] = worker.metrics_text()
    assert "[PHONE]" in texts["scored topic"] and "[EMAIL]" in texts["scored topic"]
    leaks = [
        f"{kind} in the {where}"
        for where, content in texts.items()
        for value, kind in seeded.items()
        if value in content
    ]
    assert leaks == []
