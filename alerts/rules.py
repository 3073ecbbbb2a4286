"""Threshold rules (阈值规则): loading, validation and evaluation, all pure.

A rule keeps a sliding window per *dimension key* (e.g. channel=app, category=logistics)
and fires when a measure of that window crosses its threshold. The file format is
documented in ``alerts/rules.yaml`` and docs/alerts.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import yaml

from vocwatch.errors import ConfigError

DIMENSIONS = ("source", "channel", "platform", "category", "product", "region")
MEASURES = ("count", "negative_count", "negative_share", "p1_count")
PRIORITIES = ("P1", "P2", "P3")
_SPAN = re.compile(r"^(\d+)\s*(s|m|h)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class WindowCounts:
    """Totals of one dimension key over one window span."""

    count: int = 0
    negative: int = 0
    p1: int = 0

    def measure(self, name: str) -> float:
        if name == "count":
            return self.count
        if name == "negative_count":
            return self.negative
        if name == "p1_count":
            return self.p1
        return self.negative / self.count if self.count else 0.0


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    key: tuple[str, ...]                           # dimensions, in DIMENSIONS order
    where: Mapping[str, frozenset[str]]
    window_seconds: int
    measure: str
    threshold: float
    min_count: int
    resolve_ratio: float
    priority: str

    def keys_for(self, dims: Mapping[str, str], categories: Sequence[str]) -> Iterator[str]:
        """Window keys this event counts in: one per category when ``category`` is keyed,
        and only for the categories a ``where`` filter on category allows."""
        if any(not dims.get(d) for d in self.key if d != "category"):
            return
        seen = set()
        for category in categories:
            values = {**dims, "category": category}
            if any(values.get(d) not in allowed for d, allowed in self.where.items()):
                continue
            key = window_key({d: values[d] for d in self.key})
            if key not in seen:
                seen.add(key)
                yield key

    def breached(self, counts: WindowCounts) -> bool:
        return counts.count >= self.min_count and counts.measure(self.measure) >= self.threshold

    def holds(self, counts: WindowCounts) -> bool:
        """Still firing (hysteresis): above ``threshold × resolve_ratio``."""
        return (counts.count > 0
                and counts.measure(self.measure) >= self.threshold * self.resolve_ratio)


def window_key(dims: Mapping[str, str]) -> str:
    """Canonical text of a dimension key: ``channel=app,category=logistics``."""
    return ",".join(f"{d}={quote(dims[d], safe='')}" for d in DIMENSIONS if d in dims)


def parse_window_key(text: str) -> dict[str, str]:
    return {k: unquote(v) for k, v in (part.split("=", 1) for part in text.split(",") if part)}


def parse_span(text: Any) -> int:
    match = _SPAN.match(str(text).strip())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a span like 30s, 5m or 1h")
    return int(match.group(1)) * _UNITS[match.group(2)]


def load_rules(path: Path) -> tuple[Rule, ...]:
    """Read and validate a rules file; errors name the rule and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read rules file: {exc.strerror}", source=str(path)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=str(path)) from exc
    return parse_rules(data, source=str(path))


def parse_rules(data: Any, *, source: str = "rules") -> tuple[Rule, ...]:
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
        raise ConfigError("expected a mapping with a non-empty list 'rules'", source=source)
    rules = tuple(_parse_rule(item, index, source) for index, item in enumerate(data["rules"]))
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"rule names must be unique: {', '.join(duplicates)}", source=source)
    return rules


_FIELDS = {"name", "description", "key", "where", "window", "measure", "threshold",
           "min_count", "resolve_ratio", "priority"}


def _parse_rule(item: Any, index: int, source: str) -> Rule:
    where = f"{source}: rules[{index}]"
    if not isinstance(item, dict):
        raise ConfigError("each rule must be a mapping", source=where)
    if isinstance(item.get("name"), str):
        where = f"{source}: rule {item['name']!r}"
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise ConfigError(f"unknown field(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(_FIELDS))}", source=where)

    def need(name: str, check: Any, message: str, default: Any = None) -> Any:
        value = item.get(name, default)
        try:
            ok = value is not None and check(value)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"{message} (got {value!r})", source=where, field=name)
        return value

    name = need("name", _NAME.match, "a name of lower-case letters, digits and _")
    key = need("key", lambda v: isinstance(v, list) and v and set(v) <= set(DIMENSIONS)
               and len(set(v)) == len(v), f"a list of distinct dimensions from {DIMENSIONS}")
    filters = need("where", _valid_where, "a mapping of dimension → list of values", {})
    window = need("window", parse_span, "a span like 30s, 5m or 1h")
    measure = need("measure", MEASURES.__contains__, f"one of {', '.join(MEASURES)}")
    threshold = need("threshold", lambda v: _number(v) and v > 0, "a number above 0")
    if measure == "negative_share":
        need("threshold", lambda v: v <= 1, "a share between 0 and 1 for negative_share")
    min_count = need("min_count", lambda v: _number(v) and isinstance(v, int) and v >= 1,
                     "an integer of at least 1", 1)
    ratio = need("resolve_ratio", lambda v: _number(v) and 0 < v <= 1,
                 "a number in (0, 1]", 0.8)
    priority = need("priority", PRIORITIES.__contains__, "P1, P2 or P3")
    description = need("description", lambda v: isinstance(v, str), "a text", "")
    return Rule(
        name=name,
        description=description,
        key=tuple(d for d in DIMENSIONS if d in key),
        where={d: frozenset(str(v) for v in values) for d, values in filters.items()},
        window_seconds=parse_span(window),
        measure=measure,
        threshold=float(threshold),
        min_count=min_count,
        resolve_ratio=float(ratio),
        priority=priority,
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _valid_where(value: Any) -> bool:
    return isinstance(value, dict) and all(
        d in DIMENSIONS and isinstance(v, list) and v for d, v in value.items())
