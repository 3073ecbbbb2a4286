"""alerts.routing: teams and routes are validated against the sinks; the first matching
route wins, matching the alert's key, its rule's fixed ``where`` values and its channels."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import alerts.rules
from alerts.lifecycle import Route
from alerts.routing import Router, RouteRule, describe, parse_routing
from alerts.rules import Rule, load_config, parse_config
from vocwatch.errors import ConfigError

PACKAGED = Path(alerts.rules.__file__).resolve().parent / "rules.yaml"
SINKS = ("wecom", "dingtalk", "feishu", "stream")
RULES = [
    {
        "name": "burst",
        "key": ["channel", "category"],
        "window": "5m",
        "measure": "negative_count",
        "threshold": 5,
        "priority": "P2",
    },
    {
        "name": "social",
        "key": ["platform"],
        "where": {"source": ["social"]},
        "window": "5m",
        "measure": "negative_share",
        "threshold": 0.5,
        "priority": "P2",
    },
    {
        "name": "severe",
        "key": ["channel", "category"],
        "window": "5m",
        "measure": "p1_count",
        "threshold": 1,
        "priority": "P1",
    },
    {
        "name": "spike",
        "key": ["source", "category"],
        "correlate": ["category"],
        "window": "15m",
        "measure": "negative_count",
        "spike": {},
        "priority": "P2",
    },
]
TEAMS = {
    "客服主管": {"sinks": ["wecom", "stream"]},
    "技术支持": {"sinks": ["dingtalk"]},
    "社交媒体团队": {"sinks": ["feishu", "stream"]},
    "值班": {"sinks": []},
}


def config(routes: list[Any], teams: Any = None, *, source: str = "rules") -> Any:
    return parse_config(
        {"rules": RULES, "teams": TEAMS if teams is None else teams, "routes": routes},
        source=source,
    )


def team(route: Route | None) -> str | None:
    """The team of a route; None when nothing routes the alert."""
    return None if route is None else route.team


def router(routes: list[Any]) -> tuple[Router, dict[str, Rule]]:
    cfg = config(routes)
    return parse_routing(cfg, SINKS), {r.name: r for r in cfg.rules}


# --- matching ------------------------------------------------------------------------


def test_first_matching_route_wins() -> None:
    r, rules = router(
        [
            {"match": {"priority": ["P1"]}, "team": "值班"},
            {"match": {"category": ["technical"]}, "team": "技术支持"},
            {"team": "客服主管"},
        ]
    )
    key = {"channel": "app", "category": "technical"}
    assert r.route(rules["severe"], key) == Route("值班", ())
    assert r.route(rules["burst"], key) == Route("技术支持", ("dingtalk",))
    assert r.route(rules["burst"], {"channel": "app", "category": "logistics"}) == Route(
        "客服主管", ("wecom", "stream")
    )


def test_no_route_matches() -> None:
    r, rules = router([{"match": {"rule": ["severe"]}, "team": "值班"}])
    assert r.route(rules["burst"], {"channel": "app", "category": "x"}) is None
    assert r.route(rules["severe"], {"channel": "app", "category": "x"}) == Route("值班", ())
    empty, _ = router([])
    assert empty.route(rules["burst"], {"channel": "app"}) is None


def test_every_field_of_a_match_must_allow_the_alert() -> None:
    r, rules = router(
        [
            {"match": {"channel": ["app", "web"], "category": ["billing"]}, "team": "值班"},
            {"team": "客服主管"},
        ]
    )
    burst = rules["burst"]
    assert team(r.route(burst, {"channel": "web", "category": "billing"})) == "值班"
    assert team(r.route(burst, {"channel": "web", "category": "logistics"})) == "客服主管"
    assert team(r.route(burst, {"channel": "phone", "category": "billing"})) == "客服主管"


def test_a_dimension_the_alert_lacks_does_not_match() -> None:
    r, rules = router([{"match": {"region": ["北京"]}, "team": "值班"}])
    assert r.route(rules["burst"], {"channel": "app", "category": "x"}) is None


def test_fixed_where_values_match() -> None:
    # The social rule's key is [platform], but all its events have source=social.
    r, rules = router(
        [{"match": {"source": ["social"]}, "team": "社交媒体团队"}, {"team": "客服主管"}]
    )
    assert team(r.route(rules["social"], {"platform": "weibo"})) == "社交媒体团队"
    assert team(r.route(rules["burst"], {"channel": "app", "category": "x"})) == "客服主管"


@pytest.mark.parametrize("field", ["channel", "platform", "source"])
def test_channels_of_the_alert_match(field: str) -> None:
    r, rules = router([{"match": {field: ["weibo"]}, "team": "社交媒体团队"}, {"team": "客服主管"}])
    spike = rules["spike"]  # an incident key {category}, over channels
    key = {"category": "logistics"}
    assert team(r.route(spike, key, ["app", "weibo"])) == "社交媒体团队"
    assert team(r.route(spike, key, ["app"])) == "客服主管"
    assert team(r.route(spike, key)) == "客服主管"


def test_channels_do_not_match_other_dimensions() -> None:
    r, rules = router([{"match": {"category": ["weibo"]}, "team": "值班"}])
    assert r.route(rules["spike"], {"source": "social"}, ["weibo"]) is None


def test_the_key_wins_over_channels() -> None:
    # An alert keyed on channel=app is about app, whatever its samples' channels say.
    r, rules = router([{"match": {"channel": ["weibo"]}, "team": "值班"}])
    assert r.route(rules["burst"], {"channel": "app", "category": "x"}, ["weibo"]) is None


def test_sink_names_and_describe() -> None:
    r, _ = router(
        [
            {"match": {"category": ["technical"], "priority": ["P1", "P2"]}, "team": "技术支持"},
            {"team": "值班"},
        ]
    )
    assert r.sink_names == {"wecom", "stream", "dingtalk", "feishu"}
    assert describe(r) == [
        "category in ['technical'], priority in ['P1', 'P2'] → 技术支持 (dingtalk)",
        "otherwise → 值班 (no sinks)",
    ]
    assert r.routes[0] == RouteRule(
        {"category": frozenset({"technical"}), "priority": frozenset({"P1", "P2"})}, "技术支持"
    )


# --- validation ----------------------------------------------------------------------


def test_unknown_team_in_a_route() -> None:
    with pytest.raises(ConfigError) as info:
        parse_routing(config([{"team": "客服主管"}, {"team": "运维"}], source="r.yaml"), SINKS)
    assert str(info.value).startswith("r.yaml: routes[1]: team: team must be one of ")
    assert "'运维'" in str(info.value)
    assert info.value.field == "team"


def test_unknown_sink_in_a_team() -> None:
    teams = {**TEAMS, "技术支持": {"sinks": ["dingtalk", "pagerduty"]}}
    with pytest.raises(ConfigError) as info:
        parse_routing(config([], teams, source="r.yaml"), SINKS)
    message = str(info.value)
    assert message.startswith("r.yaml: team '技术支持': sinks: unknown sink(s) pagerduty")
    assert "defined: dingtalk, feishu, stream, wecom" in message
    assert info.value.field == "sinks"


def test_no_sinks_defined() -> None:
    with pytest.raises(ConfigError, match="defined: none"):
        parse_routing(config([]), [])


@pytest.mark.parametrize(
    "spec", [["wecom"], {"sink": ["wecom"]}, {"sinks": "wecom"}, {"sinks": [1]}, None]
)
def test_team_spec_must_list_sinks(spec: Any) -> None:
    with pytest.raises(ConfigError, match=re.escape("expected {sinks: [names]}")) as info:
        parse_routing(config([], {"t": spec}), SINKS)
    assert info.value.field == "sinks"


@pytest.mark.parametrize(
    ("route", "field"),
    [
        ("客服主管", ""),
        ({"team": "客服主管", "when": {}}, ""),
        ({"match": {"city": ["x"]}, "team": "客服主管"}, "match"),
        ({"match": {"category": []}, "team": "客服主管"}, "match"),
        ({"match": {"category": "x"}, "team": "客服主管"}, "match"),
        ({"match": ["category"], "team": "客服主管"}, "match"),
        ({"match": {"priority": ["P4"]}, "team": "客服主管"}, "match"),
        ({"match": {"category": ["x"]}}, "team"),
    ],
)
def test_invalid_route(route: Any, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_routing(config([{"team": "值班"}, route], source="r.yaml"), SINKS)
    assert str(info.value).startswith("r.yaml: routes[1]: ")
    assert info.value.field == field


def test_errors_name_the_line_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        PACKAGED.read_text(encoding="utf-8").replace(
            "  - match: {source: [social]}\n    team: 社交媒体团队",
            "  - match: {source: [social]}\n    team: 社交团队",
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        parse_routing(
            load_config(path),
            [
                "wecom_support",
                "webhook",
                "alertmanager",
                "stream",
                "dingtalk_tech",
                "feishu_social",
                "wecom_retention",
            ],
        )
    line = next(
        i
        for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "match: {source: [social]}" in text
    )
    assert str(info.value).startswith(f"{path}:{line}: routes[2]: team: ")


# --- the shipped configuration ---------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> tuple[Router, dict[str, Rule]]:
    cfg = load_config(PACKAGED)
    return parse_routing(cfg, cfg.sinks), {r.name: r for r in cfg.rules}


def test_shipped_teams(shipped: tuple[Router, dict[str, Rule]]) -> None:
    r, _ = shipped
    assert r.teams == {
        "客服主管": ("wecom_support", "webhook", "alertmanager", "stream"),
        "技术支持": ("dingtalk_tech", "alertmanager", "stream"),
        "社交媒体团队": ("feishu_social", "alertmanager", "stream"),
        "客户挽留": ("wecom_retention", "stream"),
    }


@pytest.mark.parametrize(
    ("rule", "key", "channels", "team"),
    [
        ("negative_burst", {"channel": "app", "category": "technical"}, [], "技术支持"),
        ("severe_event", {"channel": "phone", "category": "technical"}, [], "技术支持"),
        ("category_spike", {"category": "technical"}, ["social", "app"], "技术支持"),
        ("social_negative_share", {"platform": "weibo"}, [], "社交媒体团队"),
        ("social_reach_spike", {"platform": "douyin"}, ["douyin"], "社交媒体团队"),
        ("negative_burst", {"channel": "social", "category": "price"}, [], "客服主管"),
        ("category_spike", {"category": "logistics"}, ["social"], "社交媒体团队"),
        ("category_spike", {"category": "logistics"}, ["app", "call"], "客服主管"),
        ("severe_event", {"channel": "app", "category": "logistics"}, [], "客服主管"),
        ("call_resolution_drop", {"category": "billing"}, [], "客服主管"),
        ("call_wait_long", {"source": "call"}, [], "客服主管"),
        ("nps_drop", {"source": "survey"}, [], "客服主管"),
    ],
)
def test_shipped_routes(
    shipped: tuple[Router, dict[str, Rule]],
    rule: str,
    key: dict[str, str],
    channels: list[str],
    team: str,
) -> None:
    r, rules = shipped
    route = r.route(rules[rule], key, channels)
    assert route is not None
    assert route.team == team
    assert route.sinks == r.teams[team]


@pytest.mark.parametrize("kind", ["customer_risk", "detractor"])
def test_customer_alerts_go_to_the_retention_team_whatever_their_channels(
    shipped: tuple[Router, dict[str, Rule]], kind: str
) -> None:
    r, _ = shipped
    route = r.route_for(kind, "P2", {"customer_id": "u1"}, ["social", "app"])
    assert route is not None and route.team == "客户挽留"
    assert r.route_for("negative_burst", "P2", {"category": "technical"}) == r.route(
        shipped[1]["negative_burst"], {"category": "technical"}
    )
