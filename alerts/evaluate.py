"""Is a rule breached for one window key, and how badly? Pure.

A threshold rule compares the window's measure with its static limit; a spike rule with
the key's learned baseline (see :mod:`alerts.baseline`), guarded at low volume. Either
way the answer is an :class:`Evaluation`: breached (may fire), holds (a firing alert stays
firing: the hysteresis band), and a severity score — how far the value is from what was
expected (×threshold for static rules, deviations for spikes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alerts.baseline import Baseline, binomial_tail, poisson_tail
from alerts.rules import COUNTS, OFFSETS, Rule, WindowCounts
from vocwatch.vocabulary import Measure


@dataclass(frozen=True)
class Evaluation:
    counts: WindowCounts
    value: float
    breached: bool
    holds: bool
    severity: float
    expected: float | None = None  # spike rules: the baseline's expectation …
    deviation: float | None = None  # … and the deviation the severity is counted in


def evaluate(
    rule: Rule,
    counts: WindowCounts,
    *,
    now: float,
    baseline: Baseline | None = None,
    warm: bool = False,
) -> Evaluation:
    """``warm``: the rule's baselines have learned long enough for spikes to count."""
    if rule.spike is None:
        return _threshold(rule, counts)
    return _spike(rule, counts, baseline or Baseline(), now=now, warm=warm)


def _threshold(rule: Rule, counts: WindowCounts) -> Evaluation:
    assert rule.threshold is not None  # noqa: S101 — parse_rules guarantees one condition
    value = counts.measure(rule.measure, rule.window_seconds)
    trials = counts.trials(rule.measure)
    if rule.falling:
        # Ratios of a measure that can be negative (NPS) are taken on its shifted scale.
        offset = OFFSETS.get(rule.measure, 0.0)
        limit, shifted = rule.threshold + offset, value + offset
        breached = shifted <= limit
        holds = shifted <= limit / rule.resolve_ratio
        severity = limit / shifted if shifted > 0 else limit / 0.01
    else:
        breached = value >= rule.threshold
        holds = value >= rule.threshold * rule.resolve_ratio
        severity = value / rule.threshold
    return Evaluation(
        counts,
        value,
        trials >= rule.min_count and breached,
        trials > 0 and holds,
        round(severity, 3),
    )


def _spike(
    rule: Rule, counts: WindowCounts, baseline: Baseline, *, now: float, warm: bool
) -> Evaluation:
    spike = rule.spike
    assert spike is not None  # noqa: S101
    value = counts.measure(rule.measure, rule.window_seconds)
    trials = counts.trials(rule.measure)
    expected, deviation = baseline.expected(now, seasonal=spike.seasonal)
    deviation = max(deviation, _noise_floor(rule, expected, trials))
    change = expected - value if rule.falling else value - expected
    z = change / deviation
    breached = (
        warm
        and trials >= rule.min_count
        and z >= spike.z
        and change >= spike.min_change
        and change > 0
        and _improbable(rule, counts, expected)
    )
    holds = trials > 0 and change > 0 and z >= spike.z * rule.resolve_ratio
    return Evaluation(
        counts, value, breached, holds, round(z, 3), round(expected, 4), round(deviation, 4)
    )


def _noise_floor(rule: Rule, expected: float, trials: int) -> float:
    """The least deviation a measure has by chance alone: Poisson for counts, binomial for
    shares; it keeps a perfectly steady baseline (variance 0) from making any change a
    spike."""
    if rule.measure in COUNTS:
        per_window = rule.window_seconds / 60.0 if rule.measure == Measure.RATE_PER_MINUTE else 1.0
        return math.sqrt(max(expected * per_window, 1.0)) / per_window
    if rule.measure in (Measure.NEGATIVE_SHARE, Measure.FIRST_CONTACT_RESOLUTION):
        p = min(max(expected, 0.05), 0.95)
        return math.sqrt(p * (1 - p) / max(trials, 1))
    if rule.measure == Measure.MEAN_SENTIMENT:
        return 0.25 / math.sqrt(max(trials, 1))
    if rule.measure == Measure.NPS:  # a typical NPS sample's spread: sd ≈ 0.8 × 100
        return 80.0 / math.sqrt(max(trials, 1))
    if rule.measure in (Measure.CSAT, Measure.CES):  # scores spread about 1 point
        return 1.0 / math.sqrt(max(trials, 1))
    return max(abs(expected) * 0.1, 1e-6)


def _improbable(rule: Rule, counts: WindowCounts, expected: float) -> bool:
    """The low-volume guard: could this many events happen by chance at the expected rate?"""
    p_value = rule.spike.p_value if rule.spike else 0.001
    measure = rule.measure
    if measure in COUNTS:
        scale = rule.window_seconds / 60.0 if measure == Measure.RATE_PER_MINUTE else 1.0
        observed = round(counts.measure(measure, rule.window_seconds) * scale)
        # The same floor as the noise: at least one event per window is "expected", so a
        # key that has always been silent needs a real burst, not three stray events.
        return poisson_tail(observed, max(expected * scale, 1.0)) < p_value
    if measure == Measure.NEGATIVE_SHARE:
        return binomial_tail(counts.negative, counts.count, expected) < p_value
    if measure == Measure.FIRST_CONTACT_RESOLUTION:  # too few resolved = too many unresolved
        unresolved = counts.calls - counts.first_contact
        return binomial_tail(unresolved, counts.calls, 1 - expected) < p_value
    return True
