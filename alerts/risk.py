"""Customer risk (客户流失风险): a transparent score from 0 to 100 and the reasons behind
it, from one customer's recent contacts. Pure.

Each :class:`~vocwatch.vocabulary.RiskSignal` that a customer's contacts show adds its
points (weights and limits are configuration: the ``customers.risk`` section of the alert
configuration file); the score is their sum, capped at 100. A signal's points halve every
``half_life_days`` after the last contact behind it, so a risk that is not renewed decays
away. Signals shown before the customer's latest *resolution* — a call resolved on first
contact that was not rated low, or a satisfied survey response — count at
``resolved_discount`` of their points: one angry call that ended with the problem solved
is not a customer about to leave. Contacts up to the time a person handled the customer's
last ``customer_risk`` alert do not count at all.

Nothing is a bare number: every signal found is a :class:`Hit` with its points, the
time it decays from and what it is (which phrases, how many contacts), and
:attr:`Risk.reasons` says it in one line each.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from alerts.contacts import Contact
from alerts.sections import Section
from vocwatch.vocabulary import Polarity, Priority, RiskSignal, SurveyKind

DAY = 86400.0

# Each signal's parameters besides its points: name → (default, kind). The packaged
# configuration names them all; docs/customers.md explains them.
PARAMETERS: dict[RiskSignal, dict[str, tuple[Any, str]]] = {
    RiskSignal.REPEAT_CONTACTS: {
        "contacts": (3, "count"),
        "days": (7, "number"),
        "same_issue": (False, "flag"),
    },
    RiskSignal.UNRESOLVED_CALL: {"most": (2, "count")},
    RiskSignal.LONG_WAIT: {"seconds": (180, "number")},
    RiskSignal.TRANSFERS: {"at_least": (2, "count")},
    RiskSignal.NEGATIVE_CONTACTS: {"most": (3, "count")},
    RiskSignal.FALLING_SENTIMENT: {"drop": (0.3, "share")},
    RiskSignal.LOW_RATING: {"at_most": (2, "count")},
    RiskSignal.DETRACTOR: {"at_most": (6, "count0")},
    RiskSignal.ESCALATION: {},
    RiskSignal.CHURN_THREAT: {},
}
# What a satisfied survey response scores at least (a resolution): NPS passives and
# promoters, CSAT 4–5, CES 5–7.
SATISFIED_FROM = {SurveyKind.NPS: 7, SurveyKind.CSAT: 4, SurveyKind.CES: 5}


@dataclass(frozen=True)
class RiskPolicy:
    """The ``customers.risk`` section: weights, limits and decay."""

    points: Mapping[RiskSignal, float]  # a signal left out of the file counts nothing
    parameters: Mapping[RiskSignal, Mapping[str, Any]]
    threshold: float = 60.0  # a customer_risk alert fires at this score …
    resolve_below: float = 40.0  # … and resolves when the decayed score is below this
    half_life_days: float = 7.0
    resolved_discount: float = 0.5
    p1_from: float = 85.0  # the alert is P1 from this score, P2 below
    repeat_seconds: int = 86400  # reminder of an unacknowledged alert; 0: none

    def param(self, signal: RiskSignal, name: str) -> Any:
        return self.parameters.get(signal, {}).get(name, PARAMETERS[signal][name][0])

    @functools.cached_property
    def limits(self) -> tuple[Any, ...]:
        """The parameters every assessment reads, looked up once per policy (an assessment
        runs for every customer of every batch): the repeat window in days and contacts,
        the long wait, the transfers, the low rating and the NPS detractor score."""
        p = self.param
        return (
            p(RiskSignal.REPEAT_CONTACTS, "days"),
            p(RiskSignal.REPEAT_CONTACTS, "contacts"),
            p(RiskSignal.LONG_WAIT, "seconds"),
            p(RiskSignal.TRANSFERS, "at_least"),
            p(RiskSignal.LOW_RATING, "at_most"),
            p(RiskSignal.DETRACTOR, "at_most"),
        )

    def decay(self, age_seconds: float) -> float:
        return float(0.5 ** (max(age_seconds, 0.0) / (self.half_life_days * DAY)))


@dataclass(frozen=True)
class Hit:
    """One signal a customer's contacts show."""

    signal: RiskSignal
    points: float  # its points when fresh (after the resolved discount)
    since: float  # event time of the last contact behind it: it decays from here
    detail: str  # what it is: the phrases, how many contacts …

    def now(self, policy: RiskPolicy, now: float) -> float:
        """Its points at ``now``."""
        return self.points * policy.decay(now - self.since)

    def to_json(self, policy: RiskPolicy, now: float) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "points": round(self.now(policy, now), 1),
            "fresh_points": round(self.points, 1),
            "since": _iso(self.since),
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hit:
        since = datetime.fromisoformat(data["since"]).timestamp()
        return cls(RiskSignal(data["signal"]), data["fresh_points"], since, data["detail"])


