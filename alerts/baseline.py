"""Learned baselines (基线) of a rule's measure per dimension key, pure.

Every baseline step (a minute by default) the engine feeds each key's current window
value into an exponentially weighted moving average (EWMA) of its mean and variance, and
into a second EWMA for the current hour of the week (周内小时), so that Monday 10:00 is
compared with earlier Monday mornings once there is such history, and with the overall
average until then. While a key's alert is pending or firing its baseline is frozen, so
that an incident does not teach the baseline that the incident is normal.

At low volume, a z-score alone is fooled by small numbers (0 → 3 events is "infinitely"
many deviations); the Poisson and binomial tails here are the guard: a count must also be
improbable under the expected rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

HOURS_OF_WEEK = 168
UTC_OFFSET_HOURS = 8  # China Standard Time: the week of the people who complain
SLOT_MIN_SAMPLES = 10  # samples of an hour-of-week slot before it is trusted
_TAIL_TERMS = 100_000


def hour_of_week(at: float) -> int:
    """0 = Monday 00:00–01:00 China time … 167 = Sunday 23:00–24:00."""
    hours = int((at + UTC_OFFSET_HOURS * 3600) // 3600)
    return (hours + 72) % HOURS_OF_WEEK  # 1970-01-01 was a Thursday: 3 days after Monday


@dataclass(frozen=True)
class Baseline:
    """EWMA mean and variance of a measure, overall and per hour of the week."""

    mean: float = 0.0
    var: float = 0.0
    samples: int = 0
    slot_mean: tuple[float, ...] = ()
    slot_samples: tuple[int, ...] = ()

    def update(self, value: float, at: float, *, alpha: float) -> Baseline:
        if self.samples == 0:
            mean, var = value, 0.0
        else:
            diff = value - self.mean
            mean = self.mean + alpha * diff
            var = (1 - alpha) * (self.var + alpha * diff * diff)
        slots = list(self.slot_mean) or [0.0] * HOURS_OF_WEEK
        counts = list(self.slot_samples) or [0] * HOURS_OF_WEEK
        h = hour_of_week(at)
        slots[h] = value if counts[h] == 0 else slots[h] + alpha * (value - slots[h])
        counts[h] += 1
        return Baseline(mean, var, self.samples + 1, tuple(slots), tuple(counts))

    def expected(self, at: float, *, seasonal: bool) -> tuple[float, float]:
        """(expected value, deviation) at time ``at``."""
        deviation = math.sqrt(max(self.var, 0.0))
        if seasonal and self.slot_samples:
            h = hour_of_week(at)
            if self.slot_samples[h] >= SLOT_MIN_SAMPLES:
                return self.slot_mean[h], deviation
        return self.mean, deviation

    def to_json(self) -> dict[str, Any]:
        # Slots are stored sparsely: most keys never see most hours of the week.
        slots = {
            str(h): [round(m, 6), n]
            for h, (m, n) in enumerate(zip(self.slot_mean, self.slot_samples, strict=True))
            if n
        }
        return {"mean": self.mean, "var": self.var, "samples": self.samples, "slots": slots}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Baseline:
        slots = [0.0] * HOURS_OF_WEEK
        counts = [0] * HOURS_OF_WEEK
        for hour, (mean, n) in data.get("slots", {}).items():
            slots[int(hour)], counts[int(hour)] = float(mean), int(n)
        return cls(
            float(data["mean"]),
            float(data["var"]),
            int(data["samples"]),
            tuple(slots),
            tuple(counts),
        )


def poisson_tail(k: int, lam: float) -> float:
    """P(X ≥ k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    lam = max(lam, 1e-9)
    if k <= lam:  # 1 − P(X ≤ k−1): from k−1 down, where the terms shrink
        log_last = -lam + (k - 1) * math.log(lam) - math.lgamma(k)
        return max(0.0, 1.0 - _sum_tail(log_last, lambda j: math.log((k - 1 - j) / lam), 0, k - 1))
    log_term = -lam + k * math.log(lam) - math.lgamma(k + 1)
    return min(1.0, _sum_tail(log_term, lambda i: math.log(lam / (i + 1)), k, None))


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    p = min(max(p, 1e-9), 1 - 1e-9)
    ratio = p / (1 - p)
    if k <= n * p:  # 1 − P(X ≤ k−1): from k−1 down, where the terms shrink
        log_last = _binomial_log_pmf(k - 1, n, p)
        return max(
            0.0,
            1.0
            - _sum_tail(
                log_last, lambda j: math.log((k - 1 - j) / (n - k + 2 + j) / ratio), 0, k - 1
            ),
        )
    log_term = _binomial_log_pmf(k, n, p)
    return min(1.0, _sum_tail(log_term, lambda i: math.log((n - i) / (i + 1) * ratio), k, n))


def _binomial_log_pmf(k: int, n: int, p: float) -> float:
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log(1 - p)
    )


def _sum_tail(log_first: float, log_step: Any, k: int, last: int | None) -> float:
    """Sum pmf(k) + pmf(k+1) + … given log pmf(k) and log(pmf(i+1)/pmf(i)); past the mode
    the terms shrink, so the sum stops once they no longer matter. (The lower tails walk
    down from below the mode the same way, with i counting steps away from it.)"""
    total, log_term, i = 0.0, log_first, k
    while (last is None or i <= last) and i < k + _TAIL_TERMS:
        term = math.exp(log_term)
        total += term
        if term < total * 1e-12:
            break
        if last is not None and i == last:
            break
        log_term += log_step(i)
        i += 1
    return total
