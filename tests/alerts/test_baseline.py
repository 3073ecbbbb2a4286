"""alerts.baseline: EWMA mean and variance, hour-of-week slots (China time), the tails."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from alerts.baseline import (
    HOURS_OF_WEEK,
    SLOT_MIN_SAMPLES,
    Baseline,
    binomial_tail,
    hour_of_week,
    poisson_tail,
)

CHINA = timezone(timedelta(hours=8))
HOUR = 3600.0
WEEK = 7 * 24 * HOUR


def china(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CHINA).timestamp()


MONDAY = china("2026-11-23 00:00")  # a Monday


# --- hour of the week ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "hour"),
    [
        ("2026-11-23 00:00", 0),
        ("2026-11-23 00:59", 0),
        ("2026-11-23 10:30", 10),
        ("2026-11-24 09:00", 33),  # Tuesday
        ("2026-11-26 08:00", 80),  # Thursday
        ("2026-11-29 23:59", 167),
        ("2026-11-22 23:00", 167),  # Sunday nights
        ("2026-11-30 00:00", 0),  # the next Monday
        ("2026-02-16 12:00", 12),
    ],  # a Monday in another month
)
def test_hour_of_week_in_china_time(at: str, hour: int) -> None:
    assert hour_of_week(china(at)) == hour


def test_hour_of_week_is_china_time_not_utc() -> None:
    # Monday 07:59 in Beijing is still Sunday 23:59 in UTC.
    at = china("2026-11-23 07:59")
    assert datetime.fromtimestamp(at, UTC).strftime("%A %H:%M") == "Sunday 23:59"
    assert hour_of_week(at) == 7
    assert hour_of_week(0) == 80  # 1970-01-01 00:00 UTC: a Thursday, 08:00 in China


def test_hour_of_week_repeats_every_week() -> None:
    for hours in range(0, 200, 7):
        at = MONDAY + hours * HOUR + 1
        assert hour_of_week(at) == hour_of_week(at + WEEK) == hour_of_week(at - 3 * WEEK)
        assert hour_of_week(at) == hours % HOURS_OF_WEEK


# --- EWMA ----------------------------------------------------------------------------


def test_first_sample_sets_the_mean() -> None:
    baseline = Baseline().update(7.0, MONDAY, alpha=0.1)
    assert (baseline.mean, baseline.var, baseline.samples) == (7.0, 0.0, 1)


def test_ewma_against_hand_computed_values() -> None:
    # alpha 0.5: 10 → mean 10, var 0
    #            20 → diff 10: mean 10 + 5 = 15, var 0.5 × (0 + 0.5 × 100) = 25
    #            15 → diff 0: mean 15, var 0.5 × 25 = 12.5
    #             5 → diff -10: mean 10, var 0.5 × (12.5 + 50) = 31.25
    b = Baseline()
    expected = [(10.0, 0.0), (15.0, 25.0), (15.0, 12.5), (10.0, 31.25)]
    for value, (mean, var) in zip([10.0, 20.0, 15.0, 5.0], expected, strict=True):
        b = b.update(value, MONDAY, alpha=0.5)
        assert (b.mean, b.var) == (mean, var)
    assert b.samples == 4


def test_ewma_with_a_small_alpha() -> None:
    # alpha 0.1: 4 then 8 → mean 4 + 0.4 = 4.4, var 0.9 × 0.1 × 16 = 1.44
    b = Baseline().update(4.0, MONDAY, alpha=0.1).update(8.0, MONDAY, alpha=0.1)
    assert b.mean == pytest.approx(4.4)
    assert b.var == pytest.approx(1.44)
    assert b.expected(MONDAY, seasonal=False) == pytest.approx((4.4, 1.2))


def test_ewma_learns_a_steady_level_and_its_noise() -> None:
    b = Baseline()
    for i in range(400):
        b = b.update(100.0 + (10 if i % 2 else -10), MONDAY + i * 60, alpha=0.05)
    # Alternating ±10 around 100: mean ≈ 100, standard deviation ≈ 10.
    assert b.mean == pytest.approx(100.0, abs=1.0)
    assert math.sqrt(b.var) == pytest.approx(10.0, rel=0.1)


def test_update_is_pure() -> None:
    before = Baseline().update(1.0, MONDAY, alpha=0.5)
    after = before.update(3.0, MONDAY, alpha=0.5)
    assert (before.mean, before.samples) == (1.0, 1)
    assert (after.mean, after.samples) == (2.0, 2)


# --- hour-of-week slots --------------------------------------------------------------


def test_slot_mean_per_hour_of_week() -> None:
    ten = MONDAY + 10 * HOUR
    b = Baseline().update(50.0, ten, alpha=0.5).update(2.0, ten + 2 * HOUR, alpha=0.5)
    b = b.update(70.0, ten + WEEK + 60, alpha=0.5)
    assert len(b.slot_mean) == len(b.slot_samples) == HOURS_OF_WEEK
    assert (b.slot_mean[10], b.slot_samples[10]) == (60.0, 2)  # 50, then halfway to 70
    assert (b.slot_mean[12], b.slot_samples[12]) == (2.0, 1)
    assert sum(b.slot_samples) == b.samples == 3


def test_seasonal_slot_is_used_only_after_enough_samples() -> None:
    monday_ten = MONDAY + 10 * HOUR
    b = Baseline()
    for i in range(200):  # quiet the rest of the time …
        b = b.update(5.0, monday_ten + 2 * HOUR + i * 60, alpha=0.1)
    for week in range(SLOT_MIN_SAMPLES - 1):  # … busy on Monday 10:00, not yet often enough
        b = b.update(80.0, monday_ten + (week - 20) * WEEK, alpha=0.1)
    overall = b.mean
    assert b.slot_samples[10] == SLOT_MIN_SAMPLES - 1
    assert b.expected(monday_ten, seasonal=True)[0] == overall

    b = b.update(80.0, monday_ten - 30 * WEEK, alpha=0.1)
    assert b.slot_samples[10] == SLOT_MIN_SAMPLES
    assert b.expected(monday_ten, seasonal=True)[0] == 80.0
    assert b.expected(monday_ten + 59 * 60, seasonal=True)[0] == 80.0  # same hour
    assert b.expected(monday_ten, seasonal=False)[0] == b.mean != 80.0
    # Other hours have no slot history: the overall mean.
    assert b.expected(monday_ten + 20 * HOUR, seasonal=True)[0] == b.mean
    assert b.expected(monday_ten + 3 * HOUR, seasonal=True)[0] == 5.0  # a learned quiet hour
    # The deviation is the overall one either way.
    assert b.expected(monday_ten, seasonal=True)[1] == math.sqrt(b.var)


def test_expected_of_an_empty_baseline() -> None:
    assert Baseline().expected(MONDAY, seasonal=True) == (0.0, 0.0)
    assert Baseline().expected(MONDAY, seasonal=False) == (0.0, 0.0)


# --- JSON ----------------------------------------------------------------------------


def learned() -> Baseline:
    b = Baseline()
    for i, value in enumerate([4.0, 8.0, 6.0, 2.0, 10.0]):
        b = b.update(value, MONDAY + i * 5 * HOUR, alpha=0.5)
    return b.update(12.0, MONDAY + WEEK + 5 * HOUR, alpha=0.5)  # hour 5 again


def test_json_round_trip() -> None:
    b = learned()
    data = b.to_json()
    assert Baseline.from_json(data) == b
    assert Baseline.from_json(json.loads(json.dumps(data))) == b


def test_json_slots_are_sparse() -> None:
    data = learned().to_json()
    assert set(data) == {"mean", "var", "samples", "slots"}
    assert data["samples"] == 6
    assert data["slots"] == {
        "0": [4.0, 1],
        "5": [10.0, 2],
        "10": [6.0, 1],
        "15": [2.0, 1],
        "20": [10.0, 1],
    }


def test_from_json_without_slots() -> None:
    b = Baseline.from_json({"mean": 3, "var": 4, "samples": 40})
    assert (b.mean, b.var, b.samples) == (3.0, 4.0, 40)
    assert b.expected(MONDAY, seasonal=True) == (3.0, 2.0)


# --- tails ---------------------------------------------------------------------------


def exact_poisson_tail(k: int, lam: float) -> float:
    # Summed upwards (1 − lower sum would lose the far tail to rounding); for these small
    # rates the terms past k + 60 are far below double precision.
    return sum(math.exp(-lam) * lam**i / math.factorial(i) for i in range(k, k + 60))


def exact_binomial_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize("lam", [0.1, 0.5, 1.0, 2.5, 4.0, 10.0])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 13, 20, 30])
def test_poisson_tail_is_exact(k: int, lam: float) -> None:
    assert poisson_tail(k, lam) == pytest.approx(exact_poisson_tail(k, lam), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.8])
@pytest.mark.parametrize(
    ("k", "n"), [(1, 1), (1, 4), (2, 4), (4, 4), (3, 10), (7, 10), (10, 10), (5, 30), (20, 30)]
)
def test_binomial_tail_is_exact(k: int, n: int, p: float) -> None:
    assert binomial_tail(k, n, p) == pytest.approx(
        exact_binomial_tail(k, n, p), rel=1e-9, abs=1e-300
    )


def test_tails_known_values() -> None:
    assert poisson_tail(1, 1.0) == pytest.approx(1 - math.exp(-1))
    assert poisson_tail(3, 0.5) == pytest.approx(1 - math.exp(-0.5) * (1 + 0.5 + 0.125))
    assert binomial_tail(1, 4, 0.5) == pytest.approx(15 / 16)
    assert binomial_tail(4, 4, 0.5) == pytest.approx(1 / 16)


def test_tail_edge_cases() -> None:
    assert poisson_tail(0, 3.0) == poisson_tail(-1, 3.0) == 1.0
    assert binomial_tail(0, 10, 0.2) == binomial_tail(0, 0, 0.2) == 1.0
    assert binomial_tail(11, 10, 0.99) == binomial_tail(1, 0, 0.5) == 0.0
    # A rate of zero: any event is (almost) impossible, and nothing breaks.
    assert 0.0 < poisson_tail(1, 0.0) < 1e-8
    assert 0.0 < binomial_tail(1, 10, 0.0) < 1e-7
    assert binomial_tail(10, 10, 1.0) == pytest.approx(1.0)
    # Far in the tail the probability is tiny, not negative, not NaN.
    assert 0.0 <= poisson_tail(500, 1.0) < 1e-300
    assert 0.0 <= binomial_tail(900, 1000, 0.1) < 1e-100


def test_tails_at_large_volume_are_fast_and_sane() -> None:
    # Around the mean of a big count the tail is about a half; far above it, tiny.
    assert poisson_tail(10_000, 10_000.0) == pytest.approx(0.5, abs=0.01)
    assert poisson_tail(10_500, 10_000.0) < 1e-5
    assert poisson_tail(9_500, 10_000.0) > 1 - 1e-5
    assert binomial_tail(5_000, 10_000, 0.5) == pytest.approx(0.5, abs=0.01)
    assert binomial_tail(5_300, 10_000, 0.5) < 1e-8


def test_tails_fall_as_k_rises() -> None:
    poisson = [poisson_tail(k, 3.0) for k in range(12)]
    binomial = [binomial_tail(k, 12, 0.3) for k in range(14)]
    assert poisson == sorted(poisson, reverse=True)
    assert binomial == sorted(binomial, reverse=True)
    assert poisson[0] == binomial[0] == 1.0
