"""The compose file and Dockerfile, checked offline (no Docker engine here): valid against
the compose specification, and in agreement with the repository, the settings, the
Prometheus configuration and the Grafana provisioning."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from vocwatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
THIRD_PARTY = {"kafka", "redis", "prometheus", "alertmanager", "grafana"}
# The observability services and the port each publishes on the host (docs/deploy.md).
PUBLISHED = {"prometheus": 9090, "alertmanager": 9093, "grafana": 3000}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool, "check-jsonschema is a test dependency"
    result = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_vocwatch_services_use_only_known_settings() -> None:
    services = compose()["services"]
    for name in ("topics", "worker", "demo"):
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        settings = Settings.from_env(env)  # an unknown VOCWATCH_ name would raise
        assert settings.broker_url == "kafka://kafka:9092"
        assert settings.redis_url.startswith("redis://redis:")


def test_worker_exposes_the_port_it_serves_on() -> None:
    worker = compose()["services"]["worker"]
    assert worker["expose"] == [str(Settings().web_port)]
    assert str(Settings().web_port) in " ".join(worker["healthcheck"]["test"])
    assert "ports" not in worker, "fixed host ports would stop --scale worker=3"


def test_commands_are_vocwatch_commands() -> None:
    from vocwatch.cli import _parser

    for name, service in compose()["services"].items():
        command = service.get("command", [])
        if service["image"].startswith("vocwatch:"):
            assert command and command[0] == "vocwatch", name
            _parser().parse_args(command[1:])  # exits on an unknown command
        else:
            assert name in THIRD_PARTY, name


def test_dockerfile_copies_what_exists() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = re.findall(r"^COPY (\S+(?: \S+)*?) \S+$", dockerfile, re.M)
    paths = [p for line in copied for p in line.split()]
    assert paths
    for path in paths:
        assert (ROOT / path).exists(), path
    for package in ("vocwatch", "streams", "classifiers", "alerts"):
        assert package in paths


# --- the observability stack ------------------------------------------------------------


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of every bind mount of a service (short or long syntax)."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/", "~")):
            mounts.append((source, target))
    return mounts


def container_path(service: dict[str, Any], host_path: Path) -> str | None:
    """Where a repository file appears inside the service's container, if it is mounted."""
    for source, target in bind_mounts(service):
        mounted = (ROOT / source).resolve()
        if host_path == mounted:
            return target
        if mounted in host_path.parents:
            return f"{target}/{host_path.relative_to(mounted).as_posix()}"
    return None


def published_ports(service: dict[str, Any]) -> dict[int, int]:
    """Container port → host port of a service's short-syntax port mappings."""
    ports = {}
    for mapping in service.get("ports", []):
        parts = str(mapping).split("/")[0].split(":")  # [IP:]HOST:CONTAINER or CONTAINER
        ports[int(parts[-1])] = int(parts[-2] if len(parts) > 1 else parts[-1])
    return ports


def prometheus_config() -> dict[str, Any]:
    assert PROMETHEUS_CONFIG.exists(), f"{PROMETHEUS_CONFIG} is mounted but missing"
    loaded: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    return loaded


def host_port(target: str) -> tuple[str, int]:
    host, port = target.rsplit(":", 1)
    return host, int(port)


def test_every_mounted_host_path_exists() -> None:
    for name, service in compose()["services"].items():
        for source, _ in bind_mounts(service):
            assert not source.startswith(("/", "~")), f"{name}: {source} is outside the repo"
            assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_observability_services_publish_the_documented_ports() -> None:
    services = compose()["services"]
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    for name, port in PUBLISHED.items():
        assert name in services, name
        assert published_ports(services[name]) == {port: port}, name
        assert f"localhost:{port}" in doc, f"docs/deploy.md does not give {name}'s URL"


def test_only_the_observability_services_publish_host_ports() -> None:
    for name, service in compose()["services"].items():
        assert bool(service.get("ports")) == (name in PUBLISHED), name


def test_services_without_a_login_listen_on_loopback_only() -> None:
    services = compose()["services"]
    for name in ("prometheus", "alertmanager"):
        for mapping in services[name]["ports"]:
            assert str(mapping).startswith("127.0.0.1:"), f"{name} publishes {mapping}"


def test_observability_images_are_pinned() -> None:
    services = compose()["services"]
    assert services["prometheus"]["image"] == "prom/prometheus:v2.53.0"
    assert services["alertmanager"]["image"] == "prom/alertmanager:v0.27.0"
    assert services["grafana"]["image"] == "grafana/grafana:11.1.0"


