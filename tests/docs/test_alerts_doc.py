"""docs/alerts.md runs: its examples are what the code produces, its catalogues are the code's.

- the ```json record example is ``Alert.to_record()`` of the alert built here, field for
  field; every vendor payload (```json wecom, dingtalk, feishu, alertmanager, webhook …) is
  what the sink adapters of the packaged configuration send for that record, with the
  documented ```sh sink-env variables and a fixed clock, through a recording HTTP session;
- the always-on sinks (alerts topic, log, file) and the Redis stream carry the record as
  documented; the ```console rules-check transcripts are what ``vocwatch rules check``
  prints; the curl examples and API answers are what the API answers;
- every rule field, measure, dimension, spike field, sink type and field, matcher, route
  field, notification kind, delivery outcome, vendor budget, queue limit, API endpoint,
  Redis key and alert-related environment variable the code defines is in the page.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import shlex
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
import yaml
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from alerts import payloads
from alerts.baseline import Baseline
from alerts.config import Alerting, alerting_from, load_alerting
from alerts.delivery import DEFAULT_LIMITS, QueueLimits
from alerts.engine import REFRESH
from alerts.evaluate import evaluate
from alerts.lifecycle import Ack, Alert, Member, Sample, Term, fingerprint
from alerts.routing import MATCH_FIELDS
from alerts.rules import (
    _FIELDS,
    DIMENSIONS,
    FALLING,
    MEASURES,
    Spike,
    WindowCounts,
    parse_rules,
    window_key,
)
from alerts.silences import MATCHERS, MAX_SILENCE_SECONDS, Silence, new_silence
from alerts.sinkconfig import (
    COMMON_FIELDS,
    ENV_FIELDS,
    STREAM_FIELDS,
    TYPES,
    make_notifier,
    parse_sinks,
)
from alerts.sinks import JsonLinesSink, LogSink, TopicSink
from alerts.store import ActiveAlerts, RedisAlertStore, Stored
from alerts.windows import RedisWindowStore
from streams.api import STATUSES, AlertApi
from tests.docs.test_docs import Block, blocks_with, fenced_blocks
from vocwatch.cli import main
from vocwatch.metrics import catalogue
from vocwatch.settings import DEFAULT_RULES_FILE, ENVIRONMENT, PREFIX, Settings
from vocwatch.vocabulary import CHAT_NOTIFICATIONS, AlertStatus, Notification, Priority

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "alerts.md"
TEXT = PAGE.read_text(encoding="utf-8")
ALERTING: Alerting = load_alerting(DEFAULT_RULES_FILE)
RULES = {rule.name: rule for rule in ALERTING.rules}


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# The example of the page: a correlated spike (category_spike) of logistics complaints and
# calls, acknowledged, then escalated when its severity doubled. Times are UTC.
FIRST_SEEN = at("2025-03-10T02:14:00+00:00")  # 10:14 Beijing time, a Monday
FIRED_AT = FIRST_SEEN + 60  # the rule's for: 1m
ACK_AT = at("2025-03-10T02:18:30+00:00")
NOW = at("2025-03-10T02:27:10+00:00")  # the escalation
SENT_AT = NOW + 1.0  # when the sink queues send it
RESOLVED_SENT_AT = at("2025-03-10T02:41:01+00:00")


def section(title: str) -> str:
    """The body of ``## title``, up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", TEXT, re.M | re.S)
    assert match, f"docs/alerts.md has no '## {title}' section"
    return match.group(1)


def one_block(info: str) -> Block:
    blocks = blocks_with(PAGE, info)
    assert len(blocks) == 1, f"docs/alerts.md needs exactly one ```{info} block"
    return blocks[0]


def block_json(info: str) -> Any:
    return json.loads(one_block(info).body)