class Risk(NamedTuple):
    """A customer's risk (a named tuple: one is assessed per customer of every batch)."""

    hits: tuple[Hit, ...]
    score: float  # 0–100, at the time it was assessed
    contacts: int = 0  # contacts counted (after the handled mark)
    negative: int = 0
    p1: int = 0
    counted: tuple[Contact, ...] = ()

    def reasons(self, policy: RiskPolicy, now: float) -> list[str]:
        return reasons(self.hits, policy, now)


def ranked(hits: Sequence[Hit], policy: RiskPolicy, now: float) -> list[Hit]:
    """The signals, most points (at ``now``) first."""
    return sorted(hits, key=lambda h: -h.now(policy, now))


def reasons(hits: Sequence[Hit], policy: RiskPolicy, now: float) -> list[str]:
    """One line per signal, most points first: ``churn_threat: 销户 (+40)``."""
    return [
        f"{h.signal}: {h.detail} (+{h.now(policy, now):.0f})" for h in ranked(hits, policy, now)
    ]


def score(hits: Sequence[Hit], policy: RiskPolicy, now: float) -> float:
    """The score of these signals at ``now``: their decayed points, summed, capped at 100."""
    return round(min(100.0, sum(h.now(policy, now) for h in hits)), 1)


def assess(
    contacts: Sequence[Contact], policy: RiskPolicy, now: float, *, handled: float | None = None
) -> Risk:
    """The risk of a customer with these contacts (any order) at ``now``; contacts up to
    event time ``handled`` were dealt with and do not count. One pass over the contacts
    gathers what every signal needs (this runs for every customer of every batch)."""
    kept = contacts if handled is None else [c for c in contacts if c.time > handled]
    counted = tuple(sorted(kept, key=_order)) if len(kept) > 1 else tuple(kept)
    seen = _Evidence(policy, now)
    for contact in counted:
        seen.add(contact)
    if seen.nothing:  # most customers: one ordinary contact
        p1 = sum(1 for c in counted if c.priority == Priority.P1)
        return Risk((), 0.0, len(counted), 0, p1, counted)
    hits = []
    for signal, weight in policy.points.items():
        found = _SIGNALS[signal](seen) if weight else None
        if found is None:
            continue
        detail, last, times = found
        resolved = seen.resolved_at is not None and last <= seen.resolved_at
        share = policy.resolved_discount if resolved else 1
        hits.append(Hit(signal, weight * times * share, last, detail))
    return Risk(
        tuple(hits),
        score(hits, policy, now),
        len(counted),
        seen.negative_count,
        sum(1 for c in counted if c.priority == Priority.P1),
        counted,
    )


# (what it is, event time of its last contact, how many times its points it is worth)
Found = tuple[str, float, float] | None


