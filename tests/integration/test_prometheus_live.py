"""A real Prometheus (Debian's package) scrapes a real ``vocwatch worker`` that is fed demo
traffic through a real broker (Tansu) and Redis (valkey), evaluates the repository's
recording and alerting rules, and answers every recorded series and every Grafana panel
query of deploy/grafana/dashboards with data.

Only 127.0.0.1 is bound: the worker's web port and Prometheus' port are free loopback ports.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import metric_samples
from tests.workers import LiveWorker, WorkerFactory
from vocwatch.dev import demo, embedded

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
PROMETHEUS = "/usr/bin/prometheus"
INSTALL = "apt-get install prometheus prometheus-alertmanager"
SCRAPES = 15  # scrapes (one a second) before the queries are asserted
# Grafana's built-in variables, at values that suit 1-second scrapes and a short history.
BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}
# Counters that appear only with their first error: on a healthy worker a query that reads
# nothing else may be empty, as long as the worker does not expose them yet.
ERROR_ONLY_METRICS = ("vocwatch_publish_errors_total",)


# --- Grafana queries → PromQL (pure) ----------------------------------------------------


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref_id: str
    expr: str  # as written in the dashboard
    promql: str  # with every variable substituted

    def __str__(self) -> str:
        return (
            f"dashboard {self.dashboard!r}, panel {self.panel!r}, query {self.ref_id}: "
            f"{self.promql}"
        )


_VARIABLE = re.compile(
    r"\$\{(?P<braced>\w+)(?::[^}]*)?\}|\[\[(?P<bracketed>\w+)(?::[^\]]*)?\]\]"
    r"|\$(?P<plain>\w+)"
)
_MATCHER = re.compile(r'(?P<label>\w+)\s*(?P<op>!=|=)\s*"(?P<value>[^"]*)"')


def variable_values(dashboard: dict[str, Any]) -> dict[str, str]:
    """The value each template variable takes in the checked queries: every value (``.*``)
    for query, custom and text-box variables, the interval or constant itself otherwise."""
    values = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        kind = variable.get("type")
        if kind == "interval":
            values[variable["name"]] = "1m"
        elif kind == "constant":
            values[variable["name"]] = str(variable.get("query", ""))
        elif kind in {"query", "custom", "textbox", "adhoc"}:
            values[variable["name"]] = ".*"
    return values


def to_promql(expr: str, variables: dict[str, str]) -> str:
    """Substitute Grafana's variables; a label matcher that takes a regular-expression value
    (``source="$source"``) becomes a regular-expression matcher (``source=~".*"``)."""

    def name(match: re.Match[str]) -> str:
        return match.group("braced") or match.group("bracketed") or match.group("plain")

    def regex_matcher(match: re.Match[str]) -> str:
        names = {name(m) for m in _VARIABLE.finditer(match.group("value"))}
        if any(variables.get(n) == ".*" for n in names):
            op = "=~" if match.group("op") == "=" else "!~"
            return f'{match.group("label")}{op}"{match.group("value")}"'
        return match.group(0)

    def value(match: re.Match[str]) -> str:
        found = name(match)
        if found in BUILTINS:
            return BUILTINS[found]
        if found in variables:
            return variables[found]
        raise ValueError(f"unknown variable ${found} in {expr!r}")

    return _VARIABLE.sub(value, _MATCHER.sub(regex_matcher, expr))


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside rows (``panels[].panels[]``)."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def dashboard_queries(folder: Path) -> list[PanelQuery]:
    queries = []
    for path in sorted(folder.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        variables = variable_values(dashboard)
        title = dashboard.get("title", path.stem)
        for panel in panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    queries.append(
                        PanelQuery(
                            title,
                            panel.get("title", ""),
                            target.get("refId", "?"),
                            target["expr"],
                            to_promql(target["expr"], variables),
                        )
                    )
    return queries


def variable_queries(folder: Path) -> list[tuple[str, str, str]]:
    """(dashboard, variable, its label_values(...) query) of every query variable."""
    found = []
    for path in sorted(folder.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for variable in dashboard.get("templating", {}).get("list", []):
            query = variable.get("query")
            query = query.get("query", "") if isinstance(query, dict) else query
            if variable.get("type") == "query" and query:
                found.append((dashboard.get("title", path.stem), variable["name"], query))
    return found


def test_to_promql_substitutes_builtins_and_variables() -> None:
    variables = {"source": ".*", "window": ".*", "interval": "1m"}
    assert (
        to_promql('sum(rate(x{source="$source"}[$__rate_interval]))', variables)
        == 'sum(rate(x{source=~".*"}[1m]))'
    )
    assert (
        to_promql('x{window=~"${window}", a="b", c!="[[source]]"}[$__range_s]', variables)
        == 'x{window=~".*", a="b", c!~".*"}[300]'
    )
    assert (
        to_promql("increase(x[$__range]) / $__range_s + rate(y[$interval])", variables)
        == "increase(x[5m]) / 300 + rate(y[1m])"
    )
    with pytest.raises(ValueError, match=r"\$nope"):
        to_promql('x{a="$nope"}', variables)


def test_dashboard_queries_include_rows_and_read_variables(tmp_path: Path) -> None:
    dashboard = {
        "title": "d",
        "templating": {
            "list": [{"name": "platform", "type": "query"}, {"name": "step", "type": "interval"}]
        },
        "panels": [
            {
                "title": "row",
                "type": "row",
                "panels": [
                    {
                        "title": "inner",
                        "targets": [{"refId": "A", "expr": 'rate(p{platform="$platform"}[$step])'}],
                    }
                ],
            },
            {"title": "text", "type": "text"},
        ],
    }
    (tmp_path / "d.json").write_text(json.dumps(dashboard))
    (query,) = dashboard_queries(tmp_path)
    assert (query.panel, query.ref_id, query.promql) == (
        "inner",
        "A",
        'rate(p{platform=~".*"}[1m])',
    )


# --- the live stack ---------------------------------------------------------------------


@dataclass
class Stack:
    worker: LiveWorker
    prometheus_url: str
    metrics_seen: str = ""

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.prometheus_url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 (loopback)
                body = json.load(reply)
        except urllib.error.HTTPError as exc:  # 400/422: a query Prometheus rejects
            body = json.load(exc)
        if body["status"] != "success":
            raise QueryError(body.get("error", body))
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        data = self.api("query", query=promql)
        if data["resultType"] in {"scalar", "string"}:
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])


class QueryError(Exception):
    pass


def _prometheus_binary() -> str:
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.fail(f"{PROMETHEUS} is not installed; this test needs it: {INSTALL}")
    return PROMETHEUS


def _prometheus_config(worker_port: int) -> dict[str, Any]:
    """The deploy configuration's rule files (absolute), scraping the one worker each second."""
    deployed = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(PROMETHEUS_CONFIG.parent / f) for f in deployed["rule_files"]],
        "scrape_configs": [
            {"job_name": "vocwatch", "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}]}
        ],
    }