def test_prometheus_gets_its_config_and_rules_from_the_repo() -> None:
    prometheus = compose()["services"]["prometheus"]
    config_in_container = container_path(prometheus, PROMETHEUS_CONFIG.resolve())
    flags = [arg for arg in prometheus.get("command", []) if arg.startswith("--config.file=")]
    expected = flags[0].split("=", 1)[1] if flags else "/etc/prometheus/prometheus.yml"
    assert config_in_container == expected
    # rule_files are resolved relative to the config file, inside the container.
    rule_files = prometheus_config().get("rule_files", [])
    assert rule_files
    config_dir = Path(expected).parent
    for pattern in rule_files:
        in_repo = sorted(PROMETHEUS_CONFIG.parent.glob(pattern))
        assert in_repo, f"rule_files {pattern} matches nothing in deploy/prometheus"
        for path in in_repo:
            assert (
                container_path(prometheus, path.resolve())
                == (config_dir / path.relative_to(PROMETHEUS_CONFIG.parent)).as_posix()
            ), path


def test_prometheus_scrapes_every_compose_worker() -> None:
    services = compose()["services"]
    worker_port = Settings().web_port
    jobs = [
        job
        for job in prometheus_config()["scrape_configs"]
        if any("worker" in sd.get("names", []) for sd in job.get("dns_sd_configs", []))
        or any(
            host_port(t)[0] == "worker"
            for sc in job.get("static_configs", [])
            for t in sc.get("targets", [])
        )
    ]
    assert len(jobs) == 1, "one scrape job for the compose service 'worker'"
    (job,) = jobs
    assert job.get("metrics_path", "/metrics") == "/metrics"
    # A scaled service has one DNS A record per container: DNS discovery finds each worker,
    # where a static "worker:6066" would reach one of them at random.
    assert "static_configs" not in job, "static targets would scrape one worker of several"
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["worker"] and discovery.get("type", "SRV") == "A"
    assert discovery["port"] == worker_port
    assert str(worker_port) in services["worker"]["expose"]


def test_prometheus_targets_are_compose_services() -> None:
    services = compose()["services"]
    config = prometheus_config()
    targets = [
        t
        for job in config["scrape_configs"]
        for sc in job.get("static_configs", [])
        for t in sc.get("targets", [])
    ]
    alertmanagers = [
        t
        for am in config["alerting"]["alertmanagers"]
        for sc in am.get("static_configs", [])
        for t in sc.get("targets", [])
    ]
    assert alertmanagers == ["alertmanager:9093"]
    for target in targets + alertmanagers:
        host, port = host_port(target)
        if host == "localhost":
            continue
        assert host in services, target
        if host in PUBLISHED:
            assert port in published_ports(services[host]), target


def test_grafana_datasource_points_at_the_compose_prometheus() -> None:
    services = compose()["services"]
    data = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )
    (datasource,) = data["datasources"]
    url = urllib.parse.urlsplit(datasource["url"])
    assert url.scheme == "http" and url.hostname == "prometheus"
    assert url.port in published_ports(services["prometheus"])  # the container port
    assert "prometheus" in _depends_on(services["grafana"])
    # Grafana's $__rate_interval is at least 4 × timeInterval: keep it the scrape interval.
    scrape_interval = prometheus_config()["global"]["scrape_interval"]
    assert datasource["jsonData"]["timeInterval"] == scrape_interval


def _depends_on(service: dict[str, Any]) -> set[str]:
    depends = service.get("depends_on", [])
    return set(depends if isinstance(depends, list) else depends.keys())


def test_grafana_loads_the_dashboards_it_is_given() -> None:
    grafana = compose()["services"]["grafana"]
    assert (
        container_path(grafana, (GRAFANA / "provisioning").resolve()) == "/etc/grafana/provisioning"
    )
    data = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "vocwatch.yml").read_text(encoding="utf-8")
    )
    (provider,) = data["providers"]
    assert provider["type"] == "file"
    assert (
        container_path(grafana, (GRAFANA / "dashboards").resolve())
        == provider["options"]["path"]
        == "/var/lib/grafana/dashboards"
    )
    home = grafana["environment"].get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert home.startswith(provider["options"]["path"] + "/")
        assert (GRAFANA / "dashboards" / Path(home).name).exists()


def test_grafana_admin_password_comes_from_the_environment() -> None:
    environment = compose()["services"]["grafana"]["environment"]
    password = environment["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:-[^}]+\}", password), password
    assert "GRAFANA_ADMIN_PASSWORD" in DEPLOY_DOC.read_text(encoding="utf-8")


def test_alertmanager_gets_its_config_from_the_repo() -> None:
    alertmanager = compose()["services"]["alertmanager"]
    config = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
    flags = [a for a in alertmanager.get("command", []) if a.startswith("--config.file=")]
    expected = flags[0].split("=", 1)[1] if flags else "/etc/alertmanager/alertmanager.yml"
    assert container_path(alertmanager, config.resolve()) == expected


def test_the_worker_reads_its_api_token_from_an_env_file_that_is_never_committed() -> None:
    worker = compose()["services"]["worker"]
    assert worker["env_file"] == [{"path": "./vocwatch.env", "required": True}]
    assert "VOCWATCH_API_TOKEN" not in worker["environment"]  # not in the public file
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "vocwatch.env" in ignored
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert "> vocwatch.env" in deploy  # the docs say how to make it