class _Evidence:
    """What a customer's contacts (given oldest first) show, signal by signal."""

    __slots__ = (
        "days",
        "detractor_at_most",
        "detractors",
        "joking",
        "low_rating",
        "negative",
        "phrases",
        "policy",
        "ratings",
        "recent",
        "repeat_least",
        "resolved_at",
        "since",
        "texts",
        "transfer_limit",
        "transfers",
        "unresolved",
        "wait_limit",
        "waits",
    )

    def __init__(self, policy: RiskPolicy, now: float) -> None:
        self.policy = policy
        (
            self.days,
            self.repeat_least,
            self.wait_limit,
            self.transfer_limit,
            self.low_rating,
            self.detractor_at_most,
        ) = policy.limits
        self.since = now - self.days * DAY
        self.recent: list[Contact] = []
        self.unresolved: list[Contact] = []
        self.waits: list[Contact] = []
        self.transfers: list[Contact] = []
        self.negative: list[Contact] = []
        self.texts: list[Contact] = []
        self.ratings: list[tuple[Contact, int]] = []
        self.detractors: list[Contact] = []
        self.phrases: dict[str, list[Contact]] = {"escalation": [], "churn": []}
        self.joking: dict[str, list[Contact]] = {"escalation": [], "churn": []}
        self.resolved_at: float | None = None

    @property
    def negative_count(self) -> int:
        return len(self.negative)

    @property
    def nothing(self) -> bool:
        """Whether the contacts show no signal at all (most customers: one ordinary
        contact), so that none needs looking at."""
        return (
            len(self.texts) < 3  # falling sentiment needs three
            and len(self.recent) < self.repeat_least
            and not (
                self.unresolved
                or self.waits
                or self.transfers
                or self.negative
                or self.ratings
                or self.detractors
                or self.phrases["escalation"]
                or self.phrases["churn"]
            )
        )

    def add(self, c: Contact) -> None:
        if c.time > self.since:
            self.recent.append(c)
        if c.negative:
            self.negative.append(c)
        if c.text:
            self.texts.append(c)
            if c.polarity != Polarity.POSITIVE:
                self._said(c)
            else:  # a happy customer joking about leaving, or sarcasm (真是太好了…呵呵)
                self._said(c, self.joking)
        if c.resolved is not None:
            self._call(c)
        elif c.survey is not None:
            self._survey(c)
        if _resolution(c):
            self.resolved_at = c.time

    def _said(self, c: Contact, into: dict[str, list[Contact]] | None = None) -> None:
        phrases = self.phrases if into is None else into
        if c.escalation:
            phrases["escalation"].append(c)
        if c.churn:
            phrases["churn"].append(c)

    def _call(self, c: Contact) -> None:
        if not c.resolved:
            self.unresolved.append(c)
        if c.wait_seconds is not None and c.wait_seconds >= self.wait_limit:
            self.waits.append(c)
        if c.transfers is not None and c.transfers >= self.transfer_limit:
            self.transfers.append(c)
        if c.rating is not None and c.rating <= self.low_rating:
            self.ratings.append((c, c.rating))

    def _survey(self, c: Contact) -> None:
        if c.score is None:
            return
        if c.survey == SurveyKind.CSAT and c.score <= self.low_rating:
            self.ratings.append((c, c.score))
        if c.survey == SurveyKind.NPS and c.score <= self.detractor_at_most:
            self.detractors.append(c)

    def repeat_contacts(self) -> Found:
        """``contacts`` contacts or more within the last ``days`` days — about any issue,
        or, with ``same_issue``, about one (the category; survey responses are about no
        issue)."""
        recent = self.recent
        if self.policy.param(RiskSignal.REPEAT_CONTACTS, "same_issue"):
            by_issue: dict[str, list[Contact]] = {}
            for c in recent:
                if c.survey is None:
                    by_issue.setdefault(c.category, []).append(c)
            recent = max(by_issue.values(), key=len, default=[])
        if len(recent) < self.repeat_least:
            return None
        return f"{_many(len(recent), 'contact')} in {self.days:g} days", recent[-1].time, 1

    def unresolved_call(self) -> Found:
        if not self.unresolved:
            return None
        most = self.policy.param(RiskSignal.UNRESOLVED_CALL, "most")
        calls = self.unresolved
        return _many(len(calls), "unresolved call"), calls[-1].time, min(len(calls), most)

    def long_wait(self) -> Found:
        if not self.waits:
            return None
        longest = max(c.wait_seconds or 0.0 for c in self.waits)
        return f"waited up to {longest:.0f} s", self.waits[-1].time, 1

    def many_transfers(self) -> Found:
        if not self.transfers:
            return None
        most = max(c.transfers or 0 for c in self.transfers)
        return f"transferred {most} times", self.transfers[-1].time, 1

    def negative_contacts(self) -> Found:
        if not self.negative:
            return None
        most = self.policy.param(RiskSignal.NEGATIVE_CONTACTS, "most")
        n = len(self.negative)
        return _many(n, "negative contact"), self.negative[-1].time, min(n, most)

    def falling_sentiment(self) -> Found:
        """The last two texts read clearly worse than the ones before them."""
        texts = self.texts
        if len(texts) < 3:
            return None
        before = sum(c.sentiment for c in texts[:-2]) / (len(texts) - 2)
        last = (texts[-1].sentiment + texts[-2].sentiment) / 2
        if before - last < self.policy.param(RiskSignal.FALLING_SENTIMENT, "drop"):
            return None
        return f"sentiment {before:.2f} → {last:.2f}", texts[-1].time, 1

    def low_ratings(self) -> Found:
        """A call rated, or a CSAT response, at or below ``at_most``."""
        if not self.ratings:
            return None
        ratings = "、".join(str(rating) for _, rating in self.ratings)
        return f"rated {ratings} of 5", max(c.time for c, _ in self.ratings), 1

    def nps_detractors(self) -> Found:
        if not self.detractors:
            return None
        scores = "、".join(str(c.score) for c in self.detractors)
        return f"NPS {scores}", self.detractors[-1].time, 1

    def escalation(self) -> Found:
        return self._phrases("escalation")

    def churn_threat(self) -> Found:
        return self._phrases("churn")

    def _phrases(self, which: str) -> Found:
        """The phrases the customer said; in a text read as positive they count only when
        an unresolved call says the problem is real (sarcasm, not a joke)."""
        said = self.phrases[which]
        if self.unresolved and self.joking[which]:
            said = sorted([*said, *self.joking[which]], key=lambda c: c.time)
        if not said:
            return None
        phrases = list(dict.fromkeys(p for c in said for p in getattr(c, which)))
        return "、".join(phrases), said[-1].time, 1


