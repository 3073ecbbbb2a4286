"""The Prometheus and Alertmanager files of deploy/, checked with the real tools (promtool,
amtool: Debian packages ``prometheus`` and ``prometheus-alertmanager``) and against the code:
every metric a rule reads exists, every alert is labelled, routed, unit-tested both ways and
documented, and the scrape configuration finds the workers of docker-compose.yml."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from vocwatch.metrics import catalogue
from vocwatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RECORDING = PROMETHEUS_DIR / "rules" / "recording.yml"
ALERTING = PROMETHEUS_DIR / "rules" / "alerting.yml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "rules" / "tests").glob("*.yml"))
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
INSTALL = "apt-get install prometheus prometheus-alertmanager"


def tool(name: str) -> str:
    """The path of a Prometheus tool; a missing one fails the test (it is never skipped)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; these tests need it: {INSTALL}")
    return path


def run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool(name), *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in load(path)["groups"] for rule in group["rules"]]


ALERTS = rules(ALERTING)
RECORDS = rules(RECORDING)
ALERT_NAMES = [rule["alert"] for rule in ALERTS]


# --- the real tools -------------------------------------------------------------------


def test_prometheus_config_is_valid_and_loads_both_rule_files() -> None:
    result = run("promtool", "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 rule files found" in result.stdout, result.stdout


@pytest.mark.parametrize("path", [RECORDING, ALERTING], ids=lambda p: p.name)
def test_rule_file_is_valid(path: Path) -> None:
    result = run("promtool", "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    assert RULE_TESTS, "no promtool unit tests in deploy/prometheus/rules/tests/"
    result = run("promtool", "test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_alertmanager_config_is_valid() -> None:
    result = run("amtool", "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["team=platform", "severity=critical"], "platform"),
        (["team=platform", "severity=warning"], "platform"),
        (["alertname=SomethingElse"], "default"),
    ],
)
def test_alertmanager_routes(labels: list[str], receiver: str) -> None:
    result = run(
        "amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


# --- Alertmanager: repeat intervals, receivers, inhibition ----------------------------


def platform_routes() -> dict[str, dict[str, Any]]:
    route = load(ALERTMANAGER_CONFIG)["route"]
    (platform,) = [r for r in route["routes"] if r["matchers"] == ['team="platform"']]
    return {r["matchers"][0]: r for r in platform["routes"]}


def test_critical_repeats_hourly_and_warning_every_four_hours() -> None:
    routes = platform_routes()
    assert routes['severity="critical"']["repeat_interval"] == "1h"
    assert routes['severity="warning"']["repeat_interval"] == "4h"


def test_every_alert_severity_has_a_route() -> None:
    severities = {rule["labels"]["severity"] for rule in ALERTS}
    assert {f'severity="{s}"' for s in severities} <= set(platform_routes())


def test_inhibit_rules_name_existing_alerts() -> None:
    config = load(ALERTMANAGER_CONFIG)
    named: set[str] = set()
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            match = re.fullmatch(r'alertname(=~|!=|=)"(.+)"', matcher)
            if match:
                named.update(match.group(2).split("|"))
        assert rule["equal"], "an inhibit rule without `equal` would mute other deployments"
    assert named and named <= set(ALERT_NAMES), named - set(ALERT_NAMES)
    assert any(
        r["source_matchers"] == ['alertname="VocwatchWorkerDown"']
        and r["equal"] == ["job", "instance"]
        for r in config["inhibit_rules"]
    )


def test_webhooks_are_the_documented_placeholder() -> None:
    urls = [
        hook["url"]
        for receiver in load(ALERTMANAGER_CONFIG)["receivers"]
        for hook in receiver.get("webhook_configs", [])
    ]
    assert urls and all(u.startswith("http://vocwatch-webhook:8080/") for u in urls)
    assert "http://vocwatch-webhook:8080/" in deploy_section()


# --- alerting rules -------------------------------------------------------------------


@pytest.mark.parametrize("rule", ALERTS, ids=ALERT_NAMES)
def test_alert_is_labelled_for_routing_and_explained_in_english_and_chinese(
    rule: dict[str, Any],
) -> None:
    assert rule["alert"].startswith("Vocwatch")
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["labels"]["team"] == "platform"
    annotations = rule["annotations"]
    assert set(annotations) >= {"summary", "summary_zh", "description"}
    assert re.search(r"[\u4e00-\u9fff]", annotations["summary_zh"]), "summary_zh is Chinese"
    assert not re.search(r"[\u4e00-\u9fff]", annotations["summary"] + annotations["description"])


def alert_rule_tests() -> list[dict[str, Any]]:
    return [
        check
        for path in RULE_TESTS
        for test in load(path)["tests"]
        for check in test.get("alert_rule_test", [])
    ]


@pytest.mark.parametrize("name", ALERT_NAMES)
def test_alert_is_unit_tested_firing_and_not_firing(name: str) -> None:
    checks = [c for c in alert_rule_tests() if c["alertname"] == name]
    assert any(c.get("exp_alerts") for c in checks), f"no promtool test where {name} fires"
    assert any(not c.get("exp_alerts") for c in checks), (
        f"no promtool test where {name} stays quiet"
    )


def test_alerts_and_thresholds_of_the_brief() -> None:
    by_name = {rule["alert"]: rule for rule in ALERTS}
    expected = {
        "VocwatchWorkerDown": 'up{job="vocwatch"} == 0',
        "VocwatchDeadLetterRatioHigh": "> 0.05",
        "VocwatchConsumerLagHigh": "> 10000",
        "VocwatchProcessingLatencyHigh": "> 30",
    }
    for name, fragment in expected.items():
        assert fragment in by_name[name]["expr"], name
    assert by_name["VocwatchDeadLetterRatioHigh"]["for"] == "10m"
    assert by_name["VocwatchConsumerLagHigh"]["for"] == "5m"
    assert {
        "VocwatchNoEventsReceived",
        "VocwatchKafkaPublishErrors",
        "VocwatchSinkDeliveryFailures",
        "VocwatchRedisErrors",
    } <= set(by_name)


# --- recording rules ------------------------------------------------------------------

_RECORD_NAME = re.compile(
    r"(?P<level>[a-z]+(?:_[a-z]+)*):(?P<metric>vocwatch_[a-z0-9_]+)"
    r":(?P<operations>[a-z0-9_]+)"
)


@pytest.mark.parametrize("rule", RECORDS, ids=[r["record"] for r in RECORDS])
def test_recording_rule_name_is_level_metric_operations(rule: dict[str, Any]) -> None:
    """level: the labels the output keeps besides job (``job`` when only job); metric: the
    source metric without ``_total``."""
    match = _RECORD_NAME.fullmatch(rule["record"])
    assert match, f"{rule['record']} is not level:metric:operations"
    assert not match.group("metric").endswith("_total")
    grouping = re.search(r"\bby \(([^)]*)\)", rule["expr"])
    if grouping is None:  # avg_over_time of a recorded series keeps its labels
        source = re.search(r"\((?P<level>[a-z_]+):vocwatch_[a-z0-9_]+:[a-z0-9_]+\[", rule["expr"])
        assert source, rule["expr"]
        kept = set(source.group("level").split("_"))
    else:
        kept = {label.strip() for label in grouping.group(1).split(",")} - {"job", "le"}
        kept = (kept | set(rule.get("labels", {}))) or {"job"}
    assert set(match.group("level").split("_")) == kept, rule["record"]


def metric_names() -> set[str]:
    """Every series name the worker's registry can expose."""
    registry, _ = catalogue()
    names = set()
    for family in registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


@pytest.mark.parametrize("path", [RECORDING, ALERTING], ids=lambda p: p.name)
def test_rules_read_only_metrics_the_worker_exposes(path: Path) -> None:
    known = metric_names() | {r["record"] for r in RECORDS}
    used = {
        name
        for rule in rules(path)
        for name in re.findall(
            r"(?<![\w:])(?:[a-z_]+:)?vocwatch_[a-z0-9_]+(?::[a-z0-9_]+)?", rule["expr"]
        )
    }
    assert used, path
    assert used <= known, f"unknown series in {path.name}: {sorted(used - known)}"


# --- scraping ---------------------------------------------------------------------------


def test_prometheus_scrapes_every_worker_of_the_compose_file() -> None:
    config = load(PROMETHEUS_CONFIG)
    assert config["global"]["scrape_interval"] == "15s"
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "vocwatch"]
    (discovery,) = job["dns_sd_configs"]
    port = Settings().web_port
    assert discovery == {"names": ["worker"], "type": "A", "port": port, "refresh_interval": "30s"}
    worker = load(ROOT / "docker-compose.yml")["services"]["worker"]
    assert str(port) in worker["expose"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    rule_files = [PROMETHEUS_DIR / f for f in config["rule_files"]]
    assert rule_files == [RECORDING, ALERTING]


def test_rules_select_the_scrape_job_by_its_name() -> None:
    jobs = {j["job_name"] for j in load(PROMETHEUS_CONFIG)["scrape_configs"]}
    selected = {
        job for rule in ALERTS + RECORDS for job in re.findall(r'job="([^"]+)"', rule["expr"])
    }
    assert selected == {"vocwatch"} <= jobs


# --- docs -------------------------------------------------------------------------------


def deploy_section() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    match = re.search(r"^## Prometheus and Alertmanager\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "docs/deploy.md has no '## Prometheus and Alertmanager' section"
    return match.group(1)


def test_docs_list_every_alert_and_recorded_series() -> None:
    section = deploy_section()
    missing = [
        n for n in ALERT_NAMES + sorted({r["record"] for r in RECORDS}) if f"`{n}`" not in section
    ]
    assert not missing, f"not in docs/deploy.md, 'Prometheus and Alertmanager': {missing}"


def test_docs_check_commands_run_and_pass() -> None:
    blocks = re.findall(r"^```sh\n(.*?)^```", deploy_section(), re.M | re.S)
    assert len(blocks) == 1, "one ```sh block of checks in the section"
    commands = blocks[0].splitlines()
    assert {c.split()[0] for c in commands} == {"promtool", "amtool"}
    for command in commands:
        tool(command.split()[0])
        result = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
