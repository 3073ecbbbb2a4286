"""Routing (路由): which team an alert goes to, and through which sinks. Pure.

The ``teams:`` and ``routes:`` sections of the alert configuration file::

    teams:
      客服主管: {sinks: [wecom_support, alertmanager]}
      技术支持: {sinks: [dingtalk_tech]}
    routes:                         # the first route that matches wins
      - match: {category: [technical]}
        team: 技术支持
      - team: 客服主管              # no match: the default

A route matches when every field of its ``match`` allows the alert: ``rule`` and
``priority`` by the alert's rule and priority, a dimension (``category``, ``channel`` …)
by the alert's key, the rule's fixed ``where`` values, or — for ``channel``, ``platform``
and ``source`` — any of the channels the alert lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alerts.lifecycle import Route
from alerts.rules import DIMENSIONS, AlertConfig, Lines, Rule, location
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Priority

MATCH_FIELDS = ("rule", "priority", *DIMENSIONS)
_CHANNEL_DIMS = frozenset({"channel", "platform", "source"})


@dataclass(frozen=True)
class RouteRule:
    match: Mapping[str, frozenset[str]]
    team: str


@dataclass(frozen=True)
class Router:
    routes: tuple[RouteRule, ...]
    teams: Mapping[str, tuple[str, ...]]  # team → sink names

    def route(
        self, rule: Rule, key: Mapping[str, str], channels: Iterable[str] = ()
    ) -> Route | None:
        return self.route_for(rule.name, rule.priority, key, channels, rule.fixed_dims())

    def route_for(
        self,
        rule: str,
        priority: str,
        key: Mapping[str, str],
        channels: Iterable[str] = (),
        fixed: Mapping[str, str] | None = None,
    ) -> Route | None:
        """The route of any alert: by its rule name (a customer alert's is its kind),
        priority, key, the fixed values of its rule's filter and its channels."""
        facts = {**(fixed or {}), **key, "rule": rule, "priority": priority}
        seen = set(channels)
        for route in self.routes:
            if all(_allows(field, allowed, facts, seen) for field, allowed in route.match.items()):
                return Route(route.team, self.teams[route.team])
        return None

    @property
    def sink_names(self) -> set[str]:
        return {sink for sinks in self.teams.values() for sink in sinks}


def _allows(
    field: str, allowed: frozenset[str], facts: Mapping[str, str], channels: set[str]
) -> bool:
    if field in facts:
        return facts[field] in allowed
    return field in _CHANNEL_DIMS and bool(channels & allowed)


def parse_routing(config: AlertConfig, sink_names: Iterable[str]) -> Router:
    """Validate ``teams`` and ``routes`` against the sinks the file defines."""
    source, lines = config.source, config.lines
    known_sinks = set(sink_names)
    teams = {}
    for team, spec in config.teams.items():
        where = f"{location(source, lines, ['teams', team])}: team {team!r}"
        sinks = spec.get("sinks") if isinstance(spec, dict) else None
        if not isinstance(sinks, list) or not all(isinstance(s, str) for s in sinks):
            raise ConfigError(
                f"expected {{sinks: [names]}} (got {spec!r})", source=where, field="sinks"
            )
        unknown = sorted(set(sinks) - known_sinks)
        if unknown:
            raise ConfigError(
                f"unknown sink(s) {', '.join(unknown)}; defined: "
                f"{', '.join(sorted(known_sinks)) or 'none'}",
                source=where,
                field="sinks",
            )
        teams[str(team)] = tuple(sinks)
    routes = tuple(
        _parse_route(item, i, teams, source, lines) for i, item in enumerate(config.routes)
    )
    return Router(routes, teams)


def _parse_route(
    item: Any, index: int, teams: Mapping[str, Any], source: str, lines: Lines | None
) -> RouteRule:
    where = f"{location(source, lines, ['routes', index])}: routes[{index}]"
    if not isinstance(item, dict) or set(item) - {"match", "team"}:
        raise ConfigError("expected a mapping with 'team' and an optional 'match'", source=where)
    if item.get("team") not in teams:
        raise ConfigError(
            f"team must be one of {', '.join(teams) or '(no teams defined)'} "
            f"(got {item.get('team')!r})",
            source=where,
            field="team",
        )
    match = item.get("match", {})
    if (
        not isinstance(match, dict)
        or set(match) - set(MATCH_FIELDS)
        or not all(isinstance(v, list) and v for v in match.values())
    ):
        raise ConfigError(
            f"a mapping of fields from {', '.join(MATCH_FIELDS)} to lists "
            f"of values (got {match!r})",
            source=where,
            field="match",
        )
    if "priority" in match and not set(match["priority"]) <= set(Priority):
        raise ConfigError(f"priorities are {', '.join(Priority)}", source=where, field="match")
    return RouteRule(
        {f: frozenset(str(v) for v in values) for f, values in match.items()}, item["team"]
    )


def describe(router: Router) -> Sequence[str]:
    """One line per route, for ``vocwatch rules check``."""
    return [
        f"{', '.join(f'{k} in {sorted(v)}' for k, v in r.match.items()) or 'otherwise'}"
        f" → {r.team} ({', '.join(router.teams[r.team]) or 'no sinks'})"
        for r in router.routes
    ]