_SIGNALS: dict[RiskSignal, Callable[[_Evidence], Found]] = {
    RiskSignal.REPEAT_CONTACTS: _Evidence.repeat_contacts,
    RiskSignal.UNRESOLVED_CALL: _Evidence.unresolved_call,
    RiskSignal.LONG_WAIT: _Evidence.long_wait,
    RiskSignal.TRANSFERS: _Evidence.many_transfers,
    RiskSignal.NEGATIVE_CONTACTS: _Evidence.negative_contacts,
    RiskSignal.FALLING_SENTIMENT: _Evidence.falling_sentiment,
    RiskSignal.LOW_RATING: _Evidence.low_ratings,
    RiskSignal.DETRACTOR: _Evidence.nps_detractors,
    RiskSignal.ESCALATION: _Evidence.escalation,
    RiskSignal.CHURN_THREAT: _Evidence.churn_threat,
}


def _many(count: int, thing: str) -> str:
    return f"{count} {thing}{'' if count == 1 else 's'}"


def _resolution(contact: Contact) -> bool:
    """A call resolved on first contact and not rated low, or a satisfied response."""
    if contact.resolved:
        return contact.rating is None or contact.rating >= 3
    if contact.survey is not None and contact.score is not None:
        return contact.score >= SATISFIED_FROM[contact.survey]
    return False


def _order(contact: Contact) -> tuple[float, str]:
    return contact.time, contact.id


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


# --- configuration -----------------------------------------------------------------------


def parse_risk(section: Section) -> RiskPolicy:
    """The ``customers.risk`` section."""
    section.known(
        {
            "threshold",
            "resolve_below",
            "half_life_days",
            "resolved_discount",
            "p1_from",
            "repeat",
            "signals",
        }
    )
    threshold = section.number("threshold", 60, high=100)
    resolve_below = section.number("resolve_below", 40, high=100)
    if resolve_below > threshold:
        raise section.error("must not be above threshold", "resolve_below")
    signals = section.section("signals")
    signals.known(set(RiskSignal))
    points: dict[RiskSignal, float] = {}
    parameters: dict[RiskSignal, dict[str, Any]] = {}
    for name in signals.data:
        signal = RiskSignal(name)
        spec = signals.section(name)
        spec.known({"points", *PARAMETERS[signal]})
        points[signal] = spec.within("points", 0, 0, 100)
        parameters[signal] = {
            param: _parameter(spec, param, default, kind)
            for param, (default, kind) in PARAMETERS[signal].items()
        }
    return RiskPolicy(
        points=points,
        parameters=parameters,
        threshold=threshold,
        resolve_below=resolve_below,
        half_life_days=section.number("half_life_days", 7),
        resolved_discount=section.within("resolved_discount", 0.5, 0, 1),
        p1_from=section.number("p1_from", 85, high=100),
        repeat_seconds=section.span("repeat", "24h"),
    )


def _parameter(spec: Section, name: str, default: Any, kind: str) -> Any:
    if kind == "count":
        return spec.count(name, default)
    if kind == "count0":
        return spec.count(name, default, low=0)
    if kind == "flag":
        return spec.flag(name, default)
    if kind == "share":
        return spec.number(name, default, high=1)
    return spec.number(name, default)