def table_rows(text: str, header: str) -> list[list[str]]:
    """Rows (cells stripped) of the Markdown table whose header row starts with ``header``."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"| {header} |")), None)
    assert start is not None, f"no table with header {header!r}"
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def first_cells(text: str, header: str) -> dict[str, list[str]]:
    """Rows of a table by their first cell, without backticks."""
    return {row[0].strip("`"): row for row in table_rows(text, header)}


# --- the example alert --------------------------------------------------------------------


def example_members() -> tuple[Member, ...]:
    rule = RULES["category_spike"]
    members = []
    for source, counts, baseline in (
        ("complaint", WindowCounts(45, 38, 2), Baseline(9.5, 9.0, 900)),
        ("call", WindowCounts(22, 14, 0, calls=22, first_contact=9), Baseline(3.1, 2.25, 900)),
    ):
        ev = evaluate(rule, counts, now=NOW, baseline=baseline, warm=True)
        members.append(
            Member(
                window_key({"source": source, "category": "logistics"}),
                source,
                ev.value,
                ev.severity,
                ev.breached,
                ev.holds,
                counts,
                ev.expected,
                ev.deviation,
            )
        )
    return tuple(sorted(members, key=lambda m: -m.severity))


def example_alert() -> Alert:
    rule = RULES["category_spike"]
    key = rule.incident_key("source=complaint,category=logistics")
    members = example_members()
    worst = members[0]
    total = members[0].counts.plus(members[1].counts)
    fp = fingerprint(rule.name, key)
    channels = tuple(sorted(m.channel for m in members))
    windows = RedisWindowStore(
        _NoRedis(),
        prefix="vocwatch",
        bucket_seconds=Settings().bucket_seconds,
        spans=[rule.window_seconds],
    )
    assert ALERTING.router is not None
    return Alert(
        id=f"{fp}-{int(FIRST_SEEN)}",
        fingerprint=fp,
        rule=rule.name,
        description=rule.description,
        priority=rule.priority,
        status=AlertStatus.FIRING,
        key=key,
        window_seconds=rule.window_seconds,
        window_start=windows.window_start(rule.window_seconds, NOW),
        window_end=NOW,
        measure=rule.measure,
        value=worst.value,
        threshold=rule.threshold,
        expected=worst.expected,
        deviation=worst.deviation,
        severity=worst.severity,
        min_count=rule.min_count,
        counts=total,
        first_seen=FIRST_SEEN,
        last_seen=NOW,
        updated_at=NOW,
        members=members,
        channels=channels,
        samples=(
            Sample(
                "c-20250310-004518",
                "顺丰快递丢件了,包裹一直显示运输中,打客服[PHONE]也没人管,再不处理我就投诉到12315!",
                Priority.P1,
                NOW - 200,
                True,
                "complaint",
                "app",
            ),
            Sample(
                "c-20250310-004391",
                "快递三天了还没送到,物流信息一直不更新,太慢了",
                Priority.P2,
                NOW - 340,
                True,
                "complaint",
                "wechat",
            ),
            Sample(
                "k-20250310-001207",
                "打了三次电话问快递进度,每次都说在查,包裹到底在哪",
                Priority.P3,
                NOW - 95,
                True,
                "call",
                "call",
            ),
        ),
        terms=(
            Term("快递", 31, 3.86),
            Term("包裹", 17, 2.95),
            Term("丢件", 9, 7.2),
            Term("物流", 12, 2.41),
        ),
        route=ALERTING.router.route(rule, {"category": "logistics"}, channels),
        fired_at=FIRED_AT,
        notified_at=NOW,
        notified_severity=worst.severity,
        notification=Notification.ESCALATION,
        updates=4,
        acknowledged=Ack("张三", ACK_AT, "已联系快递公司核实"),
    )


class _NoRedis:
    def register_script(self, script: str) -> None:
        return None

    def pipeline(self, transaction: bool = False) -> None:
        raise AssertionError("no Redis here")

    def script_load(self, script: str) -> Awaitable[Any]:
        raise AssertionError("no Redis here")


def documented_record() -> dict[str, Any]:
    blocks = blocks_with(PAGE, "json")
    assert len(blocks) == 1, "docs/alerts.md has one plain ```json block: the alert record"
    record: dict[str, Any] = json.loads(blocks[0].body)
    return record


def resolved_record() -> dict[str, Any]:
    """The example record resolved: the documented ```json resolved changes applied."""
    return {**documented_record(), **block_json("json resolved")}


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key of nested objects, as dotted paths (``[]`` for list items)."""
    paths = set()
    if isinstance(value, dict):
        for key, item in value.items():
            paths.add(prefix + key)
            paths |= key_paths(item, f"{prefix}{key}.")
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, f"{prefix}[].")
    return paths


def test_record_example_has_exactly_the_fields_to_record_produces() -> None:
    produced = example_alert().to_record()
    documented = documented_record()
    assert key_paths(documented) == key_paths(produced)
    for field in ("acknowledged", "baseline", "route"):
        assert documented[field] is not None, f"show {field} filled in, not null"
    for field in ("members", "terms", "samples", "channels"):
        assert documented[field], f"show {field} with at least one entry"


def test_record_example_is_what_to_record_produces() -> None:
    assert documented_record() == example_alert().to_record(), (
        "the record example is stale: paste example_alert().to_record() of this test"
    )


def test_record_table_lists_every_field() -> None:
    documented = first_cells(section("The alert record"), "field")
    missing = sorted(
        p
        for p in key_paths(example_alert().to_record())
        if "[]" not in p and "." not in p and p not in documented
    )
    assert not missing, f"fields of the record missing from its table: {missing}"


def test_resolved_example_only_changes_what_resolution_changes() -> None:
    changes = block_json("json resolved")
    assert set(changes) <= set(documented_record())
    assert changes["status"] == "resolved" and changes["notification"] == "resolved"
    assert changes["sequence"] == documented_record()["sequence"] + 1


@pytest.mark.parametrize(
    "record", [documented_record(), resolved_record()], ids=["firing", "resolved"]
)
def test_spike_severity_is_deviations_from_the_baseline(record: dict[str, Any]) -> None:
    baseline = record["baseline"]
    z = (record["value"] - baseline["expected"]) / baseline["deviation"]
    assert abs(z - record["severity"]) < 0.001


# --- sink adapters: the vendor payloads ---------------------------------------------------


class _Reply:
    status = 200

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.headers: dict[str, str] = {}

    async def read(self) -> bytes:
        return json.dumps(self.answer).encode()

    async def __aenter__(self) -> _Reply:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class RecordingSession:
    """Stands in for aiohttp.ClientSession: keeps every POST, answers the vendor's 'ok'."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.posts: list[tuple[str, Any, dict[str, str]]] = []

    def post(self, url: Any, *, data: bytes, headers: dict[str, str], timeout: Any) -> _Reply:
        self.posts.append((str(url), json.loads(data), dict(headers)))
        return _Reply(self.answer)


ANSWERS = {
    "wecom": {"errcode": 0, "errmsg": "ok"},
    "dingtalk": {"errcode": 0, "errmsg": "ok"},
    "feishu": {"code": 0, "msg": "success"},
    "alertmanager": None,
    "webhook": None,
}


def documented_env() -> dict[str, str]:
    """The ``export NAME='value'`` lines of the ```sh sink-env block."""
    env = {}
    for line in one_block("sh sink-env").body.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0]
    return env


def sent(
    sink: str, records: list[dict[str, Any]], clock: float
) -> list[tuple[str, Any, dict[str, str]]]:
    spec = ALERTING.sinks[sink]
    session = RecordingSession(ANSWERS[spec.type])
    notifier = make_notifier(
        spec,
        documented_env(),
        session,  # type: ignore[arg-type]  # posts like aiohttp's session, without a network
        None,
        clock=lambda: clock,
    )
    asyncio.run(notifier.send(records))
    return session.posts


def sink_of(kind: str) -> str:
    """The first sink of the packaged configuration with this type (the examples are of
    the supervisors' WeCom group, not the retention team's)."""
    names = [name for name, spec in ALERTING.sinks.items() if spec.type == kind]
    assert names, kind
    return names[0]


def test_sink_env_example_sets_every_variable_of_the_packaged_sinks() -> None:
    needed = {v for spec in ALERTING.sinks.values() for v in spec.env_vars}
    assert needed <= set(documented_env()), needed - set(documented_env())


PAYLOADS = [  # (block, sink type, records sent together, sending time)
    ("json wecom", "wecom", "record", SENT_AT),
    ("json wecom-digest", "wecom", "record+resolved", RESOLVED_SENT_AT),
    ("json dingtalk", "dingtalk", "record", SENT_AT),
    ("json feishu", "feishu", "record", SENT_AT),
    ("json alertmanager", "alertmanager", "record", SENT_AT),
    ("json alertmanager-resolved", "alertmanager", "resolved", RESOLVED_SENT_AT),
    ("json webhook", "webhook", "record", SENT_AT),
]


@pytest.mark.parametrize(
    ("info", "kind", "records", "clock"),
    PAYLOADS,
    ids=[p[0].removeprefix("json ") for p in PAYLOADS],
)
def test_vendor_payload_example_is_what_the_sink_sends(
    info: str, kind: str, records: str, clock: float
) -> None:
    chosen = {
        "record": [documented_record()],
        "resolved": [resolved_record()],
        "record+resolved": [documented_record(), resolved_record()],
    }[records]
    posts = sent(sink_of(kind), chosen, clock)
    assert len(posts) == 1, f"{info}: {len(posts)} requests"
    url, body, headers = posts[0]
    assert block_json(info) == body, f"```{info} is stale: paste\n" + json.dumps(
        body, ensure_ascii=False, indent=2
    )
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    env = documented_env()
    spec = ALERTING.sinks[sink_of(kind)]
    if kind == "dingtalk":
        assert url == one_block("text dingtalk-url").body.strip()
    elif kind == "alertmanager":
        assert url == env[spec.url_env or ""] + "/api/v2/alerts"
        assert f"POST {url}" in TEXT
    else:
        assert url == env[spec.url_env or ""]
    if kind == "webhook":  # the packaged webhook has no token_env: no Authorization
        assert headers.get("Authorization") == (
            f"Bearer {env[spec.token_env]}" if spec.token_env else None
        )


def test_documented_signatures_are_the_vendors_algorithms() -> None:
    env = documented_env()
    dingtalk, feishu = ALERTING.sinks[sink_of("dingtalk")], ALERTING.sinks[sink_of("feishu")]
    url = one_block("text dingtalk-url").body.strip()
    sign = payloads.dingtalk_sign(env[dingtalk.secret_env or ""], int(SENT_AT * 1000))
    assert url.endswith(f"timestamp={int(SENT_AT * 1000)}&sign={quote_plus(sign)}")
    body = block_json("json feishu")
    assert body["timestamp"] == str(int(SENT_AT))
    assert body["sign"] == payloads.feishu_sign(env[feishu.secret_env or ""], int(SENT_AT))


def test_redis_stream_sink_writes_the_documented_entry() -> None:
    spec = ALERTING.sinks[sink_of("redis_stream")]
    added: list[tuple[str, dict[str, bytes], int, bool]] = []

    class Pipe:
        def xadd(
            self, stream: str, fields: dict[str, bytes], *, maxlen: int, approximate: bool
        ) -> None:
            added.append((stream, fields, maxlen, approximate))

        async def execute(self) -> None:
            return None

        async def __aenter__(self) -> Pipe:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

    class StreamRedis:
        def pipeline(self, transaction: bool = False) -> Pipe:
            return Pipe()

    notifier = make_notifier(spec, {}, None, StreamRedis())
    asyncio.run(notifier.send([documented_record()]))
    [(stream, fields, maxlen, approximate)] = added
    assert approximate and set(fields) == {"record"}
    assert json.loads(fields["record"]) == documented_record()
    assert f"`XADD {stream} MAXLEN ~ {maxlen} * record <record as JSON>`" in TEXT


def test_always_on_sinks_carry_the_record(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    record = documented_record()
    published: list[tuple[bytes, bytes]] = []

    async def send(key: bytes, value: bytes) -> None:
        published.append((key, value))

    out = JsonLinesSink(tmp_path / "alerts.jsonl")
    with caplog.at_level(logging.WARNING, logger="vocwatch.alerts"):
        for sink in (TopicSink(send), LogSink(), out):
            asyncio.run(sink.deliver(record))
    out.close()
    [(key, value)] = published
    assert key == record["fingerprint"].encode() and json.loads(value) == record
    assert json.loads((tmp_path / "alerts.jsonl").read_text(encoding="utf-8")) == record
    assert [r.getMessage() for r in caplog.records] == [one_block("text log").body.strip()]
    assert {sink.name for sink in (TopicSink(send), LogSink(), out)} | set(ALERTING.sinks) == set(
        first_cells(section("Sinks"), "sink")
    )


@pytest.mark.parametrize("block", blocks_with(PAGE, "yaml sink"), ids=lambda b: str(b.line))
def test_sink_configuration_snippets_are_valid(block: Block) -> None:
    assert parse_sinks(yaml.safe_load(block.body), "docs/alerts.md")


# --- the configuration file and `vocwatch rules check` ---------------------------------


def test_routing_example_is_valid_with_the_packaged_sinks() -> None:
    example = yaml.safe_load(one_block("yaml routing").body)
    config = dataclasses.replace(ALERTING.config, teams=example["teams"], routes=example["routes"])
    router = alerting_from(config).router
    rules = RULES["severe_event"], RULES["negative_burst"]
    technical = {"channel": "app", "category": "technical"}
    technical_route = [router.route(rule, technical, ["app"]) for rule in rules][1]
    assert technical_route is not None and technical_route.team == "技术支持"
    logistics_route = router.route(rules[1], {"channel": "app", "category": "logistics"})
    assert logistics_route is not None and logistics_route.team == "客服主管"


@pytest.mark.parametrize("block", blocks_with(PAGE, "yaml rule"), ids=lambda b: str(b.line))
def test_rule_snippets_are_valid(block: Block) -> None:
    snippet = yaml.safe_load(block.body)
    rules = parse_rules(snippet, source="docs/alerts.md")
    for rule in rules:  # a snippet of a default rule shows it as shipped
        assert rule.name not in RULES or RULES[rule.name] == rule, rule.name


def test_rules_block_is_the_packaged_file_verbatim() -> None:
    assert one_block("yaml rules").body == DEFAULT_RULES_FILE.read_text(encoding="utf-8"), (
        "the ```yaml rules block must be alerts/rules.yaml as it is"
    )


def test_every_default_rule_is_explained() -> None:
    defaults = section("The default rules")
    missing = [name for name in RULES if f"- `{name}`" not in defaults]
    assert not missing, f"default rules without a paragraph: {missing}"


def test_every_rule_field_is_in_the_table() -> None:
    documented = first_cells(section("The configuration file"), "field")
    assert set(documented) == _FIELDS


def test_every_measure_is_in_the_table_and_falling_ones_say_so() -> None:
    documented = first_cells(section("The configuration file"), "measure")
    assert list(documented) == list(MEASURES)
    for name, row in documented.items():
        assert ("falling" in " ".join(row)) == (name in FALLING), name


def test_every_dimension_is_in_the_table() -> None:
    assert list(first_cells(section("The configuration file"), "dimension")) == list(DIMENSIONS)


def test_spike_fields_and_defaults_are_the_code_s() -> None:
    documented = first_cells(section("Conditions"), "spike field")
    defaults = {f.name: f.default for f in dataclasses.fields(Spike)}
    assert set(documented) == set(defaults)
    for name, default in defaults.items():
        shown = documented[name][1].strip("`")
        assert shown == str(default).lower(), f"spike.{name}: default {default}, doc {shown}"


def rules_check_transcripts() -> list[tuple[str, str, int]]:
    """(command, expected output, exit code) of each ``$ vocwatch …`` in the
    ```console rules-check blocks, followed by ``$ echo $?``."""
    runs = []
    for block in blocks_with(PAGE, "console rules-check"):
        parts = re.split(r"^\$ ", block.body, flags=re.M)[1:]
        for command, status in zip(parts[::2], parts[1::2], strict=True):
            line, _, output = command.partition("\n")
            code_line, _, rest = status.partition("\n")
            assert code_line == "echo $?", block.where
            runs.append((line, output, int(rest.strip())))
    return runs


@pytest.mark.parametrize(
    ("command", "output", "status"),
    rules_check_transcripts(),
    ids=[command for command, _, _ in rules_check_transcripts()],
)
def test_rules_check_transcript(
    command: str,
    output: str,
    status: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in list(os.environ):
        if name.startswith("VOCWATCH_SINK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(ROOT)
    args = shlex.split(command)
    assert args[:3] == ["vocwatch", "rules", "check"]
    path = args[3]
    if not (ROOT / path).exists():  # a file the page shows as a ```yaml <name>
        (tmp_path / path).write_text(one_block(f"yaml {path}").body, encoding="utf-8")
        monkeypatch.chdir(tmp_path)
    assert main(args[1:]) == status
    captured = capsys.readouterr()
    assert captured.out + captured.err == output


