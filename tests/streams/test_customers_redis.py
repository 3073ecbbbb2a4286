"""The customer stage through Pipeline.process, with real Redis and the real analyzer: a
customer's contacts across sources and batches raise one customer_risk alert, a detractor
survey one follow-up, replays change nothing, a person's acknowledgement closes the loop,
and the KPI sums count what they should."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerts.config import load_alerting
from alerts.customer_alerts import CustomerPolicy
from alerts.customer_history import RedisCustomerHistory
from alerts.engine import AlertEngine
from alerts.kpis import RedisKpis
from alerts.phrases import PhraseMatcher
from alerts.store import RedisAlertStore
from alerts.windows import RedisWindowStore
from classifiers.analyze import Analyzer
from classifiers.priority import PriorityPolicy
from streams.customers import CustomerStage
from streams.pipeline import Pipeline
from streams.records import RawMessage
from tests.streams.test_console import (
    CONTACT_FIELDS,
    CUSTOMER_FIELDS,
    KPI_FIELDS,
    RESPONSE_FIELDS,
    SIGNAL_FIELDS,
)
from tests.streams.test_pipeline_redis import MemoryPublisher
from tests.support import ListSink, metric_value
from vocwatch.errors import ActionRefused
from vocwatch.metrics import Metrics
from vocwatch.settings import DEFAULT_RULES_FILE, Settings
from vocwatch.vocabulary import AlertKind, AlertStatus, Kpi

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0
HOUR = 3600.0
ALERTING = load_alerting(DEFAULT_RULES_FILE)
_POLICY = ALERTING.customers
assert _POLICY is not None
POLICY: CustomerPolicy = _POLICY
RULES = ALERTING.rules


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class World:
    """A pipeline with the packaged rules and customer policy over one Redis prefix."""

    def __init__(self, client: aioredis.Redis, prefix: str, analyzer: Analyzer) -> None:
        settings = Settings(app_id=prefix, retry_max_seconds=0.2)
        self.registry = CollectorRegistry()
        self.metrics = Metrics.create(self.registry)
        self.clock = Clock()
        windows = RedisWindowStore(
            client, prefix=prefix, bucket_seconds=10, spans=[r.window_seconds for r in RULES]
        )
        self.sink = ListSink()
        self.engine = AlertEngine(
            RULES,
            windows,
            RedisAlertStore(client, prefix=prefix),
            [self.sink],
            self.metrics,
            update_seconds=30,
            router=ALERTING.router,
        )
        self.history = RedisCustomerHistory(
            client, prefix=prefix, history_seconds=POLICY.history_seconds, max_contacts=50
        )
        self.kpis = RedisKpis(client, prefix=prefix)
        self.stage = CustomerStage(
            policy=POLICY,
            history=self.history,
            engine=self.engine,
            phrases=PhraseMatcher.load(
                settings.customer_phrases_file,
                escalation=PriorityPolicy.load(settings.priority_file).escalation_terms,
            ),
            metrics=self.metrics,
            kpis=self.kpis,
            products=("流量套餐",),
            update_seconds=30,
        )
        self.engine.followers = {
            AlertKind.CUSTOMER_RISK: self.stage,
            AlertKind.DETRACTOR: self.stage,
        }
        self.pipeline = Pipeline(
            settings=settings,
            analyzer=analyzer,
            rules=RULES,
            windows=windows,
            engine=self.engine,
            publisher=MemoryPublisher(),
            metrics=self.metrics,
            clock=self.clock,
            customers=self.stage,
        )
        self.offset = 0

    async def send(self, source: str, *events: dict[str, Any]) -> None:
        messages = []
        for event in events:
            value = json.dumps(event, ensure_ascii=False).encode()
            messages.append(RawMessage(value, f"vocwatch.{source}", 0, self.offset))
            self.offset += 1
        await self.pipeline.process(source, messages)

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.sink.records if r["kind"] == kind]


def complaint(n: int, customer: str, text: str, age: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "customer_id": customer,
        "channel": "app",
        "text": text,
        "created_at": NOW - age,
        **extra,
    }


def call(
    n: int, customer: str, text: str, age: float, *, resolved: bool, wait: float = 30
) -> dict[str, Any]:
    return {
        "id": f"k{n}",
        "customer_id": customer,
        "agent_id": "a7",
        "text": text,
        "started_at": NOW - age,
        "wait_seconds": wait,
        "talk_seconds": 300,
        "resolved_first_contact": resolved,
    }


def survey(
    n: int, customer: str, kind: str, score: int, age: float, **extra: Any
) -> dict[str, Any]:
    return {
        "id": f"s{n}",
        "customer_id": customer,
        "kind": kind,
        "score": score,
        "created_at": NOW - age,
        **extra,
    }


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture
async def world(redis_url: str, unique: str, analyzer: Analyzer) -> AsyncIterator[World]:
    client = aioredis.Redis.from_url(redis_url)
    yield World(client, unique, analyzer)
    await client.aclose()


async def at_risk(world: World, customer: str = "13812345678") -> None:
    """Three negative complaints in a day, an unresolved long-wait call threatening to close
    the account — over two batches and two topics, the first complaint two days late."""
    await world.send(
        "complaint",
        complaint(1, customer, "宽带又断网了，三天了都没人来修，太差劲了", 20 * HOUR),
        complaint(2, customer, "还是没修好，客服只会说在处理，敷衍", 15 * HOUR),
        complaint(3, customer, "第三次投诉了，到底什么时候能修好？回电13812345678", 9 * HOUR),
    )
    await world.send(
        "call",
        call(
            4,
            customer,
            "客户来电反映宽带多次报修未解决，排队很久，表示再不解决就销户",
            HOUR,
            resolved=False,
            wait=600,
        ),
    )


async def test_a_customer_at_risk_raises_one_alert_with_reasons_and_masked_samples(
    world: World,
) -> None:
    await at_risk(world)
    [new] = world.records("customer_risk")  # the second batch's update waits its interval
    assert new["status"] == "firing" and new["notification"] == "new"
    [alert] = await world.engine.store.all_active()
    record = alert.to_record()
    assert record["id"] == new["id"]
    customer = record["customer_id"]
    assert customer.startswith("[PHONE]~") and record["key"] == {"customer_id": customer}
    assert record["score"] >= 60
    assert any(r.startswith("churn_threat: 销户") for r in record["reasons"])
    assert any(r.startswith("unresolved_call") for r in record["reasons"])
    assert "13812345678" not in json.dumps(record, ensure_ascii=False)
    assert [s["id"] for s in record["samples"]] == ["k4", "c3", "c2"]  # newest first
    assert "回电[PHONE]" in record["samples"][1]["text"]
    assert [c["source"] for c in record["contacts"]] == [
        "call",
        "complaint",
        "complaint",
        "complaint",
    ]
    assert record["route"]["team"] == "客户挽留"


async def test_an_unresolved_threat_and_a_detractor_saying_the_same(world: World) -> None:
    await world.send(
        "call",
        call(
            1,
            "u2",
            "客户来电：手机信号太差，多次反映没有改善，客户说要携号转网",
            2 * HOUR,
            resolved=False,
        ),
    )
    await world.send(
        "survey", survey(2, "u2", "nps", 2, HOUR, comment="信号差，客服也解决不了，准备携号转网了")
    )
    [opened] = world.records("customer_risk")
    active = {a.kind: a.to_record() for a in await world.engine.store.all_active()}
    risk = active[AlertKind.CUSTOMER_RISK]
    assert risk["id"] == opened["id"] and risk["customer_id"] == "u2"
    assert {r.split(":")[0] for r in risk["reasons"]} >= {
        "churn_threat",
        "detractor",
        "unresolved_call",
    }
    [follow_up] = world.records("detractor")
    assert follow_up["customer_id"] == "u2"


async def test_replaying_every_event_changes_nothing(world: World) -> None:
    await at_risk(world)
    await world.send("survey", survey(9, "u3", "nps", 1, HOUR, comment="不会再推荐了"))
    await world.engine.tick(NOW + 60)  # what waited for its update interval goes out
    before = list(world.sink.records)
    assert [r["notification"] for r in before] == ["new", "new", "update"]
    kpis = await world.kpis.read(NOW)
    history = await world.history.read(before[0]["customer_id"], NOW)
    world.clock.now = NOW + 61
    world.offset = 0
    await at_risk(world)
    await world.send("survey", survey(9, "u3", "nps", 1, HOUR, comment="不会再推荐了"))
    assert world.sink.records == before
    assert await world.kpis.read(NOW) == kpis
    assert (await world.history.read(before[0]["customer_id"], NOW)).contacts == history.contacts
    assert metric_value(_text(world), "vocwatch_customer_contacts_total", outcome="duplicate") == 5


async def test_an_nps_1_with_a_comment_opens_one_follow_up_closed_with_a_note(
    world: World,
) -> None:
    await world.send("survey", survey(1, "u4", "nps", 1, HOUR, comment="物流太慢，包装也破了"))
    await world.send("survey", survey(2, "u4", "csat", 2, HOUR / 2))
    [opened] = world.records("detractor")
    assert opened["due_at"] and opened["overdue"] is False
    alert_id = opened["id"]
    with pytest.raises(ActionRefused) as refused:
        await world.engine.acknowledge(alert_id, "李四", "", NOW + 60)
    assert refused.value.field == "note"
    done = await world.engine.acknowledge(alert_id, "李四", "已致电致歉并补发", NOW + 60)
    assert done is not None and done.status == AlertStatus.RESOLVED
    assert world.records("detractor")[-1]["status"] == "resolved"
    # the same responses, seen again, open nothing: they were handled
    world.clock.now = NOW + 120
    await world.send("survey", survey(3, "u4", "ces", 3, 10.0))
    assert [r["status"] for r in world.records("detractor")] == ["firing", "resolved"]
    assert await world.engine.store.all_active() == []


async def test_a_follow_up_past_its_due_time_escalates_on_the_timer(world: World) -> None:
    await world.send("survey", survey(1, "u5", "nps", 0, HOUR))
    await world.engine.tick(NOW + 48 * HOUR)
    [_, escalated] = world.records("detractor")
    assert escalated["notification"] == "escalation" and escalated["priority"] == "P2"
    assert escalated["overdue"] is True


async def test_acknowledging_a_customer_at_risk_resolves_it_for_good(world: World) -> None:
    await at_risk(world, "u6")
    [opened] = world.records("customer_risk")
    await world.engine.acknowledge(opened["id"], "王五", "已回访，免一个月费用", NOW + 60)
    assert world.records("customer_risk")[-1]["status"] == "resolved"
    world.clock.now = NOW + 120
    await world.send("complaint", complaint(10, "u6", "网速还是有点慢", 60.0))
    assert len(world.records("customer_risk")) == 2  # the old contacts raise nothing new


async def test_ordinary_customers_raise_nothing(world: World) -> None:
    for n in range(20):
        customer = f"o{n}"
        await world.send(
            "complaint", complaint(n, customer, "快递三天了还没到，麻烦查一下", 5 * HOUR)
        )
        await world.send(
            "call",
            call(
                n, customer, "客户来电询问物流进度，已查询并告知明天送达", 2 * HOUR, resolved=True
            ),
        )
    assert world.records("customer_risk") == []


async def test_kpi_sums_per_scope(world: World) -> None:
    await world.send(
        "call",
        call(1, "k1", "客户来电咨询套餐，已解答", HOUR, resolved=True, wait=30)
        | {"product": "流量套餐", "region": "成都"},
        call(2, "k1", "客户来电，问题未解决", HOUR / 2, resolved=False, wait=90),
    )
    await world.send("survey", survey(3, "k2", "nps", 10, HOUR), survey(4, "k3", "nps", 2, HOUR))
    sums = await world.kpis.read(NOW)
    assert sums["all"].value(Kpi.FIRST_CONTACT_RESOLUTION) == 0.5
    assert sums["all"].value(Kpi.MEAN_WAIT_SECONDS) == 60.0
    assert sums["all"].value(Kpi.NPS) == 0.0
    assert sums["all"].value(Kpi.REPEAT_CONTACT_RATE) == 0.25  # k1's second call
    assert sums["product=流量套餐"].calls == 1 and sums["region=other"].calls == 1


def _text(world: World) -> str:
    from prometheus_client import generate_latest

    return generate_latest(world.registry).decode()


async def test_the_api_lists_customer_alerts_by_kind_closes_them_with_a_note_and_shows_kpis(
    world: World,
) -> None:
    from aiohttp import ClientSession, web
    from aiohttp.test_utils import TestServer

    from alerts.kpis import board
    from streams.api import AlertApi

    await at_risk(world, "u7")
    await world.send("survey", survey(1, "u8", "nps", 1, HOUR, comment="太失望了"))

    async def kpis() -> list[dict[str, Any]]:
        return board(await world.kpis.read(NOW), ALERTING.kpis)

    app = web.Application()
    AlertApi(world.engine, clock=lambda: NOW + 60, kpis=kpis).install(app.router)
    async with TestServer(app, host="127.0.0.1") as server, ClientSession() as http:

        async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            async with http.request(method, str(server.make_url(path)), json=body) as reply:
                return reply.status, await reply.json()

        status, body = await call("GET", "/api/alerts?kind=customer_risk")
        assert status == 200 and [a["customer_id"] for a in body["alerts"]] == ["u7"]
        [risk] = body["alerts"]
        status, body = await call("GET", "/api/alerts?kind=detractor")
        [follow_up] = body["alerts"]
        # what the console's 客户风险 tab reads is there
        assert set(risk) >= CUSTOMER_FIELDS - {"due_at", "overdue", "responses"}
        assert set(follow_up) >= CUSTOMER_FIELDS - {"score", "threshold", "signals", "contacts"}
        assert set(risk["signals"][0]) >= SIGNAL_FIELDS
        assert set(risk["contacts"][0]) >= CONTACT_FIELDS
        assert set(follow_up["responses"][0]) >= RESPONSE_FIELDS
        assert (await call("GET", "/api/alerts?kind=customers"))[0] == 400
        assert (await call("GET", "/api/alerts?kind=detractor,customers"))[0] == 400
        status, body = await call("GET", "/api/alerts?kind=detractor,customer_risk")
        assert sorted(a["id"] for a in body["alerts"]) == sorted([risk["id"], follow_up["id"]])
        assert body["total"] == 2
        # the first by priority, newest first: the customer at risk (P1) before the
        # follow-up (P3)
        assert (risk["priority"], follow_up["priority"]) == ("P1", "P3")
        status, body = await call("GET", "/api/alerts?kind=detractor,customer_risk&limit=1")
        assert ([a["id"] for a in body["alerts"]], body["total"]) == ([risk["id"]], 2)
        for wrong in ("0", "-1", "x", "10001"):
            status, body = await call("GET", f"/api/alerts?limit={wrong}")
            assert (status, body["field"]) == (400, "limit")
        # what the console's alert list reads: no customer alert is read or sent
        status, body = await call("GET", "/api/alerts?status=all&kind=window,emerging_topic")
        assert (status, body["alerts"]) == (200, [])
        status, body = await call("GET", f"/api/alerts/{risk['id']}")
        assert status == 200 and body == risk
        status, body = await call("POST", f"/api/alerts/{follow_up['id']}/ack", {"by": "李四"})
        assert (status, body["field"]) == (400, "note")
        status, body = await call(
            "POST", f"/api/alerts/{follow_up['id']}/ack", {"by": "李四", "note": "已回电致歉"}
        )
        assert status == 200 and body["status"] == "resolved"
        assert body["acknowledged"]["note"] == "已回电致歉"
        status, resolved = await call("GET", f"/api/alerts/{follow_up['id']}")  # from history
        assert status == 200 and resolved["status"] == "resolved"
        status, body = await call("GET", "/api/alerts?status=resolved&kind=window")
        assert (status, body["alerts"]) == (200, [])
        status, body = await call("GET", "/api/alerts?status=resolved&kind=detractor")
        assert [a["id"] for a in body["alerts"]] == [follow_up["id"]]
        status, body = await call("GET", "/api/kpis")
        rows = {(r["scope"], r["kpi"]): r for r in body["kpis"]}
        assert all(set(r) >= KPI_FIELDS for r in body["kpis"])
        assert body["period_hours"] == 24
        assert rows[("all", "first_contact_resolution")]["value"] == 0.0
        assert rows[("all", "first_contact_resolution")]["status"] == "red"
        assert rows[("all", "nps")]["value"] == -100.0 and rows[("all", "csat")]["value"] is None


async def test_the_timer_stores_a_customer_alert_again_once_its_stored_risk_is_stale(
    world: World,
) -> None:
    # thousands of open customer alerts, each stored at every step, made the timer step the
    # worker's heaviest work: a step that changes nothing a reader acts on waits its turn
    await at_risk(world)
    fresh = world.engine.update_seconds
    await world.engine.tick(NOW + fresh + 1)  # what waited for its update interval goes out
    told = list(world.sink.records)

    async def stored() -> Any:
        [alert] = [
            a for a in await world.engine.store.all_active() if a.kind == AlertKind.CUSTOMER_RISK
        ]
        return alert

    before = await stored()
    await world.engine.tick(before.window_end + fresh / 2)
    assert await stored() == before
    later = before.window_end + fresh + 1
    await world.engine.tick(later)
    after = await stored()
    assert after.window_end == later and after.value <= before.value  # the risk decays
    assert (after.status, after.priority, after.id) == (before.status, before.priority, before.id)
    assert world.sink.records == told  # nobody was told anything
