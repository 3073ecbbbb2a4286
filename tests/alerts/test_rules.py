"""alerts.rules: loading, validation (errors name file, line, rule and field), window keys,
incident keys and the window measures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import alerts.rules
from alerts.rules import (
    DIMENSIONS,
    FALLING,
    MEASURES,
    Rule,
    Spike,
    WindowCounts,
    load_config,
    load_rules,
    parse_config,
    parse_rules,
    parse_span,
    parse_window_key,
    window_key,
    yaml_lines,
)
from vocwatch.errors import ConfigError
from vocwatch.settings import DEFAULT_RULES_FILE
from vocwatch.vocabulary import MeasureName

PACKAGED = Path(alerts.rules.__file__).resolve().parent / "rules.yaml"


def rule_dict(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "burst",
        "key": ["channel", "category"],
        "window": "5m",
        "measure": "negative_count",
        "threshold": 5,
        "priority": "P2",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def one(**changes: Any) -> Rule:
    (rule,) = parse_rules({"rules": [rule_dict(**changes)]})
    return rule


def spike_rule(**changes: Any) -> Rule:
    return one(**{"threshold": ..., "spike": {}, **changes})


# --- the packaged file ---------------------------------------------------------------


def test_packaged_rules_load() -> None:
    assert DEFAULT_RULES_FILE == PACKAGED
    rules = {r.name: r for r in load_rules(PACKAGED)}
    assert set(rules) == {
        "negative_burst",
        "category_spike",
        "social_negative_share",
        "social_reach_spike",
        "severe_event",
        "call_resolution_drop",
        "call_wait_long",
        "nps_drop",
    }

    burst = rules["negative_burst"]
    assert burst.key == ("channel", "category")
    assert burst.where == {}
    assert (burst.window_seconds, burst.measure, burst.threshold) == (300, "negative_count", 25)
    assert (burst.min_count, burst.resolve_ratio, burst.priority) == (25, 0.8, "P2")
    assert (burst.spike, burst.for_seconds, burst.repeat_seconds) == (None, 0, 3600)
    assert (burst.correlate, burst.falling) == ((), False)

    spike = rules["category_spike"]
    assert spike.key == ("source", "category")
    assert (spike.correlate, spike.incident_dims) == (("category",), ("category",))
    assert (spike.window_seconds, spike.measure, spike.threshold) == (900, "negative_count", None)
    assert spike.spike == Spike(
        z=4, min_change=10, p_value=0.001, alpha=0.05, warmup=60, seasonal=True
    )
    assert (spike.min_count, spike.for_seconds) == (10, 60)

    share = rules["social_negative_share"]
    assert share.key == ("platform",)
    assert share.where == {"source": frozenset({"social"})}
    assert (share.window_seconds, share.measure, share.threshold) == (900, "negative_share", 0.75)
    assert share.min_count == 40

    reach = rules["social_reach_spike"]
    assert (reach.measure, reach.threshold, reach.min_count) == ("reach_negative", None, 20)
    assert reach.spike == Spike(z=4, p_value=0.001, warmup=60)

    severe = rules["severe_event"]
    assert (severe.measure, severe.threshold, severe.min_count) == ("p1_count", 1.0, 1)
    assert (severe.resolve_ratio, severe.priority) == (1.0, "P1")
    assert severe.repeat_seconds == 1800

    resolution = rules["call_resolution_drop"]
    assert (resolution.measure, resolution.threshold) == ("first_contact_resolution", 0.5)
    assert (resolution.falling, resolution.for_seconds, resolution.priority) == (True, 300, "P3")
    assert resolution.where == {"source": frozenset({"call"})}

    wait = rules["call_wait_long"]
    assert (wait.measure, wait.threshold, wait.falling) == ("mean_wait_seconds", 300.0, False)
    assert (wait.min_count, wait.for_seconds) == (20, 120)

    nps = rules["nps_drop"]
    assert (nps.measure, nps.falling, nps.threshold, nps.min_count) == ("nps", True, None, 30)
    assert nps.spike == Spike(z=3, min_change=15, warmup=60, seasonal=False)
    assert nps.window_seconds <= max(r.window_seconds for r in rules.values() if r is not nps)
    for rule in rules.values():
        assert rule.description


def test_packaged_config_sections() -> None:
    config = load_config(PACKAGED)
    assert set(config.teams) == {"客服主管", "技术支持", "社交媒体团队", "客户挽留"}
    assert [r.get("team") for r in config.routes] == [
        "客户挽留",
        "技术支持",
        "社交媒体团队",
        "客服主管",
    ]
    assert set(config.customers) == {"history_days", "max_contacts", "risk", "detractor"}
    assert len(config.kpis) == 6
    assert "stream" in config.sinks
    assert config.source == str(PACKAGED)
    assert config.lines is not None


def test_defaults_and_normalization() -> None:
    rule = one(key=["category", "channel"], where={"region": [110, "北京"]})
    assert rule.key == ("channel", "category")  # DIMENSIONS order, whatever was given
    assert rule.where == {"region": frozenset({"110", "北京"})}
    assert (rule.min_count, rule.resolve_ratio, rule.description) == (1, 0.8, "")
    assert isinstance(rule.threshold, float)
    assert (rule.spike, rule.for_seconds, rule.repeat_seconds, rule.correlate) == (
        None,
        0,
        3600,
        (),
    )


def test_for_repeat_and_correlate() -> None:
    rule = one(
        key=["source", "category", "channel"],
        correlate=["category", "source"],
        **{"for": "2m", "repeat": "1d"},
    )
    assert (rule.for_seconds, rule.repeat_seconds) == (120, 86400)
    assert rule.correlate == ("source", "category")  # DIMENSIONS order too
    assert one(repeat=0).repeat_seconds == 0  # 0: no reminders
    assert one(**{"for": 0}).for_seconds == 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("90m", 5400),
        (" 15m ", 900),
        ("5 m", 300),
        ("1d", 86400),
        ("2d", 172800),
    ],
)
def test_parse_span(text: str, seconds: int) -> None:
    assert parse_span(text) == seconds


@pytest.mark.parametrize("text", ["5x", "0m", "-5m", "5", 5, "", "m5", "5.5m", "5M", "1w"])
def test_parse_span_rejects(text: Any) -> None:
    with pytest.raises(ValueError, match="not a span"):
        parse_span(text)


# --- spike rules and falling measures --------------------------------------------------


def test_spike_rule_defaults() -> None:
    rule = spike_rule()
    assert rule.threshold is None
    assert rule.spike == Spike()
    assert (Spike().z, Spike().p_value, Spike().warmup, Spike().seasonal) == (3.0, 0.001, 30, True)


def test_spike_rule_fields() -> None:
    rule = spike_rule(
        spike={
            "z": 4.5,
            "min_change": 2,
            "p_value": 0.01,
            "alpha": 1,
            "warmup": 0,
            "seasonal": False,
        }
    )
    assert rule.spike == Spike(z=4.5, min_change=2, p_value=0.01, alpha=1, warmup=0, seasonal=False)


@pytest.mark.parametrize(
    "condition",
    [
        {"threshold": 5, "spike": {"z": 3}},  # both
        {"threshold": ...},
    ],  # neither
)
def test_exactly_one_of_threshold_and_spike(condition: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="exactly one of threshold") as info:
        parse_rules({"rules": [rule_dict(**condition)]}, source="rules.yaml")
    assert info.value.field == "threshold"
    assert str(info.value).startswith("rules.yaml: rule 'burst': threshold: ")


@pytest.mark.parametrize(
    ("spike", "named"),
    [
        ({"z": 0}, "spike.z"),
        ({"z": -1}, "spike.z"),
        ({"z": "3"}, "spike.z"),
        ({"z": True}, "spike.z"),
        ({"min_change": -1}, "spike.min_change"),
        ({"p_value": 0}, "spike.p_value"),
        ({"p_value": 1}, "spike.p_value"),
        ({"alpha": 0}, "spike.alpha"),
        ({"alpha": 1.5}, "spike.alpha"),
        ({"warmup": -1}, "spike.warmup"),
        ({"warmup": 1.5}, "spike.warmup"),
        ({"warmup": True}, "spike.warmup"),
        ({"seasonal": "yes"}, "spike.seasonal"),
        ({"seasonal": 1}, "spike.seasonal"),
        ({"zz": 3}, "fields from"),
        ("z=3", "fields from"),
        (None, "fields from"),
    ],
)
def test_invalid_spike(spike: Any, named: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules({"rules": [rule_dict(threshold=..., spike=spike)]}, source="rules.yaml")
    assert info.value.field == "spike"
    assert str(info.value).startswith("rules.yaml: rule 'burst': spike: ")
    assert named in str(info.value)


@pytest.mark.parametrize("measure", MEASURES)
def test_falling_measures(measure: str) -> None:
    threshold = 0.5
    rule = one(measure=measure, threshold=threshold)
    falling = {"mean_sentiment", "first_contact_resolution", "nps", "csat", "ces"}
    assert rule.falling == (measure in falling)
    assert (measure in FALLING) == rule.falling


@pytest.mark.parametrize(
    "measure", ["negative_share", "mean_sentiment", "first_contact_resolution"]
)
@pytest.mark.parametrize("threshold", [1.5, 2, 100])
def test_share_threshold_above_one(measure: str, threshold: float) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules({"rules": [rule_dict(measure=measure, threshold=threshold)]})
    assert info.value.field == "threshold"
    assert "rule 'burst'" in str(info.value)
    assert measure in str(info.value)


@pytest.mark.parametrize("threshold", [0.5, 1, 1.0])
def test_negative_share_threshold_up_to_one_is_fine(threshold: float) -> None:
    assert one(measure="negative_share", threshold=threshold).threshold == threshold


@pytest.mark.parametrize(
    "measure", ["count", "reach_negative", "mean_wait_seconds", "rate_per_minute"]
)
def test_thresholds_above_one_are_fine(measure: str) -> None:
    assert one(measure=measure, threshold=250).threshold == 250.0


# --- validation errors name the rule and the field -------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("window", "5x"),
        ("window", "0s"),
        ("window", 300),
        ("window", "1w"),
        ("window", ...),
        ("measure", "sum"),
        ("measure", "Count"),
        ("measure", ...),
        ("threshold", 0),
        ("threshold", -1),
        ("threshold", "5"),
        ("threshold", True),
        ("threshold", ...),
        ("key", ["channel", "city"]),
        ("key", []),
        ("key", "channel"),
        ("key", ["channel", "channel"]),
        ("key", ...),
        ("where", {"city": ["x"]}),
        ("where", {"source": []}),
        ("where", {"source": "social"}),
        ("where", ["source"]),
        ("min_count", 0),
        ("min_count", 1.5),
        ("min_count", "3"),
        ("min_count", True),
        ("resolve_ratio", 0),
        ("resolve_ratio", 1.5),
        ("resolve_ratio", "0.5"),
        ("priority", "P4"),
        ("priority", "p1"),
        ("priority", ...),
        ("description", 5),
        ("for", "5x"),
        ("for", "0m"),
        ("for", 60),
        ("for", None),
        ("repeat", "soon"),
        ("repeat", 3600),
        ("repeat", None),
        ("correlate", ["channel", "category"]),  # all of the key: that is the default
        ("correlate", ["region"]),  # not in the key
        ("correlate", "category"),
        ("correlate", [["category"]]),
    ],
)
def test_invalid_field_names_rule_and_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules({"rules": [rule_dict(**{field: value})]}, source="rules.yaml")
    message = str(info.value)
    assert message.startswith(f"rules.yaml: rule 'burst': {field}: ")
    assert info.value.field == field


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
    assert "threshold" in message  # the known fields are listed


def test_duplicate_names() -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules({"rules": [rule_dict(), rule_dict(name="other"), rule_dict(window="1h")]})
    assert "unique" in str(info.value)
    assert "burst" in str(info.value)
    assert "other" not in str(info.value)


@pytest.mark.parametrize(
    "data", [None, [], {}, {"rules": []}, {"rules": "burst"}, {"rule": [rule_dict()]}]
)
def test_top_level_shape(data: Any) -> None:
    with pytest.raises(ConfigError, match="non-empty list 'rules'"):
        parse_rules(data)


def test_rule_that_is_not_a_mapping_is_named_by_position() -> None:
    with pytest.raises(ConfigError, match=r"rules\[1\]: each rule must be a mapping"):
        parse_rules({"rules": [rule_dict(), "burst"]})


@pytest.mark.parametrize(
    ("section", "value", "kind"),
    [("teams", [], "mapping"), ("routes", {}, "list"), ("sinks", "x", "mapping")],
)
def test_sections_of_the_wrong_type(section: str, value: Any, kind: str) -> None:
    with pytest.raises(ConfigError, match=f"'{section}' must be a {kind}"):
        parse_config({"rules": [rule_dict()], section: value})


def test_sections_are_passed_through() -> None:
    config = parse_config(
        {
            "rules": [rule_dict()],
            "teams": {"t": {"sinks": []}},
            "routes": [{"team": "t"}],
            "sinks": {"s": {"type": "webhook"}},
        },
        source="x.yaml",
    )
    assert config.teams == {"t": {"sinks": []}}
    assert config.routes == [{"team": "t"}]
    assert config.sinks == {"s": {"type": "webhook"}}
    assert (config.source, config.lines) == ("x.yaml", None)
    assert parse_config({"rules": [rule_dict()]}).teams == {}


# --- errors of a file name its path and line ---------------------------------------------

FILE = """\
# two rules
rules:
  - name: first
    key: [channel]
    window: 5m
    measure: count
    threshold: 3
    priority: P2

  - name: second
    key: [channel]
    window: 5x
    measure: count
    threshold: 3
    priority: P2
