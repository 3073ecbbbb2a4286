"""alerts.evaluate: threshold and spike evaluation with a fixed clock — the scenarios of the
alert redesign as pure code (busy keys, quiet keys, low volume, warm-up, seasonality)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from alerts.baseline import SLOT_MIN_SAMPLES, Baseline, poisson_tail
from alerts.evaluate import Evaluation, evaluate
from alerts.rules import Rule, WindowCounts, parse_rules

CHINA = timezone(timedelta(hours=8))
MONDAY = datetime(2026, 11, 23, tzinfo=CHINA).timestamp()  # Monday 00:00 in Beijing
HOUR = 3600.0
WEEK = 7 * 24 * HOUR
NOW = MONDAY + 14 * HOUR  # Monday 14:00: the clock


def rule(**changes: Any) -> Rule:
    data: dict[str, Any] = {
        "name": "r",
        "key": ["channel", "category"],
        "window": "15m",
        "measure": "negative_count",
        "priority": "P2",
        **changes,
    }
    if "spike" not in data and "threshold" not in data:
        data["threshold"] = 10
    (parsed,) = parse_rules({"rules": [{k: v for k, v in data.items() if v is not ...}]})
    return parsed


def spike(measure: str = "count", min_count: int = 1, **fields: Any) -> Rule:
    return rule(measure=measure, min_count=min_count, spike={"z": 4, "warmup": 30, **fields})


def learn(
    values: Iterable[float],
    *,
    start: float = NOW - 200 * 60,
    step: float = 60.0,
    alpha: float = 0.1,
    baseline: Baseline | None = None,
) -> Baseline:
    """A baseline fed one value per step, as the engine's baseline steps do."""
    b = baseline or Baseline()
    for i, value in enumerate(values):
        b = b.update(value, start + i * step, alpha=alpha)
    return b


def noisy(level: float, n: int, seed: int) -> list[float]:
    """Counts around ``level`` with Poisson-like noise (standard deviation √level)."""
    rng = random.Random(seed)
    return [max(0, round(rng.gauss(level, math.sqrt(level)))) for _ in range(n)]


def counted(n: int) -> WindowCounts:
    return WindowCounts(count=n, negative=n)


def check(
    r: Rule,
    counts: WindowCounts,
    baseline: Baseline | None = None,
    *,
    now: float = NOW,
    warm: bool = True,
) -> Evaluation:
    return evaluate(r, counts, now=now, baseline=baseline, warm=warm)


# --- threshold rules -----------------------------------------------------------------


def test_breached_needs_threshold_and_min_count() -> None:
    r = rule(threshold=10, min_count=12)
    assert check(r, WindowCounts(count=12, negative=10)).breached
    assert check(r, WindowCounts(count=50, negative=30)).breached
    assert not check(r, WindowCounts(count=50, negative=9)).breached  # below threshold
    assert not check(r, WindowCounts(count=11, negative=11)).breached  # below min_count


def test_holds_with_hysteresis() -> None:
    r = rule(threshold=10, resolve_ratio=0.8)
    # Fires at 10, keeps firing down to 8 (10 × 0.8), resolves below.
    assert check(r, WindowCounts(count=20, negative=10)).breached
    assert not check(r, WindowCounts(count=20, negative=9)).breached
    assert check(r, WindowCounts(count=20, negative=9)).holds
    assert check(r, WindowCounts(count=20, negative=8)).holds
    assert not check(r, WindowCounts(count=20, negative=7)).holds
    assert not check(r, WindowCounts()).holds


def test_holds_ignores_min_count() -> None:
    r = rule(measure="negative_share", threshold=0.75, min_count=40)
    small = WindowCounts(count=10, negative=10)
    assert not check(r, small).breached
    assert check(r, small).holds
    assert check(r, WindowCounts(count=40, negative=30)).breached
    # Resolves below 0.75 × 0.8 = 0.6 (exact float boundaries avoided: 0.75 × 0.8 > 0.6).
    assert check(r, WindowCounts(count=40, negative=25)).holds  # 0.625
    assert not check(r, WindowCounts(count=40, negative=23)).holds  # 0.575


