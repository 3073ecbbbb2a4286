"""alerts.kpis: KPI sums, values against targets (green / amber / red), configuration."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.config import load_alerting
from alerts.kpis import (
    KpiSums,
    KpiTarget,
    board,
    contact_sums,
    hourly_fields,
    parse_kpis,
    scopes,
)
from alerts.rules import AlertConfig
from tests.alerts.customer_support import HOUR, call, complaint, survey
from vocwatch.errors import ConfigError
from vocwatch.settings import DEFAULT_RULES_FILE
from vocwatch.vocabulary import Kpi, KpiStatus

TARGETS = load_alerting(DEFAULT_RULES_FILE).kpis


def summed(*parts: dict[str, float]) -> KpiSums:
    sums = KpiSums()
    for part in parts:
        for name, amount in part.items():
            sums.add(name, amount)
    return sums


def test_each_kind_of_contact_adds_its_sums() -> None:
    assert contact_sums(complaint(1, HOUR), repeat=False) == {"contacts": 1}
    assert contact_sums(call(1, HOUR, resolved=False, wait_seconds=90.0), repeat=True) == {
        "contacts": 1,
        "repeats": 1,
        "calls": 1,
        "resolved": 0,
        "wait": 90.0,
    }
    assert contact_sums(survey(1, HOUR, "nps", 9), repeat=False) == {
        "contacts": 1,
        "nps": 1,
        "promoters": 1,
        "detractors": 0,
    }
    assert contact_sums(survey(1, HOUR, "csat", 4), repeat=False) == {
        "contacts": 1,
        "csat": 1,
        "csat_sum": 4,
    }


def test_kpis_from_their_sums() -> None:
    sums = summed(
        *(
            contact_sums(call(i, HOUR, resolved=i < 4, wait_seconds=40.0 * i), repeat=i == 0)
            for i in range(5)
        ),
        *(
            contact_sums(survey(i, HOUR, "nps", score), repeat=False)
            for i, score in enumerate([10, 9, 8, 3])
        ),
        contact_sums(survey(9, HOUR, "ces", 6), repeat=False),
    )
    assert sums.value(Kpi.FIRST_CONTACT_RESOLUTION) == 0.8
    assert sums.value(Kpi.MEAN_WAIT_SECONDS) == 80.0
    assert sums.value(Kpi.NPS) == 25.0  # (2 promoters - 1 detractor) / 4
    assert sums.value(Kpi.CES) == 6.0
    assert sums.value(Kpi.REPEAT_CONTACT_RATE) == 0.1
    assert sums.value(Kpi.CSAT) is None and sums.base(Kpi.CSAT) == 0


@pytest.mark.parametrize(
    ("kpi", "value", "status"),
    [
        ("first_contact_resolution", 0.85, "green"),
        ("first_contact_resolution", 0.8, "green"),
        ("first_contact_resolution", 0.75, "amber"),
        ("first_contact_resolution", 0.6, "red"),
        ("mean_wait_seconds", 45, "green"),
        ("mean_wait_seconds", 90, "amber"),
        ("mean_wait_seconds", 121, "red"),
        ("nps", -5, "red"),
        ("repeat_contact_rate", 0.15, "amber"),
        ("csat", None, "no_data"),
    ],
)
def test_a_kpi_against_its_target(kpi: str, value: float | None, status: str) -> None:
    assert TARGETS[Kpi(kpi)].status(value) == KpiStatus(status)


def test_the_board_lists_all_first_then_products_then_regions() -> None:
    resolved = contact_sums(call(1, HOUR, resolved=True), repeat=False)
    rows = board(
        {
            "region=上海": summed(resolved),
            "all": summed(resolved),
            "product=流量套餐": summed(resolved),
        },
        {Kpi.FIRST_CONTACT_RESOLUTION: TARGETS[Kpi.FIRST_CONTACT_RESOLUTION]},
    )
    assert [(r["scope"], r["value"], r["status"], r["base"]) for r in rows] == [
        ("all", 1.0, "green", 1),
        ("product=流量套餐", 1.0, "green", 1),
        ("region=上海", 1.0, "green", 1),
    ]
    assert (rows[0]["target"], rows[0]["red"]) == (0.8, 0.7)


def test_scopes_of_an_event() -> None:
    assert scopes("手表", "other") == ("all", "product=手表", "region=other")
    assert scopes(None, None) == ("all",)


def config(kpis: Any) -> AlertConfig:
    return AlertConfig(rules=(), kpis=kpis, source="rules.yaml")


def test_a_batchs_points_are_summed_per_hour_and_named_per_scope() -> None:
    """Summed per hour and set of scopes, then named: the same totals as adding every
    point to every one of its scopes' fields; points before ``since`` are left out."""
    base = 1_800_000_000.0 - 1_800_000_000.0 % HOUR
    points: list[tuple[float, tuple[str, ...], dict[str, float]]] = [
        (base + 10, ("all", "product=a"), {"contacts": 1, "calls": 1, "wait": 30.5}),
        (base + 20, ("all", "product=a"), {"contacts": 1}),
        (base + 30, ("all",), {"contacts": 1, "nps": 1, "detractors": 1}),
        (base + HOUR + 5, ("all", "region=b"), {"contacts": 1, "repeats": 1}),
        (base - 5, ("all",), {"contacts": 1}),  # before since: not counted
    ]
    expected: dict[int, dict[str, float]] = {}
    for time, in_scopes, sums in points[:-1]:
        hour = expected.setdefault(int(time // HOUR), {})
        for scope in in_scopes:
            for name, amount in sums.items():
                hour[f"{scope}|{name}"] = hour.get(f"{scope}|{name}", 0) + amount
    totals = hourly_fields(points, since=base)
    assert {h: dict(fields) for h, fields in totals.items()} == expected
    assert totals[int(base // HOUR)]["all|contacts"] == 3
    assert totals[int(base // HOUR)]["product=a|wait"] == 30.5


def test_the_packaged_targets() -> None:
    assert TARGETS[Kpi.NPS] == KpiTarget(Kpi.NPS, 30, 10)
    assert set(TARGETS) == set(Kpi)


@pytest.mark.parametrize(
    ("kpis", "field"),
    [
        ({"fcr": {"target": 0.8, "red": 0.7}}, ""),
        ({"csat": {"target": 4.2, "red": 4.5}}, "red"),
        ({"mean_wait_seconds": {"target": 60, "red": 30}}, "red"),
        ({"first_contact_resolution": {"target": 80, "red": 70}}, "target"),
        ({"nps": {"target": 30}}, "red"),
    ],
)
def test_kpi_configuration_errors_name_the_field(kpis: Any, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_kpis(config(kpis))
    assert caught.value.field == field
    assert str(caught.value).startswith("rules.yaml: kpis")


def test_without_a_kpis_section_there_are_no_targets() -> None:
    assert parse_kpis(config(None)) == {}