def test_rules_check_shows_a_valid_and_an_invalid_file() -> None:
    assert {status for _, _, status in rules_check_transcripts()} == {0, 2}


# --- lifecycle, routing, silences, delivery: the catalogues --------------------------------


def test_every_notification_kind_is_explained() -> None:
    documented = first_cells(section("Lifecycle"), "notification")
    assert set(documented) == CHAT_NOTIFICATIONS | {"update", REFRESH}
    for kind, row in documented.items():
        chat = "yes" if kind in CHAT_NOTIFICATIONS else "no"
        assert row[-1] == chat, f"{kind}: chat robots column must say {chat}"


def test_every_route_match_field_and_silence_matcher_is_documented() -> None:
    routing = section("Routing")
    assert all(f"`{field}`" in routing for field in MATCH_FIELDS), MATCH_FIELDS
    api = section("The HTTP API")
    assert all(f"`{field}`" in api for field in MATCHERS), MATCHERS
    assert f"{MAX_SILENCE_SECONDS}" in api


def test_every_sink_type_and_its_fields_are_documented() -> None:
    sinks = section("Sinks")
    for kind in TYPES:
        assert f"`{kind}`" in sinks, kind
        for field in ENV_FIELDS[kind]:
            assert f"`{field}`" in sinks, (kind, field)
    for field in (*COMMON_FIELDS, *STREAM_FIELDS):
        assert f"`{field}`" in sinks, field