def test_resolve_ratio_one_means_no_hysteresis() -> None:
    r = rule(measure="p1_count", threshold=1, resolve_ratio=1.0)
    assert check(r, WindowCounts(count=3, p1=1)).breached
    assert check(r, WindowCounts(count=3, p1=1)).holds
    assert not check(r, WindowCounts(count=3, p1=0)).holds


def test_threshold_evaluation_fields() -> None:
    counts = WindowCounts(count=30, negative=25)
    ev = check(rule(threshold=10), counts, warm=False)  # warm-up is for spikes only
    assert ev == Evaluation(counts, 25, True, True, 2.5)
    assert (ev.expected, ev.deviation) == (None, None)


def test_threshold_severity_grows_with_the_value() -> None:
    r = rule(threshold=10)
    severities = [check(r, counted(n)).severity for n in (10, 15, 40)]
    assert severities == [1.0, 1.5, 4.0]


def test_rate_per_minute_threshold_uses_the_window() -> None:
    r = rule(measure="rate_per_minute", threshold=2, window="15m")
    assert check(r, WindowCounts(count=30)).breached  # 30 / 15 min = 2
    assert not check(r, WindowCounts(count=29)).breached
    assert check(r, WindowCounts(count=29)).value == pytest.approx(29 / 15)


def test_falling_threshold_first_contact_resolution() -> None:
    r = rule(measure="first_contact_resolution", threshold=0.5, min_count=30, resolve_ratio=0.8)
    assert r.falling

    def calls(n: int, resolved: int) -> Evaluation:
        return check(r, WindowCounts(count=n + 100, calls=n, first_contact=resolved))

    low = calls(40, 18)  # 0.45 ≤ 0.5: breached
    assert (low.value, low.breached, low.holds) == (0.45, True, True)
    assert low.severity == pytest.approx(0.5 / 0.45, abs=1e-3)
    assert calls(40, 20).breached  # exactly at the threshold
    between = calls(40, 24)  # 0.6: above 0.5, within 0.5 / 0.8
    assert (between.breached, between.holds) == (False, True)
    assert not calls(40, 26).holds  # 0.65 > 0.625: resolved
    # min_count counts calls, not all events in the window.
    assert not calls(20, 5).breached
    assert calls(20, 5).holds
    assert not check(r, WindowCounts(count=500)).holds  # no calls: nothing to judge
    assert calls(40, 0).severity == pytest.approx(50.0)  # 0.5 / 0.01: no divide by 0


def test_falling_threshold_mean_sentiment() -> None:
    r = rule(measure="mean_sentiment", threshold=0.3, min_count=10)
    assert check(r, WindowCounts(count=10, sentiment=2.5)).breached  # 0.25
    assert not check(r, WindowCounts(count=10, sentiment=3.5)).breached  # 0.35
    assert check(r, WindowCounts(count=10, sentiment=3.5)).holds  # ≤ 0.375
    assert not check(r, WindowCounts(count=10, sentiment=4.0)).holds
    assert not check(r, WindowCounts()).holds  # an empty window is neutral (0.5)


def test_rising_threshold_mean_wait() -> None:
    r = rule(measure="mean_wait_seconds", threshold=300, min_count=2)
    assert check(r, WindowCounts(count=9, calls=2, wait=700.0)).breached
    assert not check(r, WindowCounts(count=9, calls=1, wait=700.0)).breached  # 1 call
    assert not check(r, WindowCounts(count=9, calls=3, wait=700.0)).breached  # 233 s


# --- spike rules: busy and quiet keys ------------------------------------------------

BUSY = learn(noisy(200, 120, seed=7))  # about 200 a window, ± 14
QUIET = learn([1, 0, 2] * 40)  # about 1 a window


def test_the_learned_baselines() -> None:
    assert BUSY.samples == QUIET.samples == 120
    assert BUSY.mean == pytest.approx(200, abs=15)
    assert math.sqrt(BUSY.var) == pytest.approx(math.sqrt(200), rel=0.5)
    assert QUIET.mean == pytest.approx(1, abs=0.3)


