"""docs/customers.md runs: its configuration block is the packaged file's, its example
records are what the code makes, its catalogues (signals, fields, KPIs, Redis keys) are
the code's, and its evaluation figures are what ``vocwatch eval-customers`` prints."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
import yaml

from alerts.config import load_alerting
from alerts.contacts import Contact
from alerts.customer_alerts import detractor_step, risk_step
from alerts.customer_history import RedisCustomerHistory
from alerts.kpis import RedisKpis
from alerts.lifecycle import Alert
from alerts.risk import PARAMETERS, assess
from tests.docs.test_docs import DOCS, blocks_with, fenced_blocks
from vocwatch.dev.embedded import ChildServer
from vocwatch.settings import DEFAULT_RULES_FILE
from vocwatch.vocabulary import Kpi, Polarity, Priority, RiskSignal, Source, SurveyKind

PAGE = DOCS / "customers.md"
TEXT = PAGE.read_text(encoding="utf-8")
ALERTING = load_alerting(DEFAULT_RULES_FILE)
NOW = 1_733_472_000.0  # 2024-12-06T08:00:00Z
HOUR = 3600.0


def block(info: str) -> str:
    [found] = blocks_with(PAGE, info)
    return found.body


def test_the_configuration_block_is_the_packaged_sections() -> None:
    packaged = yaml.safe_load(DEFAULT_RULES_FILE.read_text(encoding="utf-8"))
    shown = yaml.safe_load(block("yaml customers"))
    assert shown == {name: packaged[name] for name in ("customers", "kpis")}


def contact(n: str, age: float, source: str, channel: str, category: str, sentiment: float,
            priority: str, text: str, **fields: Any) -> Contact:  # fmt: skip
    return Contact(
        f"{source}:{n}",
        NOW - age,
        Source(source),
        channel,
        category,
        sentiment,
        Polarity.NEGATIVE,
        Priority(priority),
        text,
        **fields,
    )


def routed(alert: Alert | None) -> dict[str, Any]:
    assert alert is not None and ALERTING.router is not None
    route = ALERTING.router.route_for(alert.rule, alert.priority, {"customer_id": "x"})
    return dataclasses.replace(alert, route=route).to_record()


def test_the_customer_risk_example_is_what_the_code_makes() -> None:
    policy = ALERTING.customers
    assert policy is not None
    contacts = [
        contact("c-1001", 22 * HOUR, "complaint", "app", "technical", 0.0119, "P2",
                "宽带又断网了,三天了都没人来修,太差劲了"),
        contact("c-1002", 15 * HOUR, "complaint", "app", "technical", 0.0157, "P2",
                "还是没修好,客服只会说在处理,敷衍"),
        contact("c-1003", 9 * HOUR, "complaint", "wechat", "service", 0.3362, "P2",
                "第三次投诉了,到底什么时候能修好?回电[PHONE]", escalation=("投诉",)),
        contact("call-2001", HOUR, "call", "call", "technical", 0.2477, "P1",
                "客户来电反映宽带故障多次报修未解决,排队等了十分钟,表示再不解决就销户",
                resolved=False, wait_seconds=620.0, transfers=1, churn=("销户",)),
    ]  # fmt: skip
    risk = assess(contacts, policy.risk, NOW)
    alert, _ = risk_step(None, "u10086", risk, NOW, policy, update_seconds=30)
    assert json.loads(block("json customer_risk")) == routed(alert)


def test_the_detractor_example_is_what_the_code_makes() -> None:
    policy = ALERTING.customers
    assert policy is not None
    response = contact("s-3001", 2 * HOUR, "survey", "", "logistics", 0.0022, "P2",
                       "物流太慢了,包装也破了,不会再推荐", survey=SurveyKind.NPS, score=1,
                       touchpoint="delivery")  # fmt: skip
    alert, _ = detractor_step(None, "u2048", [response], NOW, policy, update_seconds=30)
    assert json.loads(block("json detractor")) == routed(alert)


def _stored(record: dict[str, Any]) -> dict[str, Any]:
    """Enough of an alert's stored state to read it back (the window fields are unused)."""
    return {
        **{k: record[k] for k in ("id", "fingerprint", "rule", "description", "priority")},
        "status": record["status"],
        "key": "customer_id=x",
        "kind": record["kind"],
        "window_seconds": 0,
        "window_start": 0.0,
        "window_end": 0.0,
        "measure": "count",
        "value": 0.0,
        "threshold": None,
        "expected": None,
        "deviation": None,
        "severity": record["severity"],
        "min_count": 1,
        "counts": {},
        "first_seen": 0.0,
        "last_seen": 0.0,
        "updated_at": 0.0,
    }