def delivery_outcomes() -> set[str]:
    """The ``outcome`` values the code counts (from the source: there is no constant)."""
    outcomes = set()
    for name in ("delivery.py", "engine.py"):
        for line in (ROOT / "alerts" / name).read_text(encoding="utf-8").splitlines():
            if "._count(" in line or "sink_deliveries.labels(" in line:
                outcomes |= set(re.findall(r'"(\w+)"', line))
    return outcomes


def test_every_delivery_outcome_is_explained() -> None:
    outcomes = delivery_outcomes()
    assert {"sent", "failed", "dropped"} <= outcomes
    assert set(first_cells(section("Delivery"), "outcome")) == outcomes


def test_vendor_budgets_are_the_code_s() -> None:
    documented = first_cells(section("Delivery"), "sink type")
    for kind in TYPES:
        minute, second = DEFAULT_LIMITS.get(kind, (None, None))
        row = documented[kind]
        assert row[1] == (str(minute) if minute else "—"), kind
        assert row[2] == (str(second) if second else "—"), kind


def test_queue_limits_are_the_code_s() -> None:
    documented = first_cells(section("Delivery"), "limit")
    limits = QueueLimits()
    for field in dataclasses.fields(limits):
        value = getattr(limits, field.name)
        assert documented[field.name][1] == f"{value:g}", field.name