def _ready(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 (loopback)
        return bool(reply.status == 200)


def _replays_and_a_late_event(worker: LiveWorker) -> None:
    """Demo traffic has neither: send a complaint three times and one two hours old, so that
    the duplicate and late counters have series too."""
    tag = uuid.uuid4().hex[:8]
    now = time.time()
    for event_id, created in [(f"dup-{tag}", now)] * 3 + [(f"late-{tag}", now - 7200)]:
        event = {
            "id": event_id,
            "customer_id": "u1",
            "channel": "web",
            "text": "快递太慢了",
            "created_at": created,
        }
        worker.send("complaint", event)
    worker.flush(10)


@pytest.fixture(scope="module")
def stack(
    module_worker_factory: WorkerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    binary = _prometheus_binary()
    tmp = tmp_path_factory.mktemp("prometheus-live")
    prometheus_port = embedded.free_port()
    worker = module_worker_factory(
        None,
        name="prom",
        VOCWATCH_METRIC_PRODUCTS=",".join(demo.PRODUCTS[:3]),
        VOCWATCH_METRIC_REGIONS=",".join(demo.REGIONS[:3]),
    )
    stop_demo = threading.Event()
    traffic = threading.Thread(
        target=demo.run,
        name="demo",
        daemon=True,
        kwargs={
            "settings": worker.settings,
            "stop": stop_demo,
            "plan": demo.DemoPlan(rate=40, incident_start=0, incident_seconds=30, incident_rate=20),
        },
    )
    config = tmp / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(_prometheus_config(worker.settings.web_port)), encoding="utf-8"
    )
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
    prometheus = embedded.ChildServer(
        "prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
            "--log.level=warn",
        ],
        "127.0.0.1",
        prometheus_port,
        lambda host, port: _ready(f"{prometheus_url}/-/ready"),
    )
    stack = Stack(worker, prometheus_url)
    try:
        traffic.start()
        _replays_and_a_late_event(worker)
        prometheus.start(timeout=20)
        # Enough scrapes for 1-minute rates, and the demo incident has raised an alert.
        embedded.wait_until(
            lambda: (
                bool(stack.query(f'count_over_time(up{{job="vocwatch"}}[1m]) >= {SCRAPES}'))
                and bool(stack.query("vocwatch_sink_deliveries_total"))
            ),
            timeout=60,
            what="Prometheus scraping the worker with alerts emitted",
        )
        stack.metrics_seen = worker.metrics_text()
        yield stack
    finally:
        stop_demo.set()
        if traffic.ident is not None:
            traffic.join(15)
        prometheus.stop()
        sys.stdout.write(prometheus.log_path.read_text(errors="replace")[-3000:])