@pytest.mark.parametrize("value", [185, 200, 215, 230])
def test_a_busy_key_at_its_usual_level_does_not_alert(value: int) -> None:
    ev = check(spike(), counted(value), BUSY)
    assert not ev.breached
    assert ev.severity < 4
    assert ev.expected == pytest.approx(BUSY.mean, abs=1e-3)


def test_a_busy_key_far_above_its_level_alerts() -> None:
    ev = check(spike(), counted(300), BUSY)
    assert ev.breached
    assert ev.severity > 4


def test_a_quiet_key_that_jumps_alerts() -> None:
    # The same rule, and about the same absolute rise as the busy key's 230 above.
    ev = check(spike(), counted(30), QUIET)
    assert ev.breached and ev.holds
    assert ev.value == 30
    assert ev.expected == pytest.approx(QUIET.mean, abs=1e-3)
    assert ev.deviation is not None
    assert ev.severity == pytest.approx((30 - QUIET.mean) / ev.deviation, rel=1e-3)


MOSTLY_NOTHING = learn([0, 0, 0, 1, 0, 0, 0, 0, 1, 0] * 12)  # about 0.2 a window


@pytest.mark.parametrize("baseline", [QUIET, MOSTLY_NOTHING], ids=["quiet", "mostly_nothing"])
@pytest.mark.parametrize("value", [0, 1, 2, 3])
def test_low_volume_a_quiet_key_jumping_to_a_few_does_not_alert(
    baseline: Baseline, value: int
) -> None:
    # Even with the default z of 3: the baseline's own variance is well below 1 here,
    # but the Poisson noise floor keeps the deviation at least 1.
    ev = check(spike(z=3), counted(value), baseline)
    assert not ev.breached
    assert ev.deviation is not None and ev.deviation >= 1.0
    assert check(spike(z=3), counted(10), baseline).breached


def test_low_volume_the_poisson_guard() -> None:
    half = learn([0, 1] * 60)  # expects about 0.5
    expected = check(spike(), counted(3), half).expected
    assert expected is not None
    # Three events are 2.5 deviations above 0.5: a z of 2 says "spike", but three events
    # at a rate of 0.5 happen about once in 60 windows — not improbable enough.
    sensitive = spike(z=2)
    ev = check(sensitive, counted(3), half)
    assert ev.severity >= 2
    assert 0.001 < poisson_tail(3, expected) < 0.05
    assert not ev.breached
    assert ev.holds  # the guard is for firing only
    # The guard's rate is floored at one event per window (like the noise floor):
    # P(X ≥ 3 | 1) ≈ 0.08, so only a lenient p_value lets three events through.
    assert not check(spike(z=2, p_value=0.05), counted(3), half).breached
    assert check(spike(z=2, p_value=0.1), counted(3), half).breached


def test_a_key_that_was_always_silent_needs_a_real_burst() -> None:
    silent = learn([0] * 60)
    assert not check(spike(z=3), counted(3), silent).breached  # 3 stray events
    assert not check(spike(z=3), counted(5), silent).breached  # P(X ≥ 5 | 1) ≈ 0.004
    assert check(spike(z=3), counted(6), silent).breached  # P(X ≥ 6 | 1) ≈ 0.0006


def test_min_change_is_needed_too() -> None:
    assert check(spike(), counted(30), QUIET).breached
    assert not check(spike(min_change=40), counted(30), QUIET).breached


def test_min_count_is_needed_too() -> None:
    assert not check(spike(min_count=31), counted(30), QUIET).breached
    assert check(spike(min_count=30), counted(30), QUIET).breached


def test_not_warm_no_alert() -> None:
    ev = check(spike(), counted(500), QUIET, warm=False)
    assert not ev.breached
    assert ev.holds  # a firing alert would not resolve just for this
    assert check(spike(), counted(500), QUIET, warm=True).breached


def test_no_baseline_yet_no_alert() -> None:
    assert not check(spike(), counted(500), None, warm=False).breached