def test_metrics_named_here_exist() -> None:
    registry, _ = catalogue()
    names = {f"{m.name}_total" if m.type == "counter" else m.name for m in registry.collect()}
    named = set(re.findall(r"`(vocwatch_[a-z_]+)", TEXT))
    assert named and named <= names, named - names
    assert {
        "vocwatch_alerts_total",
        "vocwatch_sink_deliveries_total",
        "vocwatch_sink_queue_depth",
    } <= named


def test_redis_keys_are_the_code_s() -> None:
    windows = section("Windows")
    for key in RedisWindowStore(
        _NoRedis(), prefix="<app_id>", bucket_seconds=10, spans=[60]
    ).redis_keys("<key>"):
        assert f"`{key}`" in windows, key
    lifecycle = section("Lifecycle")
    store = RedisAlertStore(None, prefix="<app_id>")
    for key in (store.key, store.acks_key, store.history_key, store.silences_key):
        assert f"`{key}`" in lifecycle, key
    for key in (
        "<app_id>:baseline:{<rule>}",
        "<app_id>:baseline:{<rule>}:keys",
        "<app_id>:baseline:step",
    ):
        assert f"`{key}`" in section("Conditions"), key


ALERT_SETTINGS = (
    "rules_file",
    "alerts_out",
    "alert_update_seconds",
    "evaluation_seconds",
    "baseline_step_seconds",
    "bucket_seconds",
    "app_id",
    "api_token",
    "api_max_body_bytes",
    "web_port",
)


