"""One customer contact (客户接触) as the customer's history keeps it, pure.

A contact is an event that names its customer — a complaint, a call, a survey response, a
social post with a ``customer_id`` — reduced to what customer risk and the retention team
need: when, where, how it read (sentiment, polarity, category, priority), how a call went,
what a survey scored, the churn and escalation phrases it used, and its masked text, cut
to :data:`SAMPLE_CHARS`. Stored as compact JSON: an array of its fields in
order.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any, NamedTuple
from urllib.parse import quote

from classifiers.pii import redact
from vocwatch.vocabulary import Polarity, Priority, Source, SurveyKind, by_value

_DIGITS = re.compile(r"\d")  # (any script's digits: ０ and ٣ count)
#: How much of a text a contact keeps, and an alert shows of a sample.
SAMPLE_CHARS = 200


class Contact(NamedTuple):
    """A named tuple, not a dataclass: the worker builds one for every event that names
    its customer and reads one back for every contact of their history, and a tuple is
    built several times faster than a frozen dataclass of eighteen fields."""

    id: str  # "<source>:<event id>": ids are unique per source only
    time: float  # event time
    source: Source
    channel: str
    category: str
    sentiment: float
    polarity: Polarity
    priority: Priority
    text: str = ""  # masked, cut to SAMPLE_CHARS
    resolved: bool | None = None  # calls: resolved on first contact
    wait_seconds: float | None = None  # calls
    transfers: int | None = None  # calls
    rating: int | None = None  # calls: satisfaction 1–5, if rated
    survey: SurveyKind | None = None  # survey responses: kind …
    score: int | None = None  # … and score
    touchpoint: str | None = None  # survey responses, if given (masked)
    churn: tuple[str, ...] = ()  # churn-threat phrases (alerts.phrases)
    escalation: tuple[str, ...] = ()  # escalation phrases

    @property
    def negative(self) -> bool:
        return self.polarity == Polarity.NEGATIVE

    @property
    def detractor(self) -> bool | None:
        """Whether a survey response is a detractor's: NPS 0–6 or CSAT 1–2 (None: not an
        NPS or CSAT response)."""
        if self.score is None or self.survey not in DETRACTOR_AT_MOST:
            return None
        return self.score <= DETRACTOR_AT_MOST[self.survey]

    def to_json(self) -> str:
        """Compact JSON: the fields in order, as an array (this is written and read for
        every contact of every batch)."""
        return encode(
            [
                self.id,
                self.time,
                self.source,
                self.channel,
                self.category,
                self.sentiment,
                self.polarity,
                self.priority,
                self.text,
                self.resolved,
                self.wait_seconds,
                self.transfers,
                self.rating,
                self.survey,
                self.score,
                self.touchpoint,
                self.churn,
                self.escalation,
            ]
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Contact:
        (
            contact_id,
            time,
            source,
            channel,
            category,
            sentiment,
            polarity,
            priority,
            text,
            resolved,
            wait_seconds,
            transfers,
            rating,
            survey,
            score,
            touchpoint,
            churn,
            escalation,
        ) = json.loads(raw)
        return cls(
            contact_id,
            time,
            SOURCES[source],
            channel,
            category,
            sentiment,
            POLARITIES[polarity],
            PRIORITIES[priority],
            text,
            resolved,
            wait_seconds,
            transfers,
            rating,
            None if survey is None else SURVEY_KINDS[survey],
            score,
            touchpoint,
            tuple(churn),
            tuple(escalation),
        )

    def timeline_entry(self) -> dict[str, Any]:
        """This contact as an alert's ``contacts`` timeline shows it (JSON-ready)."""
        entry: dict[str, Any] = {
            "time": self.time,
            "source": self.source,
            "channel": self.channel,
            "category": self.category,
            "sentiment": self.sentiment,
            "polarity": self.polarity,
            "priority": self.priority,
            "resolved": self.resolved,
        }
        if self.survey is not None:
            entry["survey"] = {"kind": self.survey, "score": self.score}
        return entry


# The vocabulary's members by value (read for every contact of every history).
SOURCES = by_value(Source)
POLARITIES = by_value(Polarity)
PRIORITIES = by_value(Priority)
SURVEY_KINDS = by_value(SurveyKind)


def encode(fields: list[Any]) -> str:
    """A contact's fields, in the order of :class:`Contact`'s, as its compact JSON (plain
    values or the vocabulary's members: a member encodes as its value)."""
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


#: The highest score of a detractor (贬损者) per survey kind; CES has none.
DETRACTOR_AT_MOST: dict[SurveyKind, int] = {SurveyKind.NPS: 6, SurveyKind.CSAT: 2}


# A busy customer's id is masked once, not per contact; a few thousand recent customers are
# enough for that (65,536 entries of each of the two caches held ~19 MB of a worker's heap).
CACHED_CUSTOMERS = 4096


@functools.lru_cache(maxsize=CACHED_CUSTOMERS)
def customer_ref(customer_id: str) -> str:
    """How the service names a customer outside the process: the id itself, or, if the id
    is personal data (a phone number, an e-mail address), its masked form and a short
    hash of it, which tells customers apart without showing the number
    (``[PHONE]~3b1f0c9a2e``). An id without ``@`` and with fewer than seven digits can be
    no such thing, and is not even looked at."""
    if "@" not in customer_id and len(_DIGITS.findall(customer_id)) < 7:
        return customer_id
    masked = redact(customer_id)
    if masked == customer_id:
        return customer_id
    digest = hashlib.sha256(customer_id.encode()).hexdigest()[:10]
    return f"{masked}~{digest}"


@functools.lru_cache(maxsize=CACHED_CUSTOMERS)
def customer_key(ref: str) -> str:
    """A customer's part of an alert key and of its Redis keys: URL-quoted, so it holds no
    ``,``, ``=``, ``|`` nor the braces of a hash tag."""
    return quote(ref, safe="")
