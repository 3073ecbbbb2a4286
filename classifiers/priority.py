"""Priority (优先级): P1 / P2 / P3, always with the reasons that produced it.

Points come from the base severity of the top category, the strength of negative
sentiment, the reach of a social post and the signals of a call; escalation language
(12315, 媒体, 起诉 …) or a safety issue (食物中毒, 起火 …) makes an event P1 on its own.
The policy is data (``data/priority.yaml``), not code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from vocwatch import vocabulary
from vocwatch.errors import ConfigError

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "data" / "priority.yaml"


@dataclass(frozen=True)
class Signals:
    """What is known about an event beyond its text."""

    reach: int = 0  # social posts: followers + 10×reposts + 2×comments + likes
    wait_seconds: float | None = None  # call records
    transfers: int | None = None
    resolved_first_contact: bool | None = None
    satisfaction: int | None = None


@dataclass(frozen=True)
class Priority:
    """An event's priority level (P1 / P2 / P3) and how it was reached."""

    level: vocabulary.Priority
    points: int
    reasons: tuple[str, ...]  # e.g. ("escalation:12315", "category:technical=high")


@dataclass(frozen=True)
class PriorityPolicy:
    base_severity: Mapping[str, str]
    severity_points: Mapping[str, int]
    strongly_negative_below: float
    negative_below: float
    escalation_terms: frozenset[str]
    safety_terms: frozenset[str]
    reach_high: int
    reach_medium: int
    long_wait_seconds: float
    many_transfers: int
    low_satisfaction: int
    p1_points: int
    p2_points: int

    @classmethod
    def load(cls, path: Path = DEFAULT_POLICY_FILE) -> PriorityPolicy:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls(
                base_severity=dict(data["base_severity"]),
                severity_points={k: int(v) for k, v in data["severity_points"].items()},
                strongly_negative_below=float(data["sentiment"]["strongly_negative_below"]),
                negative_below=float(data["sentiment"]["negative_below"]),
                escalation_terms=frozenset(str(t) for t in data["escalation_terms"]),
                safety_terms=frozenset(str(t) for t in data["safety_terms"]),
                reach_high=int(data["social_reach"]["high"]),
                reach_medium=int(data["social_reach"]["medium"]),
                long_wait_seconds=float(data["call"]["long_wait_seconds"]),
                many_transfers=int(data["call"]["many_transfers"]),
                low_satisfaction=int(data["call"]["low_satisfaction"]),
                p1_points=int(data["levels"][vocabulary.Priority.P1]),
                p2_points=int(data["levels"][vocabulary.Priority.P2]),
            )
        except (OSError, KeyError, TypeError, ValueError, AttributeError, yaml.YAMLError) as exc:
            raise ConfigError(f"missing or invalid entry: {exc}", source=str(path)) from exc

    def assess(self, text: str, category: str, sentiment: float, signals: Signals) -> Priority:
        reasons: list[str] = []
        escalation = _found(self.escalation_terms, self._any_escalation, text)
        safety = _found(self.safety_terms, self._any_safety, text)
        reasons += [f"escalation:{t}" for t in escalation]
        reasons += [f"safety:{t}" for t in safety]

        severity = self.base_severity.get(category, "low")
        points = self.severity_points.get(severity, 0)
        reasons.append(f"category:{category}={severity}")
        negative = sentiment < self.negative_below
        if sentiment < self.strongly_negative_below:
            points += 2
            reasons.append(f"sentiment:strongly_negative={sentiment:.2f}")
        elif negative:
            points += 1
            reasons.append(f"sentiment:negative={sentiment:.2f}")
        points += self._reach_points(signals, negative, reasons)
        points += self._call_points(signals, reasons)

        if escalation or safety or points >= self.p1_points:
            level = vocabulary.Priority.P1
        elif points >= self.p2_points:
            level = vocabulary.Priority.P2
        else:
            level = vocabulary.Priority.P3
        return Priority(level, points, tuple(reasons))

    @functools.cached_property
    def _any_escalation(self) -> re.Pattern[str]:
        return _any_of(self.escalation_terms)

    @functools.cached_property
    def _any_safety(self) -> re.Pattern[str]:
        return _any_of(self.safety_terms)

    def _reach_points(self, signals: Signals, negative: bool, reasons: list[str]) -> int:
        if not negative or signals.reach < self.reach_medium:
            return 0
        reasons.append(f"reach:{signals.reach}")
        return 2 if signals.reach >= self.reach_high else 1

    def _call_points(self, signals: Signals, reasons: list[str]) -> int:
        checks = (
            (signals.resolved_first_contact is False, "call:unresolved"),
            (
                signals.wait_seconds is not None and signals.wait_seconds >= self.long_wait_seconds,
                f"call:long_wait={signals.wait_seconds}s",
            ),
            (
                signals.transfers is not None and signals.transfers >= self.many_transfers,
                f"call:transfers={signals.transfers}",
            ),
            (
                signals.satisfaction is not None and signals.satisfaction <= self.low_satisfaction,
                f"call:low_rating={signals.satisfaction}",
            ),
        )
        hits = [reason for hit, reason in checks if hit]
        reasons.extend(hits)
        return len(hits)


def _found(terms: frozenset[str], any_term: re.Pattern[str], text: str) -> list[str]:
    """Terms present in ``text``; a numeric term (12315) must stand alone, not inside a
    longer number such as an order number or an amount. ``any_term`` first: most texts
    hold none, and one search tells."""
    if not any_term.search(text):
        return []
    return sorted(
        t for t in terms if (re.search(rf"(?<!\d){t}(?!\d)", text) if t.isdigit() else t in text)
    )


def _any_of(terms: frozenset[str]) -> re.Pattern[str]:
    """A pattern that matches wherever one of ``terms`` occurs (a superset of _found's)."""
    return re.compile(
        "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) or r"(?!)"
    )