def test_alert_settings_are_named() -> None:
    assert set(ALERT_SETTINGS) <= set(ENVIRONMENT)
    missing = [PREFIX + s.upper() for s in ALERT_SETTINGS if f"`{PREFIX}{s.upper()}`" not in TEXT]
    assert not missing, missing
    sink_vars = sorted({v for spec in ALERTING.sinks.values() for v in spec.env_vars})
    assert all(f"`{v}`" in TEXT for v in sink_vars), sink_vars


# --- the HTTP API -------------------------------------------------------------------------


class FakeStore:
    def __init__(self, alert: Alert) -> None:
        self.alert = alert
        self.kept: dict[str, Silence] = {}

    async def all_active(self) -> list[Alert]:
        return [self.alert]

    async def active(self) -> ActiveAlerts:
        return ActiveAlerts([Stored.of(self.alert)], {}, {self.alert.fingerprint: self.alert})

    async def history(self, limit: int = 100) -> list[Alert]:
        return []

    async def silences(self, now: float) -> list[Silence]:
        return list(self.kept.values())

    async def delete_silence(self, silence_id: str) -> bool:
        return self.kept.pop(silence_id, None) is not None


class FakeEngine:
    """What the API needs of the engine, over the example alert (unacknowledged)."""

    def __init__(self) -> None:
        self.store = FakeStore(dataclasses.replace(example_alert(), acknowledged=None))
        self.silences: list[Silence] = []
        self.subscribers: list[Callable[[dict[str, Any]], None]] = []

    async def acknowledge(self, alert_id: str, by: str, note: str, now: float) -> Alert | None:
        alert = self.store.alert
        if alert.id != alert_id:
            return None
        return dataclasses.replace(alert, acknowledged=Ack(by, now, note))

    async def add_silence(self, silence: Silence) -> None:
        self.store.kept[silence.id] = silence
        self.silences.append(silence)

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)