def test_spike_holds_with_hysteresis_on_z() -> None:
    r = rule(measure="count", resolve_ratio=0.5, spike={"z": 4})
    steady = learn([100.0] * 60)  # deviation: the floor, √100 = 10
    assert check(r, counted(141), steady).breached
    ev = check(r, counted(125), steady)  # z 2.5: no longer breached, holds
    assert (ev.breached, ev.holds) == (False, True)
    assert not check(r, counted(119), steady).holds  # z 1.9 < 4 × 0.5
    assert not check(r, counted(60), steady).holds  # below expected: not a rise at all


def test_severity_grows_with_the_jump() -> None:
    severities = [check(spike(), counted(n), QUIET).severity for n in (5, 10, 30, 60, 120)]
    assert severities == sorted(severities)
    assert len(set(severities)) == len(severities)
    assert severities[-1] > 10 * severities[0]


# --- noise floors --------------------------------------------------------------------


def test_noise_floor_of_counts_is_poisson() -> None:
    steady = learn([100.0] * 60)
    assert steady.var == 0.0
    ev = check(spike(), counted(150), steady)
    assert ev.deviation == 10.0  # √100
    assert ev.severity == 5.0


def test_noise_floor_of_a_rate_is_per_minute() -> None:
    steady = learn([2.0] * 60)  # 2 a minute: 30 in a 15 m window
    ev = check(spike(measure="rate_per_minute"), WindowCounts(count=60), steady)
    assert ev.value == 4.0
    assert ev.deviation == pytest.approx(math.sqrt(30) / 15, abs=1e-4)
    assert ev.breached  # 60 where 30 were expected


def test_noise_floor_of_a_share_is_binomial() -> None:
    steady = learn([0.2] * 60)
    ev = check(spike(measure="negative_share"), WindowCounts(count=100, negative=40), steady)
    assert ev.deviation == pytest.approx(math.sqrt(0.2 * 0.8 / 100), abs=1e-4)
    assert ev.severity == pytest.approx(5.0, abs=1e-3)
    assert ev.breached
    # All of three events negative is 3.5 deviations, but at a usual share of 20 % it
    # happens about once in 125 windows: the binomial guard. Eight of eight is news.
    sensitive = spike(measure="negative_share", z=3)
    few = check(sensitive, WindowCounts(count=3, negative=3), steady)
    assert few.severity >= 3
    assert not few.breached
    assert check(sensitive, WindowCounts(count=8, negative=8), steady).breached


def test_noise_floor_of_reach_is_a_tenth_of_expected() -> None:
    steady = learn([5000.0] * 60)
    ev = check(
        spike(measure="reach_negative"), WindowCounts(count=30, reach_negative=7500.0), steady
    )
    assert ev.deviation == 500.0
    assert ev.severity == 5.0
    assert ev.breached


# --- falling measures as spikes ------------------------------------------------------


def test_falling_spike_first_contact_resolution() -> None:
    usual = learn([0.8] * 60)
    r = spike(measure="first_contact_resolution")
    assert r.falling
    drop = check(r, WindowCounts(count=100, calls=100, first_contact=30), usual)
    assert drop.breached
    assert drop.severity > 4  # deviations below expected
    assert drop.expected == 0.8
    rise = check(r, WindowCounts(count=100, calls=100, first_contact=100), usual)
    assert not rise.breached and not rise.holds
    # Three calls, none resolved: 3.5 deviations, but not improbable at 20 % unresolved.
    sensitive = spike(measure="first_contact_resolution", z=3)
    few = check(sensitive, WindowCounts(count=3, calls=3, first_contact=0), usual)
    assert few.severity > 3 and not few.breached
    assert check(sensitive, WindowCounts(count=8, calls=8, first_contact=0), usual).breached
    assert check(r, WindowCounts(count=10, calls=10, first_contact=0), usual).breached


def test_falling_spike_mean_sentiment() -> None:
    usual = learn([0.6] * 60)
    r = spike(measure="mean_sentiment")
    assert check(r, WindowCounts(count=50, sentiment=10.0), usual).breached  # 0.2
    assert not check(r, WindowCounts(count=50, sentiment=40.0), usual).breached  # 0.8


