"""The Grafana dashboards of deploy/grafana/dashboards (no Grafana here), checked two ways:

- offline: valid dashboard JSON, Chinese titles with English descriptions, the provisioned
  datasource everywhere, and every query parsed (promql-parser, a port of Prometheus' own
  parser) so that each metric it names is a vocwatch metric of `vocwatch/metrics.py`, a
  recording rule of deploy/prometheus/rules/recording.yml or a Prometheus built-in, each
  label it matches or groups by exists on what it reads, and rates read counters;
- live: a real Prometheus (Debian's package) scrapes a registry holding every vocwatch
  series, evaluates the repository's recording rules, and answers every query with data.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import re
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import promql_parser as promql
import pytest
import yaml
from prometheus_client import start_http_server

from alerts.rules import load_rules
from classifiers.category import CATEGORIES
from classifiers.polarity import CHANNELS, POLARITIES
from streams.analysis import models_in_use
from streams.events import PLATFORMS, SOURCES
from vocwatch.dev.embedded import ChildServer, free_port, wait_until
from vocwatch.errors import InvalidEvent
from vocwatch.metrics import Metrics, catalogue
from vocwatch.settings import Settings
from vocwatch.vocabulary import CorrectionKind, SurveyKind

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RECORDING_RULES = ROOT / "deploy" / "prometheus" / "rules" / "recording.yml"

PANEL_TYPES = {"timeseries", "stat", "bargauge", "table"}
GRID_COLUMNS = 24
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Labels Prometheus attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})
# Series Prometheus makes itself, and their labels.
BUILTIN_SERIES = {"up": TARGET_LABELS}
COUNTER_SUFFIXES = ("_total", "_bucket", "_sum", "_count")
RATE_FUNCTIONS = {"rate", "irate", "increase"}
# Aggregations that keep the labels of their input rather than grouping it away.
SELECTING_AGGREGATIONS = {"topk", "bottomk", "limitk", "limit_ratio"}
# Grafana's own variables, and what stands for them when a query is parsed or run here.
GRAFANA_VARIABLES = {"__rate_interval": "30s", "__range": "1h", "__interval": "15s"}
RANGES = {"$__rate_interval", "$__range"}


# --- what the dashboards may refer to ---------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Series:
    name: str
    kind: str  # counter, gauge, histogram or recorded
    labels: frozenset[str]

    @property
    def is_counter(self) -> bool:
        return self.kind in {"counter", "histogram"} and self.name.endswith(COUNTER_SUFFIXES)


def _metric_objects(metrics: Metrics) -> list[Any]:
    return [getattr(metrics, field.name) for field in dataclasses.fields(metrics)]


@cache
def vocwatch_series() -> dict[str, Series]:
    """Every series name vocwatch exposes, with its labels (those Prometheus adds too):
    the metrics of :class:`Metrics` and what the scrape-time collectors report."""
    registry, metrics = catalogue()
    series: dict[str, Series] = {}
    for metric in _metric_objects(metrics):
        family = metric.describe()[0]
        # prometheus_client has no public accessor for a metric's label names.
        labels = frozenset(metric._labelnames) | TARGET_LABELS
        if family.type == "counter":
            names = {f"{family.name}_total": labels}
        elif family.type == "histogram":
            names = {
                f"{family.name}_bucket": labels | {"le"},
                f"{family.name}_sum": labels,
                f"{family.name}_count": labels,
            }
        else:
            names = {family.name: labels}
        for name, label_set in names.items():
            series[name] = Series(name, family.type, label_set)
    for family in registry.collect():  # the collectors' families carry samples
        for sample in family.samples:
            if sample.name not in series:
                labels = frozenset(sample.labels) | TARGET_LABELS
                series[sample.name] = Series(sample.name, family.type, labels)
    return series


def recording_rules() -> list[dict[str, Any]]:
    if not RECORDING_RULES.exists():
        return []
    data = yaml.safe_load(RECORDING_RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"] if "record" in rule]


@cache
def known_series() -> dict[str, Series]:
    """vocwatch's series, Prometheus' built-ins, then the recorded series in rule order."""
    known = dict(vocwatch_series())
    known.update({name: Series(name, "gauge", labels) for name, labels in BUILTIN_SERIES.items()})
    for rule in recording_rules():
        labels = output_labels(promql.parse(rule["expr"]), known) | set(rule.get("labels", {}))
        previous = known.get(rule["record"])
        if previous is not None:  # one name recorded by several rules (quantiles)
            labels |= previous.labels
        known[rule["record"]] = Series(rule["record"], "recorded", frozenset(labels))
    return known


def output_labels(node: Any, known: dict[str, Series]) -> frozenset[str]:
    """The labels the result of `node` can carry (an over-approximation is fine here)."""
    if isinstance(node, promql.VectorSelector):
        return known[node.name].labels if node.name in known else frozenset()
    if isinstance(node, promql.MatrixSelector):
        return output_labels(node.vector_selector, known)
    if isinstance(node, promql.ParenExpr | promql.UnaryExpr | promql.SubqueryExpr):
        return output_labels(node.expr, known)
    if isinstance(node, promql.AggregateExpr):
        inner = output_labels(node.expr, known)
        if str(node.op).lower() in SELECTING_AGGREGATIONS:
            return inner
        modifier = node.modifier
        if modifier is None:
            return frozenset()
        if modifier.type == promql.AggModifierType.By:
            return frozenset(modifier.labels)
        return inner - set(modifier.labels)
    if isinstance(node, promql.Call):
        vectors = [
            output_labels(arg, known)
            for arg in node.args
            if not isinstance(arg, promql.NumberLiteral | promql.StringLiteral)
        ]
        labels = vectors[0] if vectors else frozenset()
        return labels - {"le"} if node.func.name == "histogram_quantile" else labels
    if isinstance(node, promql.BinaryExpr):
        return output_labels(node.lhs, known) | output_labels(node.rhs, known)
    return frozenset()


# --- the dashboards ---------------------------------------------------------------------


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return dashboard


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those folded into rows."""
    found = []
    for panel in board["panels"]:
        if panel.get("type") == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def variables(board: dict[str, Any]) -> dict[str, str]:
    """Template variable name → the value a query is run with here (All → its allValue)."""
    values = {}
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("includeAll"):
            values[variable["name"]] = variable["allValue"]
        else:
            values[variable["name"]] = variable["current"]["value"]
    return values


