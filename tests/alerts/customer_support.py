"""Contacts and the packaged customer policy, for the tests of customer risk and alerts."""

from __future__ import annotations

from typing import Any

from alerts.config import load_alerting
from alerts.contacts import Contact
from alerts.customer_alerts import CustomerPolicy
from vocwatch.settings import DEFAULT_RULES_FILE
from vocwatch.vocabulary import Polarity, Priority, Source, SurveyKind

NOW = 1_800_000_000.0
HOUR = 3600.0
DAY = 86400.0
_POLICY = load_alerting(DEFAULT_RULES_FILE).customers
assert _POLICY is not None
POLICY: CustomerPolicy = _POLICY


def complaint(n: int, age: float, text: str = "快递一直没到", **changes: Any) -> Contact:
    values: dict[str, Any] = {
        "id": f"complaint:c{n}",
        "time": NOW - age,
        "source": Source.COMPLAINT,
        "channel": "app",
        "category": "logistics",
        "sentiment": 0.1,
        "polarity": Polarity.NEGATIVE,
        "priority": Priority.P2,
        "text": text,
    }
    return Contact(**(values | changes))


def call(n: int, age: float, *, resolved: bool, **changes: Any) -> Contact:
    values: dict[str, Any] = {
        "id": f"call:k{n}",
        "source": Source.CALL,
        "channel": "call",
        "text": "客户来电反映问题",
        "resolved": resolved,
        "wait_seconds": 30.0,
        "transfers": 0,
    }
    return complaint(n, age, **(values | changes))


def survey(n: int, age: float, kind: str, score: int, comment: str = "", **changes: Any) -> Contact:
    values: dict[str, Any] = {
        "id": f"survey:s{n}",
        "source": Source.SURVEY,
        "channel": "",
        "category": "other",
        "sentiment": 0.1 if comment else 0.5,
        "polarity": Polarity.NEGATIVE if comment else Polarity.NEUTRAL,
        "priority": Priority.P3,
        "text": comment,
        "survey": SurveyKind(kind),
        "score": score,
    }
    return complaint(n, age, **(values | changes))
