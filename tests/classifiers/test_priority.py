"""classifiers.priority: points, levels and reasons from the packaged policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from classifiers.priority import DEFAULT_POLICY_FILE, Priority, PriorityPolicy, Signals
from vocwatch.errors import ConfigError

POLICY = PriorityPolicy.load()
NEUTRAL = 0.5


def assess(
    text: str = "",
    category: str = "other",
    sentiment: float = NEUTRAL,
    signals: Signals | None = None,
) -> Priority:
    return POLICY.assess(text, category, sentiment, signals or Signals())


def test_packaged_policy_loads_with_documented_values() -> None:
    assert POLICY.base_severity["technical"] == "high"
    assert POLICY.base_severity["service"] == "medium"
    assert POLICY.base_severity["other"] == "low"
    assert dict(POLICY.severity_points) == {"high": 2, "medium": 1, "low": 0}
    assert (POLICY.p1_points, POLICY.p2_points) == (6, 3)
    assert "12315" in POLICY.escalation_terms  # YAML reads 12315 as an int: kept as text
    assert "起火" in POLICY.safety_terms


@pytest.mark.parametrize(
    ("category", "points", "reason"),
    [
        ("technical", 2, "category:technical=high"),
        ("product_quality", 2, "category:product_quality=high"),
        ("service", 1, "category:service=medium"),
        ("logistics", 1, "category:logistics=medium"),
        ("after_sales", 1, "category:after_sales=medium"),
        ("price", 0, "category:price=low"),
        ("other", 0, "category:other=low"),
        ("not_a_category", 0, "category:not_a_category=low"),
    ],
)
def test_base_severity_of_the_category(category: str, points: int, reason: str) -> None:
    result = assess(category=category)
    assert result.points == points
    assert result.reasons == (reason,)
    assert result.level == "P3"


@pytest.mark.parametrize(
    ("sentiment", "points", "reason"),
    [
        (0.05, 2, "sentiment:strongly_negative=0.05"),
        (0.0, 2, "sentiment:strongly_negative=0.00"),
        (0.149, 2, "sentiment:strongly_negative=0.15"),
        (0.15, 1, "sentiment:negative=0.15"),  # the strong cut-off is exclusive
        (0.39, 1, "sentiment:negative=0.39"),
        (0.4, 0, None),  # so is the negative one
        (0.9, 0, None),
    ],
)
def test_sentiment_points(sentiment: float, points: int, reason: str | None) -> None:
    result = assess(sentiment=sentiment)
    assert result.points == points
    assert result.reasons == ("category:other=low", *([reason] if reason else []))


@pytest.mark.parametrize(
    ("category", "sentiment", "level", "points"),
    [
        ("technical", 0.05, "P2", 4),  # 2 + 2
        ("service", 0.05, "P2", 3),  # 1 + 2: exactly the P2 threshold
        ("service", 0.2, "P3", 2),  # 1 + 1
        ("technical", NEUTRAL, "P3", 2),
        ("other", 0.05, "P3", 2),
    ],
)
def test_levels_from_points(category: str, sentiment: float, level: str, points: int) -> None:
    result = assess(category=category, sentiment=sentiment)
    assert (result.level, result.points) == (level, points)


def test_points_reaching_p1_threshold_make_p1() -> None:
    # technical 2 + strongly negative 2 + high reach 2 = 6 = P1 threshold.
    result = assess(category="technical", sentiment=0.05, signals=Signals(reach=100_000))
    assert (result.level, result.points) == ("P1", 6)
    assert "reach:100000" in result.reasons


@pytest.mark.parametrize(
    ("reach", "points"),
    [(9_999, 0), (10_000, 1), (99_999, 1), (100_000, 2), (5_000_000, 2)],
)
def test_reach_counts_only_for_negative_posts(reach: int, points: int) -> None:
    negative = assess(sentiment=0.2, signals=Signals(reach=reach))
    assert negative.points == 1 + points
    assert any(r.startswith("reach:") for r in negative.reasons) == (points > 0)
    neutral = assess(sentiment=NEUTRAL, signals=Signals(reach=reach))
    assert neutral.points == 0
    assert not any(r.startswith("reach:") for r in neutral.reasons)


@pytest.mark.parametrize(
    ("term", "kind"),
    [
        ("12315", "escalation"),
        ("12345", "escalation"),
        ("消协", "escalation"),
        ("媒体", "escalation"),
        ("起诉", "escalation"),
        ("黑猫投诉", "escalation"),
        ("起火", "safety"),
        ("漏电", "safety"),
        ("住院", "safety"),
    ],
)
def test_escalation_or_safety_language_is_p1_on_its_own(term: str, kind: str) -> None:
    result = assess(text=f"再不处理我就{term}", category="price", sentiment=NEUTRAL)
    assert result.level == "P1"
    assert result.points == 0
    assert f"{kind}:{term}" in result.reasons


def test_all_matching_terms_are_reasons_sorted_escalation_first() -> None:
    result = assess(
        text="全家食物中毒住院了，我要打12315还要找媒体曝光",
        category="product_quality",
        sentiment=0.01,
    )
    # 中毒 is a term of its own and also inside 食物中毒: both are reported.
    assert result.reasons == (
        "escalation:12315",
        "escalation:媒体",
        "escalation:曝光",
        "safety:中毒",
        "safety:住院",
        "safety:食物中毒",
        "category:product_quality=high",
        "sentiment:strongly_negative=0.01",
    )
    assert result.level == "P1"


@pytest.mark.parametrize(
    "text",
    ["我的订单号是2023123456，什么时候发货", "金额123150元", "快递单号 SF1231500987"],
    ids=["order-number", "amount", "waybill"],
)
def test_numeric_escalation_term_inside_a_longer_number_is_not_escalation(text: str) -> None:
    # "12315" / "12345" are hotline numbers only when they stand alone, not as part of an
    # order number, an amount or a waybill number.
    result = assess(text=text, category="logistics", sentiment=NEUTRAL)
    assert not any(r.startswith("escalation:") for r in result.reasons)
    assert result.level == "P3"


def test_call_signals_each_add_a_point() -> None:
    signals = Signals(wait_seconds=300, transfers=2, resolved_first_contact=False, satisfaction=2)
    result = assess(signals=signals)
    assert result.points == 4
    assert result.level == "P2"
    assert result.reasons == (
        "category:other=low",
        "call:unresolved",
        "call:long_wait=300s",
        "call:transfers=2",
        "call:low_rating=2",
    )


@pytest.mark.parametrize(
    "signals",
    [
        Signals(wait_seconds=299.9, transfers=1, resolved_first_contact=True, satisfaction=3),
        Signals(),  # nothing known: nothing added
        Signals(wait_seconds=0, transfers=0, satisfaction=5),
    ],
)
def test_call_signals_below_the_limits_add_nothing(signals: Signals) -> None:
    result = assess(signals=signals)
    assert result.points == 0
    assert result.reasons == ("category:other=low",)


def test_full_call_example_reaches_p1() -> None:
    # technical 2 + strongly negative 2 + 4 call signals = 8.
    signals = Signals(wait_seconds=600.0, transfers=3, resolved_first_contact=False, satisfaction=1)
    result = assess(category="technical", sentiment=0.02, signals=signals)
    assert (result.level, result.points) == ("P1", 8)
    assert "call:long_wait=600.0s" in result.reasons


def _write_policy(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "priority.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_load_a_modified_copy(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    data["levels"] = {"P1": 3, "P2": 1}
    data["escalation_terms"] = ["投诉到底"]
    policy = PriorityPolicy.load(_write_policy(tmp_path, data))
    assert policy.assess("", "technical", NEUTRAL, Signals()).level == "P2"
    assert policy.assess("", "technical", 0.2, Signals()).level == "P1"
    assert policy.assess("我要投诉到底", "price", NEUTRAL, Signals()).level == "P1"
    assert policy.assess("打12315", "price", NEUTRAL, Signals()).level == "P3"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("levels"),
        lambda d: d["call"].pop("many_transfers"),
        lambda d: d.__setitem__("social_reach", {"high": "lots", "medium": 10}),
        lambda d: d.__setitem__("severity_points", ["high", "low"]),
    ],
    ids=["missing-levels", "missing-call-entry", "not-a-number", "wrong-shape"],
)
def test_invalid_policy_is_a_config_error_naming_the_file(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], object]
) -> None:
    data = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    mutate(data)
    path = _write_policy(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        PriorityPolicy.load(path)
    assert str(path) in str(info.value)


def test_unparsable_policy_file_is_a_config_error(tmp_path: Path) -> None:
    # Like alerts.rules.load_rules: a YAML syntax error is a ConfigError naming the file.
    path = tmp_path / "broken.yaml"
    path.write_text("levels: {P1: 6, P2: 3\nbase_severity: [", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        PriorityPolicy.load(path)
    assert str(path) in str(info.value)


def test_empty_policy_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError):
        PriorityPolicy.load(path)
