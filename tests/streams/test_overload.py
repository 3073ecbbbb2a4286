"""streams.overload: the backlog, the rates, the expected catch-up time, when the worker
says it is overloaded and how often it logs so. Driven by a hand-made clock and counts."""

from __future__ import annotations

import math

import pytest

from streams.overload import OverloadMeter


def feed(
    meter: OverloadMeter,
    *,
    seconds: int,
    processing: float,
    arriving: float,
    start: tuple[float, int, int],
    step: float = 5.0,
) -> tuple[float, int, int]:
    """Observe ``seconds`` of constant rates from ``start`` (time, processed, backlog);
    return where it ended."""
    now, processed, backlog = start
    for _ in range(int(seconds / step)):
        now += step
        done = min(backlog + arriving * step, processing * step)
        processed += int(done)
        backlog = int(backlog + arriving * step - done)
        meter.observe(now, processed, backlog)
    return now, processed, backlog


def test_no_backlog_is_not_overloaded() -> None:
    meter = OverloadMeter(10)
    feed(meter, seconds=60, processing=5000, arriving=1000, start=(0.0, 0, 0))
    load = meter.last
    assert (load.backlog, load.backlog_seconds, load.catch_up_seconds) == (0, 0.0, 0.0)
    assert not load.overloaded
    assert meter.report(60) is None


def test_a_growing_backlog_is_overloaded_and_never_catches_up() -> None:
    meter = OverloadMeter(10)
    feed(meter, seconds=120, processing=3000, arriving=4000, start=(0.0, 0, 0))
    load = meter.last
    assert load.backlog == 120_000
    assert load.processing_per_s == pytest.approx(3000)
    assert load.arriving_per_s == pytest.approx(4000)
    assert load.backlog_seconds == pytest.approx(40)
    assert load.catch_up_seconds == math.inf
    assert load.overloaded


def test_a_draining_backlog_gives_its_catch_up_time() -> None:
    meter = OverloadMeter(10)
    # a surge already waiting: 60,000 messages; the worker does 5,000/s, 2,000/s arrive
    meter.observe(0.0, 0, 60_000)
    feed(meter, seconds=10, processing=5000, arriving=2000, start=(0.0, 0, 60_000))
    load = meter.last
    assert load.backlog == 30_000
    assert load.backlog_seconds == pytest.approx(6)  # 30,000 / 5,000
    assert load.catch_up_seconds == pytest.approx(10)  # 30,000 / (5,000 − 2,000)
    assert not load.overloaded  # 6 s of work: under the 10 s line


def test_one_observation_says_nothing() -> None:
    meter = OverloadMeter(10)
    load = meter.observe(0.0, 0, 1_000_000)
    assert not load.overloaded
    assert meter.report(0.0) is None


def test_hysteresis_keeps_it_on_until_half_the_line() -> None:
    meter = OverloadMeter(10, smoothing_seconds=1e-9)  # no smoothing: the rates of each step
    meter.observe(0.0, 0, 0)
    assert meter.observe(1.0, 1000, 12_000).overloaded  # 12 s of work at 1,000/s
    assert meter.observe(2.0, 2000, 8_000).overloaded  # 8 s: under 10, over 5
    assert not meter.observe(3.0, 3000, 4_000).overloaded  # 4 s: under 5
    assert not meter.observe(4.0, 4000, 8_000).overloaded  # 8 s: not over 10 again


def test_the_log_says_so_at_once_then_every_30_s_then_once_caught_up() -> None:
    meter = OverloadMeter(10, smoothing_seconds=1e-9)
    meter.observe(0.0, 0, 0)
    lines: list[tuple[float, str]] = []
    processed, backlog = 0, 0
    for second in range(1, 101):
        processed += 1000
        backlog = backlog + 500 if second <= 60 else max(0, backlog - 1000)
        meter.observe(float(second), processed, backlog)
        line = meter.report(float(second))
        if line is not None:
            lines.append((second, line))
    overloaded = [(t, line) for t, line in lines if line.startswith("overloaded")]
    caught_up = [(t, line) for t, line in lines if line.startswith("caught up")]
    # over 10 s of work from second 21 (10,500 waiting at 1,000/s): then every 30 s
    assert [t for t, _ in overloaded] == [21, 51, 81]
    first = overloaded[0][1]
    assert "10500 messages waiting" in first and "1000 events/s" in first
    assert "catch up never" in first  # 1,500/s arrive while 1,000/s are processed
    assert "catch up in about" in overloaded[2][1]  # the backlog shrinks by then
    assert [t for t, _ in caught_up] == [85]  # 5,000 waiting: 5 s, not over half the line


def test_a_restarted_count_is_not_a_negative_rate() -> None:
    meter = OverloadMeter(10, smoothing_seconds=1e-9)
    meter.observe(0.0, 50_000, 100)
    load = meter.observe(5.0, 10, 100)  # processed went back (a new pipeline)
    assert load.processing_per_s == 0.0 and load.arriving_per_s == 0.0