def substitute(expr: str, board: dict[str, Any]) -> str:
    values = {**GRAFANA_VARIABLES, **variables(board)}

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in values, f"unknown variable ${name} in {expr}"
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def queries() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(id, expr, target, board) for every target of every panel of every dashboard."""
    found = []
    for path in dashboard_files():
        board = load(path)
        for panel in panels(board):
            for target in panel["targets"]:
                found.append(
                    (
                        f"{path.stem}/{panel['title']}/{target['refId']}",
                        target["expr"],
                        target,
                        board,
                    )
                )
    return found


QUERIES = queries()
QUERY_IDS = [q[0] for q in QUERIES]


def provisioned_datasource() -> dict[str, Any]:
    data = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))
    datasources: list[dict[str, Any]] = data["datasources"]
    (datasource,) = datasources
    return datasource


def test_there_are_the_three_dashboards() -> None:
    assert {p.name for p in dashboard_files()} == {
        "supervisor-overview.json",
        "social-sentiment.json",
        "service-health.json",
    }


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_dashboard_is_valid_grafana_json(path: Path) -> None:
    board = load(path)
    assert board.get("uid") and re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", board["uid"])
    assert board.get("schemaVersion") == 39
    assert isinstance(board.get("panels"), list) and board["panels"]
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels(board):
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert {"x", "y", "w", "h"} <= grid.keys()
        assert all(isinstance(grid[k], int) and grid[k] >= 0 for k in "xywh")
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= GRID_COLUMNS
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        assert all(target.get("expr", "").strip() for target in panel["targets"])


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_panels_do_not_overlap(path: Path) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(load(path)):
        grid = panel["gridPos"]
        for x, y in itertools.product(
            range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
        ):
            assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
            cells[(x, y)] = panel["title"]


def test_dashboard_uids_and_titles_are_unique() -> None:
    boards = [load(path) for path in dashboard_files()]
    assert len({b["uid"] for b in boards}) == len(boards)
    assert len({b["title"] for b in boards}) == len(boards)


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_titles_are_chinese_and_descriptions_english(path: Path) -> None:
    board = load(path)
    items = [("dashboard", board), *((p["title"], p) for p in panels(board))]
    for name, item in items:
        assert CJK.search(item["title"]), f"{name}: the title is not Chinese"
        description = item.get("description", "")
        assert re.search(r"[A-Za-z]{3,}", description), f"{name}: no English description"
        assert not CJK.search(description), f"{name}: the description is not English"
    titles = [p["title"] for p in panels(board)]
    assert len(titles) == len(set(titles)), "panel titles repeat"


def test_the_datasource_is_prometheus_with_a_fixed_uid() -> None:
    datasource = provisioned_datasource()
    assert datasource["type"] == "prometheus"
    assert datasource["uid"] == "prometheus"


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_every_panel_and_query_uses_the_provisioned_datasource(path: Path) -> None:
    datasource = provisioned_datasource()
    expected = {"type": datasource["type"], "uid": datasource["uid"]}
    board = load(path)
    for panel in panels(board):
        assert panel["datasource"] == expected, panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", expected) == expected, panel["title"]
    for variable in board.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            assert variable["datasource"] == expected, variable["name"]


@pytest.mark.parametrize(("name", "expr", "target", "board"), QUERIES, ids=QUERY_IDS)
def test_ranges_are_grafana_intervals(
    name: str, expr: str, target: dict[str, Any], board: dict[str, Any]
) -> None:
    """Rates follow the zoom ($__rate_interval: at least four scrapes) or cover the time
    range ($__range, in stat and instant panels); a fixed range belongs in a rule."""
    for span in re.findall(r"\[([^\]:]+)\]", expr):
        assert span in RANGES, f"{name}: range [{span}] in {expr}"


class QueryChecker:
    """What is wrong with one (substituted) query: unknown metrics or labels, rates of
    gauges, quantiles without buckets."""

    def __init__(self, known: dict[str, Series]) -> None:
        self.known = known
        self.problems: list[str] = []

    def check(self, expr: str) -> list[str]:
        self.problems = []
        promql.walk(promql.parse(expr), self.visit)
        return self.problems

    def visit(self, node: Any) -> None:
        if isinstance(node, promql.VectorSelector):
            self.selector(node)
        elif isinstance(node, promql.Call):
            self.call(node)
        elif isinstance(node, promql.AggregateExpr) and node.modifier is not None:
            inner = output_labels(node.expr, self.known)
            self.problems.extend(
                f"{node.op} by {label}: not a label of {node.expr}"
                for label in node.modifier.labels
                if label not in inner
            )

    def selector(self, node: Any) -> None:
        series = self.known.get(node.name)
        if series is None:
            self.problems.append(f"unknown metric {node.name}")
            return
        self.problems.extend(
            f"{node.name} has no label {matcher.name}"
            for matcher in node.matchers.matchers
            if matcher.name not in series.labels
        )

    def call(self, node: Any) -> None:
        if node.func.name in RATE_FUNCTIONS:
            series = self.known.get(node.args[0].vector_selector.name)
            if series is not None and not series.is_counter:
                self.problems.append(f"{node.func.name}() of {series.name}, not a counter")
        if node.func.name == "histogram_quantile" and "le" not in output_labels(
            node.args[1], self.known
        ):
            self.problems.append(f"histogram_quantile without le: {node}")


def query_problems(expr: str) -> list[str]:
    return QueryChecker(known_series()).check(expr)


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("rate(vocwatch_events_recieved_total[5m])", "unknown metric"),
        ('vocwatch_alerts_firing{source="call"}', "has no label source"),
        ("sum by (channel) (rate(vocwatch_events_scored_total[5m]))", "by channel"),
        ("rate(vocwatch_window_events[5m])", "not a counter"),
        (
            "histogram_quantile(0.9, sum by (source) (rate(vocwatch_batch_duration_seconds_bucket"
            "[5m])))",
            "without le",
        ),
        ("source:vocwatch_events_unknown:rate5m", "unknown metric"),
    ],
)
def test_the_query_checker_finds_mistakes(expr: str, problem: str) -> None:
    problems = query_problems(expr)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(("name", "expr", "target", "board"), QUERIES, ids=QUERY_IDS)
def test_query_names_only_known_series_and_labels(
    name: str, expr: str, target: dict[str, Any], board: dict[str, Any]
) -> None:
    problems = query_problems(substitute(expr, board))
    assert not problems, f"{name}: {expr}\n" + "\n".join(problems)


def test_recording_rules_the_dashboards_use_are_defined() -> None:
    recorded = {rule["record"] for rule in recording_rules()}
    used = {
        name for _, expr, _, _ in QUERIES for name in re.findall(r"\b[a-z_]+:[a-z0-9_:]+\b", expr)
    }
    assert used <= recorded, f"not in {RECORDING_RULES.name}: {sorted(used - recorded)}"


def test_variable_queries_name_known_series_and_labels() -> None:
    known = known_series()
    for path in dashboard_files():
        for variable in load(path).get("templating", {}).get("list", []):
            if variable["type"] != "query":
                continue
            query = (
                variable["query"]["query"]
                if isinstance(variable["query"], dict)
                else variable["query"]
            )
            match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
            assert match, f"{path.name} ${variable['name']}: {query}"
            metric, label = match.groups()
            assert metric in known and label in known[metric].labels, query


def test_equality_matchers_use_values_the_code_produces() -> None:
    """A typo in a label value would show an empty panel, not an error."""
    for name, expr, _, board in QUERIES:

        def visit(node: Any, name: str = name, expr: str = expr) -> None:
            if isinstance(node, promql.VectorSelector):
                for matcher in node.matchers.matchers:
                    if matcher.op == promql.MatchOp.Equal and matcher.name in label_values():
                        assert matcher.value in label_values()[matcher.name], (
                            f"{name}: {matcher.name}={matcher.value!r} in {expr}"
                        )

        promql.walk(promql.parse(substitute(expr, board)), visit)


# --- live: a real Prometheus answers every query ----------------------------------------


@cache
@cache
def label_values() -> dict[str, tuple[str, ...]]:
    """Every value of every vocwatch label, from the code and the packaged configuration;
    the live test's registry exposes all of them."""
    settings = Settings()
    rules = load_rules(settings.rules_file)
    return {
        "source": SOURCES,
        "reason": tuple(sorted(InvalidEvent.REASONS)),
        "category": CATEGORIES,
        "priority": ("P1", "P2", "P3"),
        "status": ("firing", "resolved"),
        "stage": ("scored", "alert"),
        "rule": tuple(rule.name for rule in rules),
        "channel": CHANNELS,
        "window": tuple(sorted({f"{rule.window_seconds}s" for rule in rules})),
        "platform": PLATFORMS,
        "polarity": POLARITIES,
        "resolved": ("true", "false"),
        "product": ("other", "none", "all"),  # all: the KPIs not broken down by product
        "region": ("other", "none", "all"),
        "sink": ("kafka", "file", "log"),
        "outcome": ("sent", "failed"),
        "kind": (*SurveyKind, *CorrectionKind),
        "version": (models_in_use(settings),),  # the shipped models
        "topic": (
            *settings.input_topics.values(),
            settings.scored_topic,
            settings.deadletter_topic,
        ),
    }


