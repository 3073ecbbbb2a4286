"""The compose file and Dockerfile, checked offline (no Docker engine here): valid against
the compose specification, and in agreement with the repository and the settings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from vocwatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool, "check-jsonschema is a test dependency"
    result = subprocess.run([tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vocwatch_services_use_only_known_settings() -> None:
    services = compose()["services"]
    for name in ("topics", "worker", "demo"):
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        settings = Settings.from_env(env)          # an unknown VOCWATCH_ name would raise
        assert settings.broker_url == "kafka://kafka:9092"
        assert settings.redis_url.startswith("redis://redis:")


def test_worker_exposes_the_port_it_serves_on() -> None:
    worker = compose()["services"]["worker"]
    assert worker["expose"] == [str(Settings().web_port)]
    assert str(Settings().web_port) in " ".join(worker["healthcheck"]["test"])
    assert "ports" not in worker, "fixed host ports would stop --scale worker=3"


def test_commands_are_vocwatch_commands() -> None:
    from streams.cli import _parser

    for name, service in compose()["services"].items():
        command = service.get("command", [])
        if command and command[0] == "vocwatch":
            _parser().parse_args(command[1:])      # exits on an unknown command
        else:
            assert name in {"kafka", "redis"}


def test_dockerfile_copies_what_exists() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = re.findall(r"^COPY (\S+(?: \S+)*?) \S+$", dockerfile, re.M)
    paths = [p for line in copied for p in line.split()]
    assert paths
    for path in paths:
        assert (ROOT / path).exists(), path
    for package in ("vocwatch", "streams", "classifiers", "alerts"):
        assert package in paths
