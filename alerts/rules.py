"""Alert rules (告警规则): loading, validation and the window measures, all pure.

A rule keeps a sliding window per *dimension key* (e.g. channel=app, category=logistics)
and is breached when a measure of that window crosses a static threshold, or rises far
above the key's learned baseline (a *spike*, see :mod:`alerts.baseline`). The file format
is documented in ``alerts/rules.yaml`` and docs/alerts.md; errors name the line and field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import yaml

from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Measure, MeasureName, Priority

DIMENSIONS = ("source", "channel", "platform", "category", "product", "region")
KEYS_MEMO_SIZE = 10_000  # remembered dimension combinations per rule
MEASURES: tuple[Measure, ...] = tuple(Measure)
# Measures where lower is worse: a threshold or spike on them means "fell below".
FALLING = frozenset(
    {
        Measure.MEAN_SENTIMENT,
        Measure.FIRST_CONTACT_RESOLUTION,
        Measure.NPS,
        Measure.CSAT,
        Measure.CES,
    }
)
# Measures over the survey responses of a window (满意度调查): each reported with its number
# of responses and a 95 % interval.
SURVEYS = frozenset({Measure.NPS, Measure.CSAT, Measure.CES})
# What is added to a measure that can be negative to compare it by ratios (severity):
# NPS runs from -100 to 100.
OFFSETS = {Measure.NPS: 100.0}
Z95 = 1.96
SHARES = frozenset(
    {Measure.NEGATIVE_SHARE, Measure.MEAN_SENTIMENT, Measure.FIRST_CONTACT_RESOLUTION}
)
# Counts of events, for which a Poisson guard makes sense at low volume.
COUNTS = frozenset(
    {Measure.COUNT, Measure.RATE_PER_MINUTE, Measure.NEGATIVE_COUNT, Measure.P1_COUNT}
)
# Measures taken over the calls of a window, not over all its events.
_PER_CALL = frozenset({Measure.FIRST_CONTACT_RESOLUTION, Measure.MEAN_WAIT_SECONDS})
# The range of the mean score of CSAT and CES.
_SCALES = {Measure.CSAT: (1.0, 5.0), Measure.CES: (1.0, 7.0)}
_SPAN = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Lines = Callable[[Sequence[str | int]], int | None]
NPS_RANGE = "an NPS above -100, at most 100"


@dataclass(frozen=True)
class WindowCounts:
    """Totals of one dimension key over one window span."""

    count: int = 0
    negative: int = 0
    p1: int = 0
    sentiment: float = 0.0  # sum of sentiment scores
    reach_negative: float = 0.0  # sum of the reach of negative social posts
    calls: int = 0
    first_contact: int = 0  # calls resolved on first contact
    wait: float = 0.0  # sum of call wait seconds
    nps: int = 0  # NPS responses …
    promoters: int = 0  # … scoring 9–10 …
    detractors: int = 0  # … and 0–6
    csat: int = 0  # CSAT responses, their scores and squared scores
    csat_sum: int = 0
    csat_squares: int = 0
    ces: int = 0  # the same for CES
    ces_sum: int = 0
    ces_squares: int = 0

    def measure(self, name: Measure | MeasureName, seconds: float = 60.0) -> float:
        if name == Measure.COUNT:
            return self.count
        if name == Measure.RATE_PER_MINUTE:
            return self.count * 60.0 / seconds
        if name == Measure.NEGATIVE_COUNT:
            return self.negative
        if name == Measure.P1_COUNT:
            return self.p1
        if name == Measure.NEGATIVE_SHARE:
            return self.negative / self.count if self.count else 0.0
        if name == Measure.MEAN_SENTIMENT:
            return self.sentiment / self.count if self.count else 0.5
        if name == Measure.REACH_NEGATIVE:
            return self.reach_negative
        if name == Measure.FIRST_CONTACT_RESOLUTION:
            return self.first_contact / self.calls if self.calls else 1.0
        if name in SURVEYS:
            return self._survey(name)
        return self.wait / self.calls if self.calls else 0.0  # mean_wait_seconds

    def trials(self, name: Measure | MeasureName) -> int:
        """How many events a measure is taken over (the guard's sample size): calls for the
        call measures, responses for the survey measures, else every event."""
        if name in _PER_CALL:
            return self.calls
        if name == Measure.NPS:
            return self.nps
        if name in _SCALES:
            return self._scores(name)[0]
        return self.count

    def interval(self, name: Measure | MeasureName) -> tuple[float, float] | None:
        """The 95 % confidence interval of a survey measure (None for the others, and
        without responses). NPS: the normal approximation of a difference of two shares
        of one sample; CSAT and CES: mean ± 1.96 standard errors (the whole scale for a
        single response). Clipped to the measure's range."""
        n = self.trials(name)
        if name not in SURVEYS or not n:
            return None
        value = self.measure(name)
        if name == Measure.NPS:
            up, down = self.promoters / n, self.detractors / n
            half = Z95 * 100.0 * math.sqrt(max(up + down - (up - down) ** 2, 0.0) / n)
            low, high = -100.0, 100.0
        else:
            _, total, squares = self._scores(name)
            low, high = _SCALES[Measure(name)]
            if n < 2:
                return low, high
            variance = max(squares - total * total / n, 0.0) / (n - 1)
            half = Z95 * math.sqrt(variance / n)
        return round(max(low, value - half), 4), round(min(high, value + half), 4)

    def _survey(self, name: Measure | MeasureName) -> float:
        """NPS, or the mean CSAT or CES score; 0 without responses (no rule is breached or
        holds without them, and no baseline learns from them)."""
        if name == Measure.NPS:
            return (self.promoters - self.detractors) * 100.0 / self.nps if self.nps else 0.0
        responses, total, _ = self._scores(name)
        return total / responses if responses else 0.0

    def _scores(self, name: Measure | MeasureName) -> tuple[int, int, int]:
        if name == Measure.CSAT:
            return self.csat, self.csat_sum, self.csat_squares
        return self.ces, self.ces_sum, self.ces_squares

    def plus(self, other: WindowCounts) -> WindowCounts:
        return WindowCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class Spike:
    """A spike condition: the measure is far from the key's baseline (see alerts.baseline)."""

    z: float = 3.0  # deviations above (below, for falling measures) expected
    min_change: float = 0.0  # and at least this far from expected, in measure units
    p_value: float = 0.001  # Poisson / binomial guard at low volume
    alpha: float = 0.1  # EWMA weight of each new baseline sample
    warmup: int = 30  # baseline samples before the rule may fire
    seasonal: bool = True  # hour-of-week component


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    key: tuple[str, ...]  # dimensions, in DIMENSIONS order
    where: Mapping[str, frozenset[str]]
    window_seconds: int
    measure: Measure
    threshold: float | None  # None: a spike rule
    min_count: int
    resolve_ratio: float
    priority: Priority
    spike: Spike | None = None
    for_seconds: int = 0  # pending this long before firing
    repeat_seconds: int = 3600  # reminder interval; 0 = none
    correlate: tuple[str, ...] = ()  # incident key dims; () = the whole key
    falling: bool = field(init=False)
    _reads: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _keys_memo: dict[tuple[tuple[str | None, ...], tuple[str, ...]], tuple[str, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        # A rule built in code may name its measure and priority as plain strings.
        object.__setattr__(self, "measure", Measure(self.measure))
        object.__setattr__(self, "priority", Priority(self.priority))
        object.__setattr__(self, "falling", self.measure in FALLING)
        # the dimensions that decide the keys, besides the categories
        object.__setattr__(
            self, "_reads", tuple(sorted((set(self.key) | set(self.where)) - {"category"}))
        )

    @property
    def incident_dims(self) -> tuple[str, ...]:
        return self.correlate or self.key

    @property
    def reads(self) -> tuple[str, ...]:
        """The dimensions that decide the rule's keys of an event, besides its categories."""
        return self._reads

    @cached_property
    def where_tag(self) -> str:
        """The ``where`` filter as text: part of the rule's window keys, so that rules with
        the same key dimensions but different filters never share a window. A filter on a
        key dimension only picks which keys exist, not what they count: it is left out."""
        return ";".join(
            f"{d}:{','.join(quote(v, safe='') for v in sorted(values))}"
            for d, values in sorted(self.where.items())
            if d not in self.key
        )

    def keys_for(self, dims: Mapping[str, str], categories: Sequence[str]) -> tuple[str, ...]:
        """Window keys this event counts in: one per category when ``category`` is keyed,
        and only for the categories a ``where`` filter on category allows. Remembered per
        combination of the dimension values the rule reads (a worker sees few of them, and
        this runs for every event and rule)."""
        memo_key = (tuple(dims.get(d) for d in self._reads), tuple(categories))
        keys = self._keys_memo.get(memo_key)
        if keys is None:
            if len(self._keys_memo) >= KEYS_MEMO_SIZE:
                self._keys_memo.clear()
            keys = self._keys_memo[memo_key] = tuple(self._keys(dims, categories))
        return keys

    def _keys(self, dims: Mapping[str, str], categories: Sequence[str]) -> Iterator[str]:
        if any(not dims.get(d) for d in self.key if d != "category"):
            return
        seen = set()
        tag = self.where_tag
        for category in categories:
            values = {**dims, "category": category}
            if any(values.get(d) not in allowed for d, allowed in self.where.items()):
                continue
            key = window_key({d: values[d] for d in self.key}, tag)
            if key not in seen:
                seen.add(key)
                yield key

    def incident_key(self, key: str) -> str:
        """The incident a window key belongs to: its key projected on ``correlate``."""
        if not self.correlate:
            return key
        dims = parse_window_key(key)
        return window_key({d: dims[d] for d in self.correlate})

    def fixed_dims(self) -> dict[str, str]:
        """Dimensions every event of this rule shares: single-valued ``where`` filters."""
        return {d: next(iter(v)) for d, v in self.where.items() if len(v) == 1}


@dataclass(frozen=True)
class AlertConfig:
    """The whole alert configuration file: rules, and the routing, sink, customer and KPI
    sections, which :mod:`alerts.routing`, :mod:`alerts.sinkconfig`,
    :mod:`alerts.customer_alerts` and :mod:`alerts.kpis` validate."""

    rules: tuple[Rule, ...]
    teams: Mapping[str, Any] = field(default_factory=dict)
    routes: Sequence[Any] = ()
    sinks: Mapping[str, Any] = field(default_factory=dict)
    source: str = "rules"
    lines: Lines | None = None
    # The customers: and kpis: sections, as in the file (None: not there), which
    # alerts.customer_alerts and alerts.kpis validate.
    customers: Any = None
    kpis: Any = None


def window_key(dims: Mapping[str, str], where_tag: str = "") -> str:
    """Canonical text of a dimension key: ``channel=app,category=logistics``, followed by
    ``|`` and the rule's filter when it has one (``category=logistics|source:call``)."""
    text = ",".join(f"{d}={quote(dims[d], safe='')}" for d in DIMENSIONS if d in dims)
    return f"{text}|{where_tag}" if where_tag else text


def parse_window_key(text: str) -> dict[str, str]:
    """The dimensions of a window key (its filter, if any, left out)."""
    dims = text.split("|", 1)[0]
    return {k: unquote(v) for k, v in (part.split("=", 1) for part in dims.split(",") if part)}


def parse_span(text: Any) -> int:
    match = _SPAN.match(str(text).strip())
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a span like 30s, 5m, 1h or 1d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def load_config(path: Path) -> AlertConfig:
    """Read and validate an alert configuration file; errors name the line and field."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"cannot read rules file: {exc.strerror}", source=str(path)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=str(path)) from exc
    return parse_config(data, source=str(path), lines=yaml_lines(text))


def load_rules(path: Path) -> tuple[Rule, ...]:
    return load_config(path).rules


def parse_rules(
    data: Any, *, source: str = "rules", lines: Lines | None = None
) -> tuple[Rule, ...]:
    return parse_config(data, source=source, lines=lines).rules


def parse_config(data: Any, *, source: str = "rules", lines: Lines | None = None) -> AlertConfig:
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
        raise ConfigError("expected a mapping with a non-empty list 'rules'", source=source)
    rules = tuple(
        _parse_rule(item, index, source, lines) for index, item in enumerate(data["rules"])
    )
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"rule names must be unique: {', '.join(duplicates)}", source=source)
    for section, kind in (("teams", dict), ("routes", list), ("sinks", dict)):
        if not isinstance(data.get(section, kind()), kind):
            raise ConfigError(
                f"'{section}' must be a {'mapping' if kind is dict else 'list'}",
                source=location(source, lines, [section]),
            )
    return AlertConfig(
        rules=rules,
        teams=data.get("teams", {}),
        routes=data.get("routes", []),
        sinks=data.get("sinks", {}),
        source=source,
        lines=lines,
        customers=data.get("customers"),
        kpis=data.get("kpis"),
    )


def yaml_lines(text: str) -> Lines:
    """Line number (1-based) of the node at a path like ``["rules", 2, "window"]``."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None

    def line(path: Sequence[str | int]) -> int | None:
        node, found = root, None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                match = [(k, v) for k, v in node.value if k.value == part]
                if not match:
                    break
                found, node = match[0][0].start_mark.line + 1, match[0][1]
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and part < len(node.value)
            ):
                node = node.value[part]
                found = node.start_mark.line + 1
            else:
                break
        return found

    return line


def location(source: str, lines: Lines | None, path: Sequence[str | int]) -> str:
    line = lines(path) if lines else None
    return f"{source}:{line}" if line else source


_FIELDS = {
    "name",
    "description",
    "key",
    "where",
    "window",
    "measure",
    "threshold",
    "spike",
    "min_count",
    "resolve_ratio",
    "priority",
    "for",
    "repeat",
    "correlate",
}
_SPIKE_FIELDS = {f.name for f in fields(Spike)}


class _RuleReader:
    """Reads one rule's fields; every error names the file, line, rule and field."""

    def __init__(self, item: dict[str, Any], index: int, source: str, lines: Lines | None) -> None:
        self.item, self.index, self.source, self.lines = item, index, source, lines
        self.label = (
            f"rule {item['name']!r}" if isinstance(item.get("name"), str) else f"rules[{index}]"
        )

    def error(self, message: str, name: str = "") -> ConfigError:
        path: list[str | int] = ["rules", self.index, *([name] if name else [])]
        where = location(self.source, self.lines, path)
        return ConfigError(message, source=f"{where}: {self.label}", field=name)

    def need(
        self, name: str, check: Callable[[Any], Any], message: str, default: Any = None
    ) -> Any:
        value = self.item.get(name, default)
        try:
            ok = value is not None and check(value)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise self.error(f"{message} (got {value!r})", name)
        return value


def _parse_rule(item: Any, index: int, source: str, lines: Lines | None) -> Rule:
    if not isinstance(item, dict):
        raise ConfigError(
            "each rule must be a mapping",
            source=location(source, lines, ["rules", index]) + f": rules[{index}]",
        )
    r = _RuleReader(item, index, source, lines)
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise r.error(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(_FIELDS))}")
    name = r.need("name", _NAME.match, "a name of lower-case letters, digits and _")
    key = r.need(
        "key",
        lambda v: isinstance(v, list) and v and set(v) <= set(DIMENSIONS) and len(set(v)) == len(v),
        f"a list of distinct dimensions from {DIMENSIONS}",
    )
    filters = r.need("where", _valid_where, "a mapping of dimension → list of values", {})
    window = r.need("window", parse_span, "a span like 30s, 5m, 1h or 1d")
    measure = r.need("measure", MEASURES.__contains__, f"one of {', '.join(MEASURES)}")
    threshold, spike = _condition(r, measure)
    min_count = r.need(
        "min_count",
        lambda v: _number(v) and isinstance(v, int) and v >= 1,
        "an integer of at least 1",
        1,
    )
    ratio = r.need("resolve_ratio", lambda v: _number(v) and 0 < v <= 1, "a number in (0, 1]", 0.8)
    priority = r.need("priority", tuple(Priority).__contains__, f"one of {', '.join(Priority)}")
    description = r.need("description", lambda v: isinstance(v, str), "a text", "")
    pending = r.need("for", _span_or_zero, "a span like 1m, or 0", 0)
    repeat = r.need("repeat", _span_or_zero, "a span like 1h, or 0", "1h")
    correlate = r.need(
        "correlate",
        lambda v: v == [] or (isinstance(v, list) and set(v) < set(key)),
        "a list of some (not all) of the rule's key dimensions",
        [],
    )
    return Rule(
        name=name,
        description=description,
        key=tuple(d for d in DIMENSIONS if d in key),
        where={d: frozenset(str(v) for v in values) for d, values in filters.items()},
        window_seconds=parse_span(window),
        measure=Measure(measure),
        threshold=None if threshold is None else float(threshold),
        spike=spike,
        min_count=min_count,
        resolve_ratio=float(ratio),
        priority=Priority(priority),
        for_seconds=0 if pending == 0 else parse_span(pending),
        repeat_seconds=0 if repeat == 0 else parse_span(repeat),
        correlate=tuple(d for d in DIMENSIONS if d in correlate),
    )


def _condition(r: _RuleReader, measure: str) -> tuple[float | None, Spike | None]:
    """Exactly one of ``threshold`` (static) and ``spike`` (against the baseline)."""
    if ("threshold" in r.item) == ("spike" in r.item):
        raise r.error(
            "give exactly one of threshold (a static limit) and spike (against "
            "the key's learned baseline)",
            "threshold",
        )
    if "threshold" in r.item:
        if measure == Measure.NPS:
            return r.need("threshold", lambda v: _number(v) and -100 < v <= 100, NPS_RANGE), None
        threshold = r.need("threshold", lambda v: _number(v) and v > 0, "a number above 0")
        if measure in SHARES:
            r.need("threshold", lambda v: v <= 1, f"a share between 0 and 1 for {measure}")
        return threshold, None
    raw = r.need(
        "spike",
        lambda v: isinstance(v, dict) and set(v) <= _SPIKE_FIELDS,
        f"a mapping with fields from {', '.join(sorted(_SPIKE_FIELDS))}",
    )
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "z": (lambda v: _number(v) and v > 0, "a number above 0"),
        "min_change": (lambda v: _number(v) and v >= 0, "a number ≥ 0"),
        "p_value": (lambda v: _number(v) and 0 < v < 1, "a probability in (0, 1)"),
        "alpha": (lambda v: _number(v) and 0 < v <= 1, "a weight in (0, 1]"),
        "warmup": (
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
            "an integer ≥ 0",
        ),
        "seasonal": (lambda v: isinstance(v, bool), "true or false"),
    }
    for name, value in raw.items():
        check, message = checks[name]
        if not check(value):
            raise r.error(f"spike.{name}: {message} (got {value!r})", "spike")
    return None, Spike(**raw)


def _span_or_zero(value: Any) -> bool:
    return not isinstance(value, bool) and (value == 0 or parse_span(value) > 0)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _valid_where(value: Any) -> bool:
    return isinstance(value, dict) and all(
        d in DIMENSIONS and isinstance(v, list) and v for d, v in value.items()
    )