def fill(metrics: Metrics, step: int) -> None:
    """Move every child of every metric: counters up, histograms observed, gauges set."""
    values = label_values()
    for metric in _metric_objects(metrics):
        names = metric._labelnames
        missing = [n for n in names if n not in values]
        assert not missing, f"label_values() lacks {missing}"
        kind = metric.describe()[0].type
        for combination in itertools.product(*(values[n] for n in names)):
            child = metric.labels(*combination) if names else metric
            if kind == "counter":
                child.inc(1 + step % 3)
            elif kind == "histogram":
                child.observe(float(1 + (step * 7 + len(combination)) % 5) / 5)
            elif metric is metrics.last_batch_timestamp:
                child.set(time.time())
            else:
                child.set(0.25 + 0.5 * ((step + len(combination)) % 2))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed (README's test command installs it)")
        pytest.skip("prometheus is not installed: apt-get install prometheus")
    registry, metrics = catalogue()
    fill(metrics, 0)
    exporter_port = free_port()
    server, _ = start_http_server(exporter_port, addr="127.0.0.1", registry=registry)
    stop = threading.Event()

    def keep_filling() -> None:
        step = 1
        while not stop.wait(0.5):
            fill(metrics, step)
            step += 1

    filler = threading.Thread(target=keep_filling, daemon=True)
    filler.start()

    workdir = tmp_path_factory.mktemp("prometheus")
    repo_config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RECORDING_RULES)],
        "scrape_configs": [
            {
                "job_name": worker_job(repo_config),
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
            }
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    child = ChildServer(
        "prometheus",
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        "127.0.0.1",
        port,
        lambda host, port: _get(f"http://{host}:{port}/-/ready") is not None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        child.start(timeout=30)
        # Rates need two scrapes; recorded series need a rule evaluation after them.
        wait_until(
            lambda: bool(
                _query(url, "count_over_time(up[1m]) >= 4")
                and _query(url, "source:vocwatch_events_received:rate5m > 0")
            ),
            timeout=30,
            what="prometheus scraping the test registry",
        )
        yield url
    finally:
        stop.set()
        filler.join(5)
        child.stop()
        server.shutdown()
        server.server_close()


def worker_job(config: dict[str, Any]) -> str:
    """The job that scrapes the compose worker (test_compose.py checks its targets)."""
    for job in config["scrape_configs"]:
        if any("worker" in sd.get("names", []) for sd in job.get("dns_sd_configs", [])) or any(
            t.startswith("worker:")
            for sc in job.get("static_configs", [])
            for t in sc.get("targets", [])
        ):
            return str(job["job_name"])
    raise AssertionError("no scrape job for the compose worker")


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 — loopback
            return bytes(response.read())
    except OSError:
        return None


def _query(url: str, expr: str) -> list[Any]:
    body = _get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    if body is None:
        return []
    answer = json.loads(body)
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    return result if answer["data"]["resultType"] != "scalar" else [{"value": result}]


@pytest.mark.integration
@pytest.mark.parametrize(("name", "expr", "target", "board"), QUERIES, ids=QUERY_IDS)
def test_query_returns_data_from_a_real_prometheus(
    prometheus: str, name: str, expr: str, target: dict[str, Any], board: dict[str, Any]
) -> None:
    query = substitute(expr, board)
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    request = urllib.request.Request(url)  # noqa: S310 — loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:  # 400: the query does not parse or type-check
        pytest.fail(f"{name}: {query}\n{error.read().decode()}")
    assert answer["status"] == "success", answer
    data = answer["data"]
    samples = [data["result"]] if data["resultType"] == "scalar" else data["result"]
    assert samples, f"{name}: no data for {query}"
    values = [float(s[1] if data["resultType"] == "scalar" else s["value"][1]) for s in samples]
    assert any(math.isfinite(v) for v in values), f"{name}: only NaN/Inf for {query}"