def first_cells(heading: str) -> list[str]:
    """The first cell of every row of the first table under ``heading``."""
    section = TEXT.split(heading, 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \|", section.split("\n## ", 1)[0], re.MULTILINE)
    return rows


def test_every_signal_and_parameter_is_in_the_table() -> None:
    rows = first_cells("## Risk score")
    assert rows[: len(RiskSignal)] == [s.value for s in RiskSignal]
    table = TEXT.split("## Risk score", 1)[1].split("### Phrases", 1)[0]
    for signal, parameters in PARAMETERS.items():
        for name in parameters:
            assert f"`{name}" in table, (signal, name)


def test_every_record_field_and_kpi_is_documented() -> None:
    risk, follow_up = json.loads(block("json customer_risk")), json.loads(block("json detractor"))
    common = Alert.from_state({**_stored(risk), "details": {}}).to_record().keys()
    fields = first_cells("### The customer alert records")
    assert set(fields) == (set(risk) | set(follow_up)) - set(common)
    assert first_cells("## KPIs against targets")[: len(Kpi)] == [k.value for k in Kpi]


def test_the_redis_keys_are_the_code_s() -> None:
    redis: Any = object()
    history = RedisCustomerHistory(redis, prefix="<app_id>", history_seconds=1, max_contacts=1)
    key = history.redis_key("<customer>").replace("%3C", "<").replace("%3E", ">")
    assert f"`{key}`" in TEXT, key
    assert "`<app_id>:kpi:<hour>`" in TEXT and RedisKpis(redis, prefix="p")


def test_every_example_on_the_page_is_checked() -> None:
    checked = {"yaml customers", "json customer_risk", "json detractor", "text eval-customers"}
    unchecked = [b.where for b in fenced_blocks(TEXT) if b.info not in checked | {"text", "sh"}]
    assert not unchecked, unchecked


@pytest.mark.integration
def test_the_evaluation_figures_are_what_the_command_prints(
    redis_server: ChildServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.analysis import build_analyzer
    from vocwatch.evaluation.customer_risk import evaluate, report
    from vocwatch.evaluation.journeys import JourneyGenerator, load_cases
    from vocwatch.settings import Settings

    monkeypatch.setenv("VOCWATCH_REDIS_URL", f"redis://{redis_server.host}:{redis_server.port}/0")
    command = re.search(r"vocwatch eval-customers --journeys (\d+) --seed (\d+)", TEXT)
    assert command
    count, seed = int(command.group(1)), int(command.group(2))
    analyzer = build_analyzer(Settings())
    figures = evaluate(
        JourneyGenerator(seed).generate(count), load_cases(), seed=seed, analyzer=analyzer
    )
    assert "\n".join(report(figures)) == block("text eval-customers").strip()
    seeds = re.search(r"precision 1\.0 each, recall (\d\.\d+), (\d\.\d+), (\d\.\d+)", TEXT)
    assert seeds
    for other, recall in zip((1, 2, 3), seeds.groups(), strict=True):
        journeys = JourneyGenerator(other).generate(count)
        drawn = evaluate(journeys, [], seed=other, analyzer=analyzer)["generated"]
        assert (drawn["precision"], drawn["recall"]) == (1.0, float(recall)), other