def _describe(result: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['metric']}={r['value'][1]}" for r in result[:4])


def _has_samples(exposition: str, metric: str) -> bool:
    """Whether /metrics holds a sample of ``metric`` (not only its HELP and TYPE lines)."""
    return bool(metric_samples(exposition, metric))


def _all_nan(result: list[dict[str, Any]]) -> bool:
    return all(math.isnan(float(r["value"][1])) for r in result)


@pytest.mark.integration
def test_prometheus_scrapes_the_worker(stack: Stack) -> None:
    (target,) = stack.api("targets")["activeTargets"]
    assert target["health"] == "up", target
    assert [r["value"][1] for r in stack.query('up{job="vocwatch"}')] == ["1"]


@pytest.mark.integration
def test_every_rule_of_both_files_is_loaded_and_evaluates_cleanly(stack: Stack) -> None:
    deployed = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    expected = sum(
        len(group["rules"])
        for name in deployed["rule_files"]
        for group in yaml.safe_load((PROMETHEUS_CONFIG.parent / name).read_text(encoding="utf-8"))[
            "groups"
        ]
    )
    loaded = [rule for group in stack.api("rules")["groups"] for rule in group["rules"]]
    assert len(loaded) == expected
    broken = [f"{r['name']}: {r.get('lastError')}" for r in loaded if r["health"] != "ok"]
    assert not broken, "rules that fail to evaluate:\n" + "\n".join(broken)


@pytest.mark.integration
def test_every_recorded_series_has_data(stack: Stack) -> None:
    deployed = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    names = sorted(
        {
            rule["record"]
            for name in deployed["rule_files"]
            for group in yaml.safe_load(
                (PROMETHEUS_CONFIG.parent / name).read_text(encoding="utf-8")
            )["groups"]
            for rule in group["rules"]
            if "record" in rule
        }
    )
    assert names
    empty, report = [], []
    for name in names:
        result = stack.query(name)
        report.append(
            f"{len(result):3} series{' (all NaN)' if result and _all_nan(result) else ''}"
            f"  {name}  {_describe(result)}"
        )
        if not result:
            empty.append(name)
    print("\n".join(report))
    assert not empty, "recorded series without data:\n" + "\n".join(empty)


@pytest.mark.integration
def test_every_dashboard_query_has_data(stack: Stack) -> None:
    queries = dashboard_queries(DASHBOARDS)
    assert queries, f"no Grafana dashboard with queries in {DASHBOARDS}"
    failures, tolerated, report = [], [], []
    for query in queries:
        try:
            result = stack.query(query.promql)
        except QueryError as exc:
            failures.append(f"{query}\n    → rejected by Prometheus: {exc}")
            continue
        nan = " (all NaN)" if result and _all_nan(result) else ""
        report.append(f"{len(result):3} series{nan}  {query}")
        if result:
            continue
        read = set(re.findall(r"\bvocwatch_\w+", query.promql))
        if read <= set(ERROR_ONLY_METRICS) and not any(
            _has_samples(stack.metrics_seen, m) for m in read
        ):
            tolerated.append(
                f"{query}\n    → no data: reads only error counters that the "
                "healthy worker has not exposed yet"
            )
        else:
            failures.append(f"{query}\n    → no data")
    print("\n".join([*report, "", "tolerated:", *tolerated]))
    assert not failures, (
        f"{len(failures)} of {len(queries)} dashboard queries returned "
        "nothing:\n" + "\n".join(failures)
    )


@pytest.mark.integration
def test_every_dashboard_variable_has_values(stack: Stack) -> None:
    variables = variable_queries(DASHBOARDS)
    assert variables
    empty = []
    for dashboard, name, query in variables:
        match = re.fullmatch(r"\s*label_values\((?:(?P<metric>.+),\s*)?(?P<label>\w+)\)\s*", query)
        assert match, f"{dashboard}: ${name} is not a label_values(...) query: {query}"
        if match.group("metric"):
            values = {
                r["metric"].get(match.group("label"))
                for r in stack.query(f"count by ({match.group('label')}) ({match.group('metric')})")
            } - {None}
        else:
            values = set(stack.api(f"label/{match.group('label')}/values"))
        if not values:
            empty.append(f"{dashboard}: ${name} = {query}")
    assert not empty, "variables without values:\n" + "\n".join(empty)


@pytest.mark.integration
def test_no_health_alert_is_pending_or_firing_on_a_healthy_worker(stack: Stack) -> None:
    alerts = stack.api("alerts")["alerts"]
    assert alerts == [], json.dumps(alerts, ensure_ascii=False, indent=1)