TOKEN = "example-token"


def api_app(engine: FakeEngine) -> web.Application:
    app = web.Application()
    AlertApi(
        engine,  # type: ignore[arg-type]  # what the API reads of an engine, over one alert
        clock=lambda: ACK_AT,
        token=TOKEN,
        max_body_bytes=Settings().api_max_body_bytes,
    ).install(app.router)
    return app


def test_every_endpoint_is_documented() -> None:
    routes = {
        (r.method, r.resource.canonical)
        for r in api_app(FakeEngine()).router.routes()
        if r.method != "HEAD" and r.resource is not None
    }
    assert len(routes) >= 8
    api = section("The HTTP API")
    missing = sorted(f"{m} {p}" for m, p in routes if f"`{m} {p}`" not in api)
    assert not missing, f"endpoints missing from docs/alerts.md: {missing}"
    assert all(f"`{s}`" in api for s in STATUSES), STATUSES


def curl_commands() -> list[list[str]]:
    commands = []
    for block in blocks_with(PAGE, "sh api"):
        joined = block.body.replace("\\\n", " ")
        commands += [shlex.split(line) for line in joined.splitlines() if line.startswith("curl ")]
    return commands


def request_of(args: list[str], base: str) -> tuple[str, str, dict[str, str], str | None]:
    method, headers, data, url = "GET", {}, None, ""
    words = iter(args[1:])
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(": ")
            headers[name] = value.replace("$VOCWATCH_API_TOKEN", TOKEN)
        elif word == "-d":
            data = next(words)
            method = "POST" if method == "GET" else method
        elif word.startswith("http"):
            url = re.sub(r"^http://[^/]+", base, word)
    return method, url, headers, data


async def serve(engine: FakeEngine) -> TestServer:
    server = TestServer(api_app(engine), host="127.0.0.1")
    await server.start_server()
    return server


