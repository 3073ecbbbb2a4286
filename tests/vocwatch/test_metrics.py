"""The scrape-time collectors of vocwatch/metrics.py, on a fresh registry."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from vocwatch.metrics import Metrics, catalogue, observe_many, register_collectors


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_each_analysis_process_reports_its_own_memory_and_cpu() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # Until the interpreter is up, the child is a fork of a few hundred kilobytes.
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        registry = CollectorRegistry()
        register_collectors(
            registry,
            analysis_pids=lambda: [os.getpid(), child.pid],
            consumer_lag=dict,
            stalled_seconds=lambda: 0.0,
        )
        samples = _samples(registry)
    finally:
        child.kill()
        child.communicate()
    name = "vocwatch_analysis_process_resident_memory_bytes"
    ours = samples[(name, (("process", "0"),))]
    theirs = samples[(name, (("process", "1"),))]
    assert ours > theirs > 1_000_000  # this test process is larger than an idle interpreter
    # the same process, read twice: the same memory, give or take what changed between
    assert abs(samples[("process_resident_memory_bytes", ())] - ours) < 0.1 * ours
    assert samples[("vocwatch_analysis_process_cpu_seconds_total", (("process", "0"),))] > 0


def test_a_process_that_is_gone_is_left_out() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    registry = CollectorRegistry()
    register_collectors(
        registry,
        analysis_pids=lambda: [child.pid],
        consumer_lag=dict,
        stalled_seconds=lambda: 0.0,
    )
    names = {name for name, _ in _samples(registry)}
    assert not any(name.startswith("vocwatch_analysis_") for name in names)


def test_lag_and_stall_are_computed_when_scraped() -> None:
    lag = {"vocwatch.complaints": 3}
    stalled = [0.0]
    registry = CollectorRegistry()
    register_collectors(
        registry,
        analysis_pids=list,
        consumer_lag=lambda: lag,
        stalled_seconds=lambda: stalled[0],
    )
    before = _samples(registry)
    lag["vocwatch.complaints"], stalled[0] = 0, 12.5
    after = _samples(registry)
    key = ("vocwatch_consumer_lag_messages", (("topic", "vocwatch.complaints"),))
    assert (before[key], after[key]) == (3, 0)
    assert after[("vocwatch_stalled_seconds", ())] == 12.5


def test_the_catalogue_holds_every_metric_and_collector() -> None:
    registry, metrics = catalogue()
    assert isinstance(metrics, Metrics)
    names = {family.name for family in registry.collect()}
    assert {
        "vocwatch_events_received",
        "process_resident_memory_bytes",
        "vocwatch_analysis_process_resident_memory_bytes",
        "vocwatch_consumer_lag_messages",
        "python_gc_collections",
    } <= names


def _histogram_samples(
    amounts: list[float], *, many: bool
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    histogram = Histogram("h", "h", ["source"], buckets=(0.1, 0.5, 1.0), registry=registry)
    child = histogram.labels("call")
    if many:
        observe_many(child, amounts)
    else:
        for amount in amounts:
            child.observe(amount)
    return {key: value for key, value in _samples(registry).items() if "_created" not in key[0]}


def test_observe_many_is_observe_one_by_one() -> None:
    # On a bound, between bounds, past the last, below 0, NaN, an empty batch.
    amounts = [0.1, 0.05, 0.3, 0.5, 0.5000001, 1.0, 7.0, -2.0, float("nan"), 0.0]
    for batch in ([], amounts[:3], amounts):
        many, one_by_one = (
            _histogram_samples(batch, many=True),
            _histogram_samples(batch, many=False),
        )
        assert many.keys() == one_by_one.keys()
        for name, value in one_by_one.items():
            assert many[name] == value or (math.isnan(value) and math.isnan(many[name])), name


def test_observe_many_refuses_a_histogram_with_labels_unset() -> None:
    histogram = Histogram("h", "h", ["source"], registry=CollectorRegistry())
    with pytest.raises(ValueError, match="label"):
        observe_many(histogram, [1.0])