teams: []
"""


def test_yaml_lines() -> None:
    line = yaml_lines(FILE)
    assert line(["rules"]) == 2
    assert line(["rules", 0]) == 3
    assert line(["rules", 1]) == 10
    assert line(["rules", 1, "window"]) == 12
    assert line(["rules", 1, "missing"]) == 10  # the nearest node found
    assert line(["rules", 7, "window"]) == 2
    assert line(["teams"]) == 16
    assert line(["nothing"]) is None
    assert yaml_lines("rules: [ {")(["rules"]) is None  # not YAML: no lines


def test_load_config_errors_name_file_line_rule_and_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(FILE, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:12: rule 'second': window: ")
    assert info.value.field == "window"

    # A missing field is reported at the rule's line.
    path.write_text(
        FILE.replace("5x", "5m").replace("    priority: P2\nteams", "teams"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:10: rule 'second': priority: ")

    # A section of the wrong type, at its own line.
    path.write_text(FILE.replace("5x", "5m"), encoding="utf-8")
    with pytest.raises(ConfigError, match="'teams' must be a mapping") as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:16: ")


def test_load_config_spike_error_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - name: x\n    key: [channel]\n    window: 5m\n"
        "    measure: count\n    priority: P2\n    spike:\n      z: 0\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:7: rule 'x': spike: spike.z: ")


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
    invalid.write_text(
        "rules:\n  - name: x\n    key: [channel]\n    window: 5m\n"
        "    measure: count\n    threshold: 3\n    priority: P9\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_rules(invalid)
    assert str(info.value).startswith(f"{invalid}:7: rule 'x': priority: ")


# --- window keys ---------------------------------------------------------------------


def test_window_key_is_canonical() -> None:
    assert (
        window_key({"category": "logistics", "channel": "app"}) == "channel=app,category=logistics"
    )
    assert window_key({"source": "social"}) == "source=social"
    assert window_key({}) == ""


@pytest.mark.parametrize(
    "dims",
    [
        {"channel": "app", "category": "logistics"},
        {"product": "智能手表X2", "region": "北京"},
        {"product": "a,b=c%d", "platform": "weibo"},
        {d: f"v{i}" for i, d in enumerate(DIMENSIONS)},
    ],
)
def test_window_key_round_trip(dims: dict[str, str]) -> None:
    key = window_key(dims)
    assert parse_window_key(key) == dims
    assert key.count(",") == len(dims) - 1  # separators inside values are escaped


COMPLAINT = {"source": "complaint", "channel": "app", "product": "智能手表X2", "region": "北京"}
POST = {"source": "social", "channel": "social", "platform": "weibo"}


def test_keys_for_one_key_per_category() -> None:
    rule = one()
    assert list(rule.keys_for(COMPLAINT, ["logistics", "service"])) == [
        "channel=app,category=logistics",
        "channel=app,category=service",
    ]
    assert list(rule.keys_for(COMPLAINT, ["other"])) == ["channel=app,category=other"]


def test_keys_for_without_category_in_key_counts_once() -> None:
    rule = one(key=["channel"])
    assert list(rule.keys_for(COMPLAINT, ["logistics", "service", "price"])) == ["channel=app"]


def test_keys_for_with_a_where_filter() -> None:
    rule = one(key=["platform"], where={"source": ["social"]})
    assert list(rule.keys_for(POST, ["logistics"])) == ["platform=weibo|source:social"]
    assert list(rule.keys_for(COMPLAINT, ["logistics"])) == []


def test_rules_with_the_same_key_but_different_filters_keep_separate_windows() -> None:
    calls = one(key=["category"], where={"source": ["call"]})
    everything = one(key=["category"])
    call = {"source": "call", "channel": "call"}
    assert list(calls.keys_for(call, ["logistics"])) == ["category=logistics|source:call"]
    assert list(everything.keys_for(call, ["logistics"])) == ["category=logistics"]
    assert parse_window_key("category=logistics|source:call") == {"category": "logistics"}


def test_keys_for_with_several_filters_and_values() -> None:
    rule = one(key=["region"], where={"source": ["complaint", "call"], "channel": ["app"]})
    assert list(rule.keys_for(COMPLAINT, ["logistics"])) == [
        "region=%E5%8C%97%E4%BA%AC|channel:app;source:call,complaint"
    ]
    assert list(rule.keys_for({**COMPLAINT, "channel": "web"}, ["logistics"])) == []
    assert (
        list(rule.keys_for({"source": "call", "channel": "call", "region": "北京"}, ["logistics"]))
        == []
    )


def test_keys_for_with_a_filter_on_category() -> None:
    # "category" is a dimension a rule may filter on, but events carry their categories
    # separately from their dimensions: the filter must look at them.
    rule = one(key=["channel"], where={"category": ["logistics"]})
    assert list(rule.keys_for(COMPLAINT, ["logistics", "service"])) == [
        "channel=app|category:logistics"
    ]
    assert list(rule.keys_for(COMPLAINT, ["service"])) == []


def test_keys_for_with_missing_dimensions() -> None:
    assert list(one(key=["product"]).keys_for(POST, ["logistics"])) == []
    assert list(one(key=["channel", "region"]).keys_for(POST, ["logistics"])) == []
    assert list(one(key=["region"]).keys_for({**COMPLAINT, "region": ""}, ["x"])) == []
    assert list(one(key=["platform"]).keys_for(COMPLAINT, ["logistics"])) == []
    # A filter on a dimension the event lacks excludes it.
    assert (
        list(one(key=["channel"], where={"platform": ["weibo"]}).keys_for(COMPLAINT, ["logistics"]))
        == []
    )


def test_keys_for_with_category_key_and_no_categories() -> None:
    assert list(one().keys_for(COMPLAINT, [])) == []


def test_keys_for_with_packaged_rules() -> None:
    rules = {r.name: r for r in load_rules(PACKAGED)}
    assert list(rules["social_negative_share"].keys_for(POST, ["price"])) == [
        "platform=weibo|source:social"
    ]
    assert list(rules["social_negative_share"].keys_for(COMPLAINT, ["price"])) == []
    assert list(rules["negative_burst"].keys_for(POST, ["price"])) == [
        "channel=social,category=price"
    ]
    assert list(rules["category_spike"].keys_for(POST, ["price", "logistics"])) == [
        "source=social,category=price",
        "source=social,category=logistics",
    ]
    call = {"source": "call", "channel": "call"}
    assert list(rules["call_wait_long"].keys_for(call, ["billing"])) == ["source=call"]
    assert list(rules["call_resolution_drop"].keys_for(call, ["billing"])) == [
        "category=billing|source:call"
    ]
    assert list(rules["call_resolution_drop"].keys_for(COMPLAINT, ["billing"])) == []


# --- incidents -----------------------------------------------------------------------


def test_incident_key_projects_on_correlate() -> None:
    rule = one(key=["source", "category"], correlate=["category"])
    assert rule.incident_dims == ("category",)
    assert rule.incident_key("source=social,category=logistics") == "category=logistics"
    assert rule.incident_key("source=call,category=logistics") == "category=logistics"
    assert (
        rule.incident_key("source=call,category=%E7%89%A9%E6%B5%81")
        == "category=%E7%89%A9%E6%B5%81"
    )


def test_incident_key_without_correlate_is_the_window_key() -> None:
    rule = one()
    assert rule.incident_dims == ("channel", "category")
    assert rule.incident_key("channel=app,category=logistics") == "channel=app,category=logistics"


def test_fixed_dims_are_single_valued_filters() -> None:
    rule = one(where={"source": ["social"], "channel": ["app", "web"]})
    assert rule.fixed_dims() == {"source": "social"}
    assert one().fixed_dims() == {}


# --- measures ------------------------------------------------------------------------

COUNTS = WindowCounts(
    count=10,
    negative=4,
    p1=1,
    sentiment=3.5,
    reach_negative=1200.0,
    calls=8,
    first_contact=6,
    wait=960.0,
    nps=10,
    promoters=5,
    detractors=2,
    csat=4,
    csat_sum=14,
    csat_squares=54,
    ces=2,
    ces_sum=11,
    ces_squares=61,
)


@pytest.mark.parametrize(
    ("measure", "value"),
    [
        ("count", 10),
        ("negative_count", 4),
        ("p1_count", 1),
        ("negative_share", 0.4),
        ("rate_per_minute", 2.0),
        ("mean_sentiment", 0.35),
        ("reach_negative", 1200.0),
        ("first_contact_resolution", 0.75),
        ("mean_wait_seconds", 120.0),
        ("nps", 30.0),
        ("csat", 3.5),
        ("ces", 5.5),
    ],
)
def test_window_counts_measure(measure: MeasureName, value: float) -> None:
    assert COUNTS.measure(measure, 300) == pytest.approx(value)


def test_every_measure_is_covered() -> None:
    # The table above must cover every measure: a new one needs a test.
    assert set(MEASURES) == {
        "count",
        "rate_per_minute",
        "negative_count",
        "negative_share",
        "mean_sentiment",
        "p1_count",
        "reach_negative",
        "first_contact_resolution",
        "mean_wait_seconds",
        "nps",
        "csat",
        "ces",
    }


def test_survey_measures_are_taken_over_their_responses() -> None:
    assert [COUNTS.trials(m) for m in ("nps", "csat", "ces", "count")] == [10, 4, 2, 10]
    assert COUNTS.trials("first_contact_resolution") == 8


def test_nps_interval_is_the_normal_approximation_of_a_difference_of_shares() -> None:
    # 5 promoters and 2 detractors of 10: variance (0.5 + 0.2 - 0.3²) / 10 = 0.061
    half = 1.96 * 100 * 0.061**0.5
    low, high = COUNTS.interval("nps") or (0, 0)
    assert low == pytest.approx(30 - half, abs=1e-3)
    assert high == pytest.approx(30 + half, abs=1e-3)
    assert WindowCounts(nps=4, promoters=4).interval("nps") == (100.0, 100.0)
    assert WindowCounts(nps=2, detractors=1, promoters=1).interval("nps") == (-100.0, 100.0)


def test_mean_score_interval_uses_the_sample_variance() -> None:
    # CSAT 2, 3, 4, 5: mean 3.5, sample variance 5/3, standard error sqrt(5/3 / 4)
    low, high = COUNTS.interval("csat") or (0, 0)
    half = 1.96 * (5 / 3 / 4) ** 0.5
    assert low == pytest.approx(3.5 - half, abs=1e-3)
    assert high == pytest.approx(3.5 + half, abs=1e-3)
    # CSAT 5, 5, 4: the upper end is clipped to the scale
    assert (WindowCounts(csat=3, csat_sum=14, csat_squares=66).interval("csat") or (0, 0))[1] == 5
    assert WindowCounts(csat=1, csat_sum=4, csat_squares=16).interval("csat") == (1.0, 5.0)
    assert WindowCounts(ces=3, ces_sum=15, ces_squares=75).interval("ces") == (5.0, 5.0)


def test_only_survey_measures_with_responses_have_an_interval() -> None:
    assert COUNTS.interval("negative_share") is None
    assert WindowCounts().interval("nps") is None


@pytest.mark.parametrize("threshold", [-50, 0, 20, 100])
def test_an_nps_threshold_may_be_zero_or_negative(threshold: float) -> None:
    assert one(measure="nps", threshold=threshold).threshold == threshold


@pytest.mark.parametrize("threshold", [-100, 101, "20"])
def test_an_nps_threshold_lies_in_its_range(threshold: Any) -> None:
    with pytest.raises(ConfigError, match="an NPS above -100, at most 100"):
        one(measure="nps", threshold=threshold)


def test_rate_per_minute_uses_the_window_seconds() -> None:
    counts = WindowCounts(count=30)
    assert counts.measure("rate_per_minute", 60) == 30.0
    assert counts.measure("rate_per_minute", 900) == 2.0
    assert counts.measure("rate_per_minute", 30) == 60.0
    assert counts.measure("rate_per_minute") == 30.0  # default: per 60 s


def test_measures_of_an_empty_window() -> None:
    empty = WindowCounts()
    assert empty.measure("negative_share") == 0.0
    assert empty.measure("count") == 0
    assert empty.measure("mean_sentiment") == 0.5  # neutral
    assert empty.measure("first_contact_resolution") == 1.0  # nothing unresolved
    assert empty.measure("mean_wait_seconds") == 0.0
    assert empty.measure("rate_per_minute", 300) == 0.0
    assert [empty.measure(m) for m in ("nps", "csat", "ces")] == [0.0, 0.0, 0.0]


def test_call_measures_are_over_calls_not_events() -> None:
    # Complaints and posts count in `count`; only calls have a resolution and a wait.
    counts = WindowCounts(count=50, calls=4, first_contact=1, wait=200.0)
    assert counts.measure("first_contact_resolution") == 0.25
    assert counts.measure("mean_wait_seconds") == 50.0
    assert counts.trials("first_contact_resolution") == 4
    assert counts.trials("mean_wait_seconds") == 4
    assert counts.trials("negative_share") == 50
    assert counts.trials("count") == 50


def test_window_counts_plus() -> None:
    other = WindowCounts(
        count=1,
        negative=1,
        p1=0,
        sentiment=0.25,
        reach_negative=300.5,
        calls=2,
        first_contact=1,
        wait=30.0,
    )
    total = COUNTS.plus(other)
    assert total == WindowCounts(
        count=11,
        negative=5,
        p1=1,
        sentiment=3.75,
        reach_negative=1500.5,
        calls=10,
        first_contact=7,
        wait=990.0,
        nps=10,
        promoters=5,
        detractors=2,
        csat=4,
        csat_sum=14,
        csat_squares=54,
        ces=2,
        ces_sum=11,
        ces_squares=61,
    )
    assert WindowCounts().plus(COUNTS) == COUNTS
    assert isinstance(total.count, int)


def test_remembered_keys_are_the_keys_computed_afresh_for_every_combination() -> None:
    """keys_for remembers its answer per combination of the values the rule reads; an
    event that differs only in a dimension the rule does not read gets the same keys, one
    that differs in a read dimension gets its own."""
    import itertools

    rules = [
        one(),
        one(key=["channel"]),
        one(key=["platform"], where={"source": ["social"]}),
        one(key=["region"], where={"source": ["complaint", "call"], "channel": ["app"]}),
        one(key=["category"], where={"category": ["logistics"]}),
    ]
    events = [
        COMPLAINT,
        POST,
        {**COMPLAINT, "channel": "web"},
        {**COMPLAINT, "region": "上海"},
        {**COMPLAINT, "product": "另一个"},
        {"source": "call", "channel": "call"},
    ]
    categories = [["logistics"], ["service", "logistics"], ["other"], []]
    for _ in range(2):  # the second round is answered from memory
        for rule, dims, cats in itertools.product(rules, events, categories):
            assert rule.keys_for(dims, cats) == tuple(rule._keys(dims, cats)), (rule, dims)


def test_the_remembered_keys_are_bounded() -> None:
    from alerts.rules import KEYS_MEMO_SIZE

    rule = one(key=["region"])
    for i in range(KEYS_MEMO_SIZE + 5):
        assert rule.keys_for({**COMPLAINT, "region": f"r{i}"}, ["logistics"]) == (f"region=r{i}",)
    assert len(rule._keys_memo) <= KEYS_MEMO_SIZE