def test_curl_examples_work_against_the_api() -> None:
    commands = [c for c in curl_commands() if "/api/stream" not in " ".join(c)]
    assert len(commands) >= 5

    async def run() -> list[tuple[str, int, Any]]:
        engine = FakeEngine()
        server = await serve(engine)
        answers = []
        try:
            async with ClientSession() as http:
                for args in commands:
                    method, url, headers, data = request_of(args, str(server.make_url("")))
                    if method == "DELETE" and "/api/silences/" in url:  # the one just made
                        url = url.rsplit("/", 1)[0] + "/" + next(iter(engine.store.kept))
                    async with http.request(
                        method, url, headers=headers, data=data.encode() if data else None
                    ) as reply:
                        answers.append((f"{method} {url}", reply.status, await reply.json()))
        finally:
            await server.close()
        return answers

    for request, status, body in asyncio.run(run()):
        assert 200 <= status < 300, (request, status, body)
    bodies = [json.loads(data) for _, _, _, data in (request_of(c, "") for c in commands) if data]
    assert any(new_silence(b, 0.0) for b in bodies if "matchers" in b)


def test_silence_answer_example_has_the_silence_fields() -> None:
    shown = block_json("json silence")
    made = new_silence({"matchers": {"rule": "x"}, "duration_seconds": 60, "created_by": "a"}, 0.0)
    assert set(shown) == set(made.to_json())


def api_error_examples() -> list[tuple[str, str, str | None, int, Any]]:
    """(method, path, body, status, answer) of each ```json api-error, from the comment above
    it: ``<!-- 400: POST /api/silences {"matchers": {}} -->`` (the body is optional)."""
    examples = []
    for block in blocks_with(PAGE, "json api-error"):
        match = re.match(r"<!-- (\d{3}): (\w+) (\S+)(?: (.*))? -->$", block.comment)
        assert match, f"{block.where}: the line above must be '<!-- STATUS: METHOD PATH -->'"
        status, method, path, body = match.groups()
        examples.append((method, path, body, int(status), json.loads(block.body)))
    return examples


def test_api_error_examples_are_what_the_api_answers() -> None:
    examples = api_error_examples()
    assert {status for *_, status, _ in examples} >= {400, 401, 404}

    async def run() -> list[tuple[int, Any]]:
        server = await serve(FakeEngine())
        answers = []
        try:
            async with ClientSession() as http:
                for method, path, body, status, _ in examples:
                    headers = {} if status == 401 else {"Authorization": f"Bearer {TOKEN}"}
                    async with http.request(
                        method,
                        server.make_url(path),
                        headers=headers,
                        data=body.encode() if body else None,
                    ) as reply:
                        answers.append((reply.status, await reply.json()))
        finally:
            await server.close()
        return answers

    for (method, path, _, status, answer), got in zip(examples, asyncio.run(run()), strict=True):
        assert got == (status, answer), f"{method} {path}"


def test_event_stream_example_is_what_the_stream_sends() -> None:
    record = documented_record()
    placeholder = "<the record, as one line of JSON>"

    async def run() -> str:
        engine = FakeEngine()
        server = await serve(engine)
        try:
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            async with ClientSession() as http:
                async with http.post(server.make_url("/api/stream/ticket"), headers=bearer) as r:
                    ticket = (await r.json())["ticket"]
                reply = await http.get(server.make_url("/api/stream"), params={"ticket": ticket})
                assert reply.headers["Content-Type"] == "text/event-stream"
                received = await reply.content.readuntil(b"\n\n")
                while not engine.subscribers:
                    await asyncio.sleep(0.01)
                engine.subscribers[0](record)
                received += await reply.content.readuntil(b"\n\n")
                reply.close()
        finally:
            await server.close()
        return received.decode()

    text = asyncio.run(run()).replace(json.dumps(record, ensure_ascii=False), placeholder)
    assert one_block("text sse").body == text


# --- nothing untested ---------------------------------------------------------------------

TESTED = {
    "json",
    "json resolved",
    "json silence",
    "json api-error",
    "yaml rules",
    "yaml rule",
    "yaml routing",
    "yaml sink",
    "console rules-check",
    "sh sink-env",
    "sh api",
    "text log",
    "text dingtalk-url",
    "text sse",
    *(p[0] for p in PAYLOADS),
}


def test_every_example_on_the_page_is_checked() -> None:
    checked_files = {
        f"yaml {shlex.split(command)[3]}" for command, _, _ in rules_check_transcripts()
    }
    unchecked = [
        b.where for b in fenced_blocks(TEXT) if b.info not in TESTED | checked_files | {"text"}
    ]
    assert not unchecked, f"examples no test runs (give them a checked info string): {unchecked}"
