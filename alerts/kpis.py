"""Service KPIs against their targets (服务指标对标): first-contact resolution, mean wait,
CSAT, NPS, CES and the repeat-contact rate, over the last 24 hours, overall, per product
and per region.

Targets are configuration (the ``kpis:`` section of the alert configuration file): each
KPI has a ``target`` and a ``red`` line on its worse side. A KPI that meets its target is
green, one between the target and the red line amber, one past the red line red.

The sums behind the KPIs are kept per hour of event time in Redis (one hash per hour,
named in :mod:`vocwatch.redis_keys`, expiring after two days), from the contacts the
customer history counted for the first time — so a replayed event adds nothing. Products
and regions are those given their own metric label (``VOCWATCH_METRIC_PRODUCTS``,
``VOCWATCH_METRIC_REGIONS``); the others are summed as ``other``. The console's 指标
board (``GET /api/kpis``) and the ``vocwatch_kpi*`` metrics read the same sums.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from alerts.contacts import Contact
from alerts.rules import AlertConfig
from alerts.sections import Section
from vocwatch import redis_keys
from vocwatch.vocabulary import Kpi, KpiStatus, SurveyKind

HOUR = 3600
RETENTION_SECONDS = 2 * 86400
PERIOD_HOURS = 24  # the KPIs' period: this many hours of event time, the current one included
ALL = "all"  # the scope of every event


@dataclass
class KpiSums:
    """What the KPIs are computed from, for one scope and period."""

    calls: int = 0
    resolved: int = 0  # calls resolved on first contact
    wait: float = 0.0  # call wait seconds
    nps: int = 0
    promoters: int = 0
    detractors: int = 0
    csat: int = 0
    csat_sum: int = 0
    ces: int = 0
    ces_sum: int = 0
    contacts: int = 0
    repeats: int = 0  # contacts of a customer who had another within the repeat window

    def add(self, name: str, amount: float) -> None:
        setattr(self, name, getattr(self, name) + (amount if name == "wait" else int(amount)))

    def base(self, kpi: Kpi) -> int:
        """How many calls, responses or contacts a KPI is taken over."""
        return {
            Kpi.FIRST_CONTACT_RESOLUTION: self.calls,
            Kpi.MEAN_WAIT_SECONDS: self.calls,
            Kpi.CSAT: self.csat,
            Kpi.NPS: self.nps,
            Kpi.CES: self.ces,
            Kpi.REPEAT_CONTACT_RATE: self.contacts,
        }[kpi]

    def value(self, kpi: Kpi) -> float | None:
        """The KPI; None without anything to take it over."""
        base = self.base(kpi)
        if not base:
            return None
        top = {
            Kpi.FIRST_CONTACT_RESOLUTION: self.resolved,
            Kpi.MEAN_WAIT_SECONDS: self.wait,
            Kpi.CSAT: self.csat_sum,
            Kpi.NPS: (self.promoters - self.detractors) * 100.0,
            Kpi.CES: self.ces_sum,
            Kpi.REPEAT_CONTACT_RATE: self.repeats,
        }[kpi]
        return round(top / base, 4)


SUMS = tuple(f.name for f in fields(KpiSums))


def contact_sums(contact: Contact, *, repeat: bool) -> dict[str, float]:
    """What one contact, counted for the first time, adds to the KPI sums."""
    sums: dict[str, float] = {"contacts": 1}
    if repeat:
        sums["repeats"] = 1
    if contact.resolved is not None:
        sums["calls"] = 1
        sums["resolved"] = int(contact.resolved)
        sums["wait"] = contact.wait_seconds or 0.0
    if contact.survey == SurveyKind.NPS and contact.score is not None:
        sums["nps"] = 1
        sums["promoters"] = int(contact.score >= 9)
        sums["detractors"] = int(contact.score <= 6)
    elif contact.survey is not None and contact.score is not None:
        sums[contact.survey.value] = 1
        sums[f"{contact.survey.value}_sum"] = contact.score
    return sums


@functools.lru_cache(maxsize=1024)  # products and regions: the configured ones, or other
def scopes(product: str | None, region: str | None) -> tuple[str, ...]:
    """The scopes an event counts in: all, its product and its region (each already
    bounded to a configured value or ``other``; absent ones count in none)."""
    found = [ALL]
    if product:
        found.append(f"product={product}")
    if region:
        found.append(f"region={region}")
    return tuple(found)


@dataclass(frozen=True)
class KpiTarget:
    kpi: Kpi
    target: float
    red: float

    def status(self, value: float | None) -> KpiStatus:
        if value is None:
            return KpiStatus.NO_DATA
        sign = 1 if self.kpi.higher_is_better else -1
        if sign * value >= sign * self.target:
            return KpiStatus.GREEN
        if sign * value >= sign * self.red:
            return KpiStatus.AMBER
        return KpiStatus.RED


def board(sums: Mapping[str, KpiSums], targets: Mapping[Kpi, KpiTarget]) -> list[dict[str, Any]]:
    """One row per scope and KPI, all first, then products, then regions: the value, the
    target and red line, the status, and how many calls, responses or contacts it is over."""
    rows = []
    for scope in sorted(sums, key=lambda s: (s != ALL, not s.startswith("product="), s)):
        for kpi, target in targets.items():
            value = sums[scope].value(kpi)
            rows.append(
                {
                    "scope": scope,
                    "kpi": kpi,
                    "value": value,
                    "target": target.target,
                    "red": target.red,
                    "status": target.status(value),
                    "base": sums[scope].base(kpi),
                }
            )
    return rows


def hourly_fields(
    points: Iterable[tuple[float, tuple[str, ...], Mapping[str, float]]], since: float
) -> dict[int, dict[str, float]]:
    """Hour number → ``<scope>|<sum>`` → amount, over the points from ``since`` on. Summed
    per hour and set of scopes before the fields are named: a batch has a thousand points
    and a handful of such sets."""
    grouped: dict[tuple[int, tuple[str, ...]], dict[str, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for time, in_scopes, sums in points:
        if time < since:
            continue
        group = grouped[(int(time // HOUR), in_scopes)]
        for name, amount in sums.items():
            group[name] += amount
    totals: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (hour_number, in_scopes), sums in grouped.items():
        hour = totals[hour_number]
        for scope in in_scopes:
            for name, amount in sums.items():
                hour[f"{scope}|{name}"] += amount
    return totals


class RedisKpis:
    """The hourly KPI sums in Redis (every command touches one key)."""

    def __init__(self, redis: Any, *, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    async def add(
        self, points: Iterable[tuple[float, tuple[str, ...], Mapping[str, float]]], now: float
    ) -> None:
        """Add ``(event time, scopes, sums)`` of a batch, summed per field first; points
        older than the retention are left out."""
        totals = hourly_fields(points, now - RETENTION_SECONDS)
        if not totals:
            return
        pipe = self.redis.pipeline(transaction=False)
        for hour_number, fields_ in totals.items():
            key = redis_keys.kpis(self.prefix, hour_number)
            for name, amount in fields_.items():
                if name.endswith("|wait"):
                    pipe.hincrbyfloat(key, name, amount)
                else:
                    pipe.hincrby(key, name, int(amount))
            pipe.expire(key, RETENTION_SECONDS)
        await pipe.execute()

    async def read(self, now: float, hours: int = PERIOD_HOURS) -> dict[str, KpiSums]:
        """Scope → sums over the last ``hours`` hours (the current one included)."""
        last = int(now // HOUR)
        pipe = self.redis.pipeline(transaction=False)
        for hour in range(last - hours + 1, last + 1):
            pipe.hgetall(redis_keys.kpis(self.prefix, hour))
        sums: dict[str, KpiSums] = {}
        for reply in await pipe.execute():
            for raw_field, raw_amount in reply.items():
                field = raw_field.decode() if isinstance(raw_field, bytes) else raw_field
                scope, _, name = field.rpartition("|")
                if name in SUMS:
                    sums.setdefault(scope, KpiSums()).add(name, float(raw_amount))
        return sums


# --- configuration -----------------------------------------------------------------------


def parse_kpis(config: AlertConfig) -> dict[Kpi, KpiTarget]:
    """The ``kpis:`` section: a target and a red line per KPI (KPIs left out are not
    shown)."""
    section = Section(config.kpis, ["kpis"], source=config.source, lines=config.lines)
    section.known(set(Kpi))
    targets = {}
    for name in section.data:
        kpi = Kpi(name)
        spec = section.section(name)
        spec.known({"target", "red"})
        low, high = _RANGES[kpi]
        target = spec.within("target", None, low, high)  # both required
        red = spec.within("red", None, low, high)
        if (red > target) if kpi.higher_is_better else (red < target):
            side = "below" if kpi.higher_is_better else "above"
            raise spec.error(f"the red line must be {side} the target", "red")
        targets[kpi] = KpiTarget(kpi, target, red)
    return targets


_RANGES: dict[Kpi, tuple[float, float]] = {
    Kpi.FIRST_CONTACT_RESOLUTION: (0, 1),
    Kpi.MEAN_WAIT_SECONDS: (0, 86400),
    Kpi.CSAT: (1, 5),
    Kpi.NPS: (-100, 100),
    Kpi.CES: (1, 7),
    Kpi.REPEAT_CONTACT_RATE: (0, 1),
}
