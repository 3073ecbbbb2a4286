"""alerts.rules: loading, validation, window keys and evaluation of threshold rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import alerts.rules
from alerts.rules import (
    DIMENSIONS,
    Rule,
    WindowCounts,
    load_rules,
    parse_rules,
    parse_span,
    parse_window_key,
    window_key,
)
from vocwatch.errors import ConfigError
from vocwatch.settings import DEFAULT_RULES_FILE

PACKAGED = Path(alerts.rules.__file__).resolve().parent / "rules.yaml"


def rule_dict(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "burst", "key": ["channel", "category"], "window": "5m",
                            "measure": "negative_count", "threshold": 5, "priority": "P2"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def one(**changes: Any) -> Rule:
    (rule,) = parse_rules({"rules": [rule_dict(**changes)]})
    return rule


# --- the packaged file ---------------------------------------------------------------

def test_packaged_rules_load() -> None:
    assert DEFAULT_RULES_FILE == PACKAGED
    rules = {r.name: r for r in load_rules(PACKAGED)}
    assert set(rules) == {"negative_burst", "social_negative_share", "severe_event"}

    burst = rules["negative_burst"]
    assert burst.key == ("channel", "category")
    assert burst.where == {}
    assert (burst.window_seconds, burst.measure, burst.threshold) == (300, "negative_count", 25)
    assert (burst.min_count, burst.resolve_ratio, burst.priority) == (25, 0.8, "P2")

    share = rules["social_negative_share"]
    assert share.key == ("platform",)
    assert share.where == {"source": frozenset({"social"})}
    assert (share.window_seconds, share.measure, share.threshold) == (900, "negative_share", 0.75)
    assert share.min_count == 40

    severe = rules["severe_event"]
    assert (severe.measure, severe.threshold, severe.min_count) == ("p1_count", 1.0, 1)
    assert (severe.resolve_ratio, severe.priority) == (1.0, "P1")
    for rule in rules.values():
        assert rule.description


def test_defaults_and_normalization() -> None:
    rule = one(key=["category", "channel"], where={"region": [110, "北京"]})
    assert rule.key == ("channel", "category")          # DIMENSIONS order, whatever was given
    assert rule.where == {"region": frozenset({"110", "北京"})}
    assert (rule.min_count, rule.resolve_ratio, rule.description) == (1, 0.8, "")
    assert isinstance(rule.threshold, float)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("90m", 5400), (" 15m ", 900), ("5 m", 300)],
)
def test_parse_span(text: str, seconds: int) -> None:
    assert parse_span(text) == seconds


@pytest.mark.parametrize("text", ["5x", "0m", "-5m", "5", 5, "1d", "", "m5", "5.5m", "5M"])
def test_parse_span_rejects(text: Any) -> None:
    with pytest.raises(ValueError, match="not a span"):
        parse_span(text)


# --- validation errors name the rule and the field -------------------------------------

@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("window", "5x"), ("window", "0s"), ("window", 300), ("window", "1d"), ("window", ...),
        ("measure", "sum"), ("measure", "Count"), ("measure", ...),
        ("threshold", 0), ("threshold", -1), ("threshold", "5"), ("threshold", True),
        ("threshold", ...),
        ("key", ["channel", "city"]), ("key", []), ("key", "channel"),
        ("key", ["channel", "channel"]), ("key", ...),
        ("where", {"city": ["x"]}), ("where", {"source": []}), ("where", {"source": "social"}),
        ("where", ["source"]),
        ("min_count", 0), ("min_count", 1.5), ("min_count", "3"),
        ("resolve_ratio", 0), ("resolve_ratio", 1.5), ("resolve_ratio", "0.5"),
        ("priority", "P4"), ("priority", "p1"), ("priority", ...),
        ("description", 5),
    ],
)
def test_invalid_field_names_rule_and_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules({"rules": [rule_dict(**{field: value})]}, source="rules.yaml")
    message = str(info.value)
    assert message.startswith(f"rules.yaml: rule 'burst': {field}: ")
    assert info.value.field == field


@pytest.mark.parametrize("threshold", [1.5, 2, 100])
def test_negative_share_threshold_above_one(threshold: float) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules({"rules": [rule_dict(measure="negative_share", threshold=threshold)]})
    assert info.value.field == "threshold"
    assert "rule 'burst'" in str(info.value)
    assert "negative_share" in str(info.value)


@pytest.mark.parametrize("threshold", [0.5, 1, 1.0])
def test_negative_share_threshold_up_to_one_is_fine(threshold: float) -> None:
    assert one(measure="negative_share", threshold=threshold).threshold == threshold


def test_count_thresholds_above_one_are_fine() -> None:
    assert one(measure="count", threshold=250).threshold == 250.0


@pytest.mark.parametrize("name", ["Bad-Name", "1abc", "", "with space", "a" * 64, 5])
def test_invalid_name(name: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules({"rules": [rule_dict(), rule_dict(name=name)]})
    assert info.value.field == "name"
    # The rule is named by what it has: its name when it is text, else its position.
    expected = f"rule {name!r}" if isinstance(name, str) else "rules[1]"
    assert expected in str(info.value)


def test_unknown_field_names_the_rule_and_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules({"rules": [rule_dict(thresold=5)]})
    message = str(info.value)
    assert "rule 'burst'" in message
    assert "thresold" in message
    assert "threshold" in message          # the known fields are listed


def test_duplicate_names() -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules({"rules": [rule_dict(), rule_dict(name="other"), rule_dict(window="1h")]})
    assert "unique" in str(info.value)
    assert "burst" in str(info.value)
    assert "other" not in str(info.value)


@pytest.mark.parametrize("data", [None, [], {}, {"rules": []}, {"rules": "burst"},
                                  {"rule": [rule_dict()]}])
def test_top_level_shape(data: Any) -> None:
    with pytest.raises(ConfigError, match="non-empty list 'rules'"):
        parse_rules(data)


def test_rule_that_is_not_a_mapping_is_named_by_position() -> None:
    with pytest.raises(ConfigError, match=r"rules\[1\]: each rule must be a mapping"):
        parse_rules({"rules": [rule_dict(), "burst"]})


def test_load_rules_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match="cannot read rules file") as info:
        load_rules(missing)
    assert str(missing) in str(info.value)

    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [ {name: a\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_rules(broken)
    assert str(broken) in str(info.value)

    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("rules:\n  - name: x\n    key: [channel]\n    window: 5m\n"
                       "    measure: count\n    threshold: 3\n    priority: P9\n",
                       encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(invalid)
    assert str(info.value).startswith(f"{invalid}: rule 'x': priority: ")


# --- window keys ---------------------------------------------------------------------

def test_window_key_is_canonical() -> None:
    assert window_key({"category": "logistics", "channel": "app"}) == \
        "channel=app,category=logistics"
    assert window_key({"source": "social"}) == "source=social"
    assert window_key({}) == ""


@pytest.mark.parametrize(
    "dims",
    [{"channel": "app", "category": "logistics"},
     {"product": "智能手表X2", "region": "北京"},
     {"product": "a,b=c%d", "platform": "weibo"},
     {d: f"v{i}" for i, d in enumerate(DIMENSIONS)}],
)
def test_window_key_round_trip(dims: dict[str, str]) -> None:
    key = window_key(dims)
    assert parse_window_key(key) == dims
    assert key.count(",") == len(dims) - 1     # separators inside values are escaped


COMPLAINT = {"source": "complaint", "channel": "app", "product": "智能手表X2", "region": "北京"}
POST = {"source": "social", "channel": "social", "platform": "weibo"}


def test_keys_for_one_key_per_category() -> None:
    rule = one()
    assert list(rule.keys_for(COMPLAINT, ["logistics", "service"])) == [
        "channel=app,category=logistics", "channel=app,category=service"]
    assert list(rule.keys_for(COMPLAINT, ["other"])) == ["channel=app,category=other"]


def test_keys_for_without_category_in_key_counts_once() -> None:
    rule = one(key=["channel"])
    assert list(rule.keys_for(COMPLAINT, ["logistics", "service", "price"])) == ["channel=app"]


def test_keys_for_with_a_where_filter() -> None:
    rule = one(key=["platform"], where={"source": ["social"]})
    assert list(rule.keys_for(POST, ["logistics"])) == ["platform=weibo"]
    assert list(rule.keys_for(COMPLAINT, ["logistics"])) == []


def test_keys_for_with_several_filters_and_values() -> None:
    rule = one(key=["region"], where={"source": ["complaint", "call"], "channel": ["app"]})
    assert list(rule.keys_for(COMPLAINT, ["logistics"])) == ["region=%E5%8C%97%E4%BA%AC"]
    assert list(rule.keys_for({**COMPLAINT, "channel": "web"}, ["logistics"])) == []
    assert list(rule.keys_for({"source": "call", "channel": "call", "region": "北京"},
                              ["logistics"])) == []


def test_keys_for_with_a_filter_on_category() -> None:
    # "category" is a dimension a rule may filter on, but events carry their categories
    # separately from their dimensions: the filter must look at them.
    rule = one(key=["channel"], where={"category": ["logistics"]})
    assert list(rule.keys_for(COMPLAINT, ["logistics", "service"])) == ["channel=app"]
    assert list(rule.keys_for(COMPLAINT, ["service"])) == []


def test_keys_for_with_missing_dimensions() -> None:
    assert list(one(key=["product"]).keys_for(POST, ["logistics"])) == []
    assert list(one(key=["channel", "region"]).keys_for(POST, ["logistics"])) == []
    assert list(one(key=["region"]).keys_for({**COMPLAINT, "region": ""}, ["x"])) == []
    assert list(one(key=["platform"]).keys_for(COMPLAINT, ["logistics"])) == []
    # A filter on a dimension the event lacks excludes it.
    assert list(one(key=["channel"], where={"platform": ["weibo"]})
                .keys_for(COMPLAINT, ["logistics"])) == []


def test_keys_for_with_category_key_and_no_categories() -> None:
    assert list(one().keys_for(COMPLAINT, [])) == []


def test_keys_for_with_packaged_rules() -> None:
    rules = {r.name: r for r in load_rules(PACKAGED)}
    assert list(rules["social_negative_share"].keys_for(POST, ["price"])) == ["platform=weibo"]
    assert list(rules["social_negative_share"].keys_for(COMPLAINT, ["price"])) == []
    assert list(rules["negative_burst"].keys_for(POST, ["price"])) == [
        "channel=social,category=price"]


# --- measures and evaluation ---------------------------------------------------------

@pytest.mark.parametrize(
    ("measure", "value"),
    [("count", 10), ("negative_count", 4), ("p1_count", 1), ("negative_share", 0.4)],
)
def test_window_counts_measure(measure: str, value: float) -> None:
    assert WindowCounts(count=10, negative=4, p1=1).measure(measure) == value


def test_negative_share_of_an_empty_window_is_zero() -> None:
    assert WindowCounts().measure("negative_share") == 0.0
    assert WindowCounts().measure("count") == 0


def test_breached_needs_threshold_and_min_count() -> None:
    rule = one(measure="negative_count", threshold=10, min_count=12)
    assert rule.breached(WindowCounts(count=12, negative=10))
    assert rule.breached(WindowCounts(count=50, negative=30))
    assert not rule.breached(WindowCounts(count=50, negative=9))       # below threshold
    assert not rule.breached(WindowCounts(count=11, negative=11))      # below min_count


def test_holds_with_hysteresis() -> None:
    rule = one(measure="negative_count", threshold=10, resolve_ratio=0.8)
    # Fires at 10, keeps firing down to 8 (10 × 0.8), resolves below.
    assert rule.breached(WindowCounts(count=20, negative=10))
    assert not rule.breached(WindowCounts(count=20, negative=9))
    assert rule.holds(WindowCounts(count=20, negative=9))
    assert rule.holds(WindowCounts(count=20, negative=8))
    assert not rule.holds(WindowCounts(count=20, negative=7))
    assert not rule.holds(WindowCounts())


def test_holds_ignores_min_count() -> None:
    rule = one(measure="negative_share", threshold=0.75, min_count=40)
    small = WindowCounts(count=10, negative=10)
    assert not rule.breached(small)
    assert rule.holds(small)
    assert rule.breached(WindowCounts(count=40, negative=30))
    # Resolves below 0.75 × 0.8 = 0.6 (exact float boundaries avoided: 0.75 × 0.8 > 0.6).
    assert rule.holds(WindowCounts(count=40, negative=25))        # 0.625
    assert not rule.holds(WindowCounts(count=40, negative=23))    # 0.575


def test_resolve_ratio_one_means_no_hysteresis() -> None:
    rule = one(measure="p1_count", threshold=1, resolve_ratio=1.0)
    assert rule.breached(WindowCounts(count=3, p1=1))
    assert rule.holds(WindowCounts(count=3, p1=1))
    assert not rule.holds(WindowCounts(count=3, p1=0))
