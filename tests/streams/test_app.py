"""streams.app.create_service: the text-analysis policies come from the settings."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from classifiers.polarity import Cutoffs, PolarityPolicy
from classifiers.priority import DEFAULT_POLICY_FILE, PriorityPolicy
from streams.analysis import InlineRunner
from streams.analysis_process import ProcessRunner
from streams.app import create_service
from vocwatch.errors import ConfigError
from vocwatch.settings import Settings


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    # Nothing connects while the service is built: no broker or Redis needed.
    return Settings(
        broker_url="kafka://127.0.0.1:1",
        redis_url="redis://127.0.0.1:1/0",
        data_dir=tmp_path / "data",
        **overrides,
    )


def test_analyzer_uses_the_policy_files_of_the_settings(tmp_path: Path) -> None:
    polarity = tmp_path / "polarity.yaml"
    polarity.write_text(
        "default: {negative_from: 0.7, positive_from: 0.8}\n"
        "channels: {social: {positive_from: 0.9}}\n",
        encoding="utf-8",
    )
    priority = tmp_path / "priority.yaml"
    priority.write_text(
        DEFAULT_POLICY_FILE.read_text(encoding="utf-8").replace(
            "levels: {P1: 6, P2: 3}", "levels: {P1: 5, P2: 2}"
        ),
        encoding="utf-8",
    )
    service = create_service(
        settings(tmp_path, polarity_file=polarity, priority_file=priority, analysis_processes=0),
        registry=CollectorRegistry(),
    )
    runner = service.pipeline.runner
    assert isinstance(runner, InlineRunner)
    analyzer = runner.analyzer
    assert analyzer.polarity == PolarityPolicy(Cutoffs(0.7, 0.8), {"social": Cutoffs(0.7, 0.9)})
    assert analyzer.policy == PriorityPolicy.load(priority)
    assert (analyzer.policy.p1_points, analyzer.policy.p2_points) == (5, 2)


def test_an_invalid_policy_file_stops_the_service(tmp_path: Path) -> None:
    polarity = tmp_path / "polarity.yaml"
    polarity.write_text("default: {negative_from: 0.4}\n", encoding="utf-8")
    for processes in (0, 1):  # also when the policies are used in another process
        with pytest.raises(ConfigError, match=r"default\.positive_from"):
            create_service(
                settings(tmp_path, polarity_file=polarity, analysis_processes=processes),
                registry=CollectorRegistry(),
            )


def test_a_model_folder_that_cannot_be_used_stops_the_service(tmp_path: Path) -> None:
    broken = tmp_path / "models"
    broken.mkdir()
    (broken / "sentiment.npz").write_bytes(b"not a model")
    for processes in (0, 1):  # also when the models are loaded in another process
        with pytest.raises(ConfigError, match=r"sentiment\.npz: cannot read the model file"):
            create_service(
                settings(tmp_path, model_dir=broken, analysis_processes=processes),
                registry=CollectorRegistry(),
            )


def test_analysis_runs_in_a_second_process_by_default(tmp_path: Path) -> None:
    service = create_service(settings(tmp_path), registry=CollectorRegistry())
    runner = service.pipeline.runner
    assert isinstance(runner, ProcessRunner)
    runner.close()


def test_the_worker_keeps_the_root_logger_at_its_level() -> None:
    """Faust's terminal spinner would set the root logger to DEBUG, so that every debug
    call of Faust and the Kafka client built a record (one per record sent)."""
    import subprocess
    import sys

    script = (
        "import logging, os, faust\n"
        "from streams.app import faust_worker\n"
        "app = faust.App('t', broker='kafka://127.0.0.1:1', autodiscover=False)\n"
        "worker = faust_worker(app, 'warning')\n"
        "worker._setup_logging()\n"
        "level = logging.getLogger('faust.topics').getEffectiveLevel()\n"
        "os.write(1, f'{worker.spinner} {level}'.encode())\n"
    )  # stdout is redirected
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split()[-2:] == ["None", str(logging.WARNING)]


@pytest.mark.parametrize(
    ("host", "writable"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 — classified, never bound
        ("10.1.2.3", False),
        ("worker.internal", False),
    ],
)
def test_without_a_token_only_a_loopback_worker_serves_the_writing_api(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, host: str, writable: bool
) -> None:
    with caplog.at_level(logging.WARNING, logger="streams.app"):
        service = create_service(
            settings(tmp_path, web_host=host, analysis_processes=0), registry=CollectorRegistry()
        )
    assert service.api is not None and service.api.writable is writable
    assert service.api.mode == ("read-write" if writable else "read-only")
    warned = [r.getMessage() for r in caplog.records if "read-only" in r.getMessage()]
    assert bool(warned) is not writable


def test_a_token_makes_the_writing_api_available_on_any_address(tmp_path: Path) -> None:
    service = create_service(
        settings(tmp_path, web_host="0.0.0.0", api_token="t0ken", analysis_processes=0),  # noqa: S104
        registry=CollectorRegistry(),
    )
    assert service.api is not None and service.api.writable


def test_the_registry_reports_process_memory_of_the_worker_and_analysis_processes(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    create_service(settings(tmp_path, analysis_processes=0), registry=registry)
    assert (registry.get_sample_value("process_resident_memory_bytes") or 0) > 0
    assert registry.get_sample_value("process_cpu_seconds_total") is not None
    assert registry.get_sample_value("python_gc_collections_total", {"generation": "0"}) is not None
    # no analysis process in this configuration, and lag 0 before any partition is assigned
    names = {family.name for family in registry.collect()}
    assert "vocwatch_consumer_lag_messages" in names
    assert registry.get_sample_value("vocwatch_stalled_seconds", {}) == 0


def test_a_metric_names_the_models_in_use_and_corrections_start_at_zero(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    service = create_service(settings(tmp_path, analysis_processes=0), registry=registry)
    assert service.models.startswith("sentiment-")  # the shipped pair
    assert registry.get_sample_value("vocwatch_models_info", {"version": service.models}) == 1
    assert [
        sample.labels["version"]
        for family in registry.collect()
        if family.name == "vocwatch_models_info"
        for sample in family.samples
    ] == [service.models]
    for kind in ("category", "sentiment"):
        assert registry.get_sample_value("vocwatch_corrections_total", {"kind": kind}) == 0
    assert service.api is not None and service.api.corrections is not None