def nps_counts(responses: int, promoters: int, detractors: int) -> WindowCounts:
    return WindowCounts(count=responses, nps=responses, promoters=promoters, detractors=detractors)


def test_falling_spike_nps_below_its_baseline() -> None:
    usual = learn([35.0] * 60)
    r = spike(measure="nps", min_count=30, z=3, min_change=15)
    # 60 responses, NPS 35 → -10: 45 points below, 80/√60 ≈ 10.3 points a deviation
    drop = check(r, nps_counts(60, 15, 21), usual)
    assert drop.value == pytest.approx(-10.0)
    assert drop.breached and drop.severity > 4
    # 60 responses at NPS 30: within the noise of such a sample
    assert not check(r, nps_counts(60, 24, 6), usual).breached
    # far below, but only 10 responses: min_count keeps it quiet
    assert not check(r, nps_counts(10, 1, 8), usual).breached


def test_an_nps_threshold_compares_on_the_shifted_scale() -> None:
    r = rule(measure="nps", threshold=0, min_count=10, resolve_ratio=0.8)
    below = check(r, nps_counts(20, 2, 10))  # NPS -40
    assert below.breached
    assert below.severity == pytest.approx(100 / 60, abs=1e-3)  # (0 + 100) / (-40 + 100)
    assert not check(r, nps_counts(20, 10, 2)).breached  # NPS 40
    # hysteresis: resolves once NPS rises above (0 + 100) / 0.8 - 100 = 25
    assert check(r, nps_counts(20, 8, 4)).holds  # NPS 20
    assert not check(r, nps_counts(20, 10, 4)).holds  # NPS 30


def test_falling_spike_mean_csat() -> None:
    usual = learn([4.4] * 60)
    r = spike(measure="csat", min_count=20, z=3, min_change=0.5)
    assert check(r, WindowCounts(count=40, csat=40, csat_sum=120, csat_squares=400), usual).breached
    assert not check(
        r, WindowCounts(count=40, csat=40, csat_sum=172, csat_squares=750), usual
    ).breached


# --- seasonality: the hour of the week -----------------------------------------------


def mondays_at_ten(seasonal: bool) -> tuple[Rule, Baseline]:
    """Two weeks of history, a value every 6 minutes: about 5 a window, except on Monday
    10:00–11:00, when about 100 is usual (the weekly sale)."""
    start = MONDAY - 2 * WEEK
    rng = random.Random(11)
    baseline = Baseline()
    for i in range(int(2 * WEEK / 360)):
        at = start + i * 360
        level = 100 if (at - start) % WEEK // HOUR == 10 else 5
        baseline = baseline.update(
            max(0, round(rng.gauss(level, math.sqrt(level)))), at, alpha=0.05
        )
    return spike(seasonal=seasonal, alpha=0.05, warmup=60), baseline


def test_seasonal_busy_hour_is_learned() -> None:
    _, baseline = mondays_at_ten(True)
    assert baseline.slot_samples[10] == 20 >= SLOT_MIN_SAMPLES
    assert baseline.expected(MONDAY + 10 * HOUR, seasonal=True)[0] == pytest.approx(100, abs=10)
    assert baseline.expected(MONDAY + 3 * HOUR, seasonal=True)[0] == pytest.approx(5, abs=2)


def test_seasonal_the_usual_busy_hour_is_not_a_spike() -> None:
    r, baseline = mondays_at_ten(seasonal=True)
    ev = check(r, counted(105), baseline, now=MONDAY + 10 * HOUR + 600)
    assert not ev.breached
    assert ev.expected == pytest.approx(100, abs=10)


def test_seasonal_the_same_level_at_three_in_the_morning_is() -> None:
    r, baseline = mondays_at_ten(seasonal=True)
    ev = check(r, counted(105), baseline, now=MONDAY + 3 * HOUR + 600)
    assert ev.breached
    assert ev.expected == pytest.approx(5, abs=2)


def test_without_seasonality_the_busy_hour_is_a_spike() -> None:
    r, baseline = mondays_at_ten(seasonal=False)
    assert check(r, counted(105), baseline, now=MONDAY + 10 * HOUR + 600).breached
