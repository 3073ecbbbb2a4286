"""Decode and analyse a batch of raw messages — in the worker, or in a second process
(分析进程) that overlaps the event loop.

Text analysis is most of a worker's CPU time, and Faust's event loop the rest. In one
process they take turns; with an analysis process, while it scores one agent's batch the
event loop fetches, counts in Redis and publishes the batches of the other agents. The
worker then runs near the slower of the two instead of at their sum (docs/performance.md).

Both runners return, per message, a :class:`Scored` event (with its scored record already
encoded: JSON work done off the event loop too) or a :class:`Rejected` one, in the order
given, and never raise for a bad message. If the analysis process dies, the batch is
analysed in the worker instead and a new process is started: nothing is lost.

What comes back is slim: a :class:`Scored` is a tuple of plain values (strings, numbers, a
dict of the few source fields the worker reads), not the ``Event`` and ``Analysis`` objects
with their enum members and nested dataclasses, whose unpickling on the worker's side took
about a tenth of its time (docs/performance.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple, Protocol

from alerts.contacts import POLARITIES, PRIORITIES, SAMPLE_CHARS, SOURCES, SURVEY_KINDS, Contact
from alerts.contacts import encode as encode_contact
from alerts.observation import pack, survey_code
from alerts.phrases import PhraseMatcher
from classifiers.analyze import Analysis, Analyzer, Models
from classifiers.category import CategoryScore
from classifiers.polarity import PolarityPolicy
from classifiers.priority import Priority, PriorityPolicy
from streams.events import Event, decode
from streams.records import dumps, scored_record
from vocwatch.errors import ConfigError, InvalidEvent
from vocwatch.settings import Settings
from vocwatch.vocabulary import Category, Polarity, Source
from vocwatch.vocabulary import Priority as Level

log = logging.getLogger(__name__)

#: The analysis of an event without text (a survey response without a comment): there
#: is nothing to read, so it is neutral, uncategorised and P3 — its score speaks for it.
WITHOUT_TEXT = Analysis(
    text="",
    tokens=(),
    pii=(),
    sentiment=0.5,
    polarity=Polarity.NEUTRAL,
    categories=(CategoryScore(Category.OTHER, 1.0),),
    priority=Priority(Level.P3, 0, ("text:none",)),
)


#: Messages analysed at once (one feature matrix). A batch of 1,000 in one piece was the
#: analysis process's peak memory, 11 MB above its resting size against 4 MB in pieces of
#: 250, and pieces of 250 score as fast or faster (21,600–23,700 texts/s against
#: 20,400–22,600 here, 2026-12-07): the matrix product gains nothing from more rows.
CHUNK = 250


#: The source-specific fields the worker reads (metrics, windows, customer contacts); the
#: others travel only inside the encoded scored record.
WORKER_FIELDS = (
    "customer_id",
    "wait_seconds",
    "resolved_first_contact",
    "transfers",
    "satisfaction",
    "platform",
    "author",  # a social post's: a person counts once in an emerging topic
    "kind",
    "score",
    "touchpoint",
)


class Scored(NamedTuple):
    """An analysed event as the worker needs it, in plain values (cheap to send between
    processes): what windows, metrics, the console's series, the explanation and the
    customer stage read, and the encoded scored record to publish."""

    id: str
    source: str
    event_time: float
    channel: str | None  # a complaint's contact channel; call; social; a survey: none
    dims: dict[str, str]  # the event's dimensions (streams.events.Event.dimensions)
    fields: dict[str, Any]  # the WORKER_FIELDS the event has, enum members as strings
    reach: int  # a social post's reach (0 for other sources)
    text: str  # normalized and PII-masked
    tokens: tuple[str, ...]
    sentiment: float
    polarity: str
    categories: tuple[str, ...]  # category codes, best first, never empty
    priority: str  # P1 / P2 / P3
    record: bytes  # the scored record, encoded
    # What the worker would otherwise build from these values for every event, built where
    # the analysis runs (its own process), off the event loop: the event as the window
    # script counts it (Observation.packed), and, for an event with its customer's
    # phrases, its contact as the customer's history stores it (Contact.to_json).
    packed: bytes
    contact: str | None
    # The churn-threat and escalation phrases of the text (alerts.phrases), matched here
    # for an event that names its customer; None: not matched (no customer, or analysed
    # without the phrase lists), and the customer stage matches them itself.
    phrases: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    @property
    def category(self) -> str:
        return self.categories[0]

    @property
    def negative(self) -> bool:
        return self.polarity == Polarity.NEGATIVE

    @property
    def product(self) -> str | None:
        return self.dims.get("product")

    @property
    def region(self) -> str | None:
        return self.dims.get("region")

    @property
    def customer_id(self) -> str | None:
        customer: str | None = self.fields.get("customer_id")
        return customer

    @classmethod
    def of(
        cls,
        event: Event,
        analysis: Analysis,
        record: bytes,
        phrases: PhraseMatcher | None = None,
    ) -> Scored:
        """The slim form of an analysed event; with ``phrases``, an event that names its
        customer carries the phrases of its text, which the worker then need not match."""
        matched = None
        if phrases is not None and event.customer_id is not None:
            matched = (phrases.churn_threats(analysis.text), phrases.escalations(analysis.text))
        fields = {
            name: _plain(event.fields[name]) for name in WORKER_FIELDS if name in event.fields
        }
        source = str(event.source)
        channel = None if event.channel is None else str(event.channel)
        polarity, priority = str(analysis.polarity), str(analysis.priority.level)
        categories = tuple(str(c.code) for c in analysis.categories)
        negative = polarity == Polarity.NEGATIVE
        call, survey = source == Source.CALL, source == Source.SURVEY
        reach = event.signals.reach if source == Source.SOCIAL else 0
        packed = pack(
            event.id,
            event.event_time,
            negative=negative,
            p1=priority == Level.P1,
            sentiment=analysis.sentiment,
            reach_negative=float(reach) if negative else 0.0,
            call=call,
            first_contact=call and bool(fields["resolved_first_contact"]),
            wait_seconds=float(fields["wait_seconds"] or 0.0) if call else 0.0,
            survey=survey_code(fields["kind"], fields["score"]) if survey else "0",
        )
        contact = None
        if matched is not None:  # as contact_of(…).to_json(), without the Contact
            contact = encode_contact(
                [
                    f"{source}:{event.id}",
                    event.event_time,
                    source,
                    fields.get("platform", channel) or "",
                    categories[0],
                    analysis.sentiment,
                    polarity,
                    priority,
                    analysis.text[:SAMPLE_CHARS],
                    fields["resolved_first_contact"] if call else None,
                    fields["wait_seconds"] if call else None,
                    fields["transfers"] if call else None,
                    fields["satisfaction"] if call else None,
                    fields["kind"] if survey else None,
                    fields["score"] if survey else None,
                    fields["touchpoint"] if survey else None,
                    *matched,
                ]
            )
        return cls(
            event.id,
            source,
            event.event_time,
            channel,
            {name: str(value) for name, value in event.dimensions().items()},
            fields,
            reach,
            analysis.text,
            analysis.tokens,
            analysis.sentiment,
            polarity,
            categories,
            priority,
            record,
            packed,
            contact,
            matched,
        )


def contact_of(event: Scored, churn: tuple[str, ...], escalation: tuple[str, ...]) -> Contact:
    """An event that names its customer as a contact in the customer's history, with the
    churn-threat and escalation phrases of its text."""
    f = event.fields
    call, survey = event.source == Source.CALL, event.source == Source.SURVEY
    return Contact(
        id=f"{event.source}:{event.id}",
        time=event.event_time,
        source=SOURCES[event.source],
        channel=f.get("platform", event.channel) or "",
        category=event.category,
        sentiment=event.sentiment,
        polarity=POLARITIES[event.polarity],
        priority=PRIORITIES[event.priority],
        text=event.text[:SAMPLE_CHARS],
        resolved=f["resolved_first_contact"] if call else None,
        wait_seconds=f["wait_seconds"] if call else None,
        transfers=f["transfers"] if call else None,
        rating=f["satisfaction"] if call else None,
        survey=SURVEY_KINDS[f["kind"]] if survey else None,
        score=f["score"] if survey else None,
        touchpoint=f["touchpoint"] if survey else None,
        churn=churn,
        escalation=escalation,
    )


def _plain(value: Any) -> Any:
    """An enum member as its value: a plain str is sent as bytes, a member is rebuilt
    through its class on the other side."""
    return value.value if isinstance(value, Enum) else value


@dataclass(frozen=True)
class Rejected:
    reason: str  # an InvalidEvent reason
    detail: str


Result = Scored | Rejected


class Runner(Protocol):
    async def run(self, source: str, values: Sequence[bytes | None]) -> list[Result]: ...

    def pids(self) -> list[int]:
        """The analysis processes' pids (none when analysis runs in the worker)."""
        ...

    def close(self) -> None: ...


def analyze_batch(
    analyzer: Analyzer,
    source: str,
    values: Sequence[bytes | None],
    *,
    max_bytes: int,
    now: float,
    phrases: PhraseMatcher | None = None,
) -> list[Result]:
    """Decode every message, analyse the valid ones together (one feature matrix for
    every :data:`CHUNK` messages), encode each scored record; a bad message becomes
    :class:`Rejected`, in place. With ``phrases``, the customers' churn and escalation
    phrases are matched too."""
    if len(values) > CHUNK:
        return [
            result
            for start in range(0, len(values), CHUNK)
            for result in analyze_batch(
                analyzer,
                source,
                values[start : start + CHUNK],
                max_bytes=max_bytes,
                now=now,
                phrases=phrases,
            )
        ]
    results: list[Result | None] = [None] * len(values)
    events: list[tuple[int, Event]] = []
    for index, value in enumerate(values):
        try:
            events.append((index, decode(source, value, max_bytes=max_bytes)))
        except InvalidEvent as exc:
            results[index] = Rejected(exc.reason, exc.detail)
    for (index, event), analysis in zip(events, _analyses(analyzer, source, events), strict=True):
        if analysis is None:
            results[index] = Rejected("processing_error", "analysis failed")
            continue
        try:
            record = dumps(scored_record(event, analysis, model=analyzer.model_name, now=now))
            results[index] = Scored.of(event, analysis, record, phrases)
        except Exception as exc:  # a record that cannot be encoded must not sink the batch
            log.exception("encoding a scored %s record failed", source)
            results[index] = Rejected("processing_error", f"{type(exc).__name__} in encoding")
    return [r for r in results if r is not None]


def _analyses(
    analyzer: Analyzer, source: str, events: Sequence[tuple[int, Event]]
) -> list[Analysis | None]:
    """The analyses of the events, as one batch (events without text, such as a survey
    response without a comment, get :data:`WITHOUT_TEXT`); if the batch fails (a
    classifier bug on an odd text), one by one, so that only the text that fails is lost."""
    with_text = [event for _, event in events if event.text]
    if len(with_text) < len(events):
        analysed = iter(_analyses(analyzer, source, [(0, e) for e in with_text]))
        return [next(analysed) if event.text else WITHOUT_TEXT for _, event in events]
    texts = [event.text for _, event in events]
    signals = [event.signals for _, event in events]
    channels: list[str | None] = [event.channel for _, event in events]
    try:
        return list(analyzer.analyze_batch(texts, signals, channels))
    except Exception:
        log.exception("analysis of a batch of %d %s events failed; one by one", len(texts), source)
    analyses: list[Analysis | None] = []
    for text, signal, channel in zip(texts, signals, channels, strict=True):
        try:
            analyses.append(analyzer.analyze(text, signal, channel=channel))
        except Exception:
            log.exception("analysis of a %s message failed", source)
            analyses.append(None)
    return analyses


def build_analyzer(settings: Settings) -> Analyzer:
    return Analyzer(
        Models.load_from(settings.model_dir) if settings.model_dir else None,
        policy=PriorityPolicy.load(settings.priority_file),
        polarity=PolarityPolicy.load(settings.polarity_file),
        sentiment_model=settings.sentiment_model,
    )


def build_phrases(settings: Settings) -> PhraseMatcher:
    """The churn and escalation phrase lists, with the priority policy's escalation terms
    (alerts.phrases): the analysis process matches them, the customer stage too when the
    analysis did not."""
    escalation = PriorityPolicy.load(settings.priority_file).escalation_terms
    return PhraseMatcher.load(settings.customer_phrases_file, escalation=escalation)


def phrases_if_readable(settings: Settings) -> PhraseMatcher | None:
    """The phrase lists, or None if they cannot be read: then the customer stage matches
    them itself, and a worker with customers has stopped at start-up already."""
    try:
        return build_phrases(settings)
    except ConfigError:
        return None


def models_in_use(settings: Settings) -> str:
    """The name of the text models the settings choose, as scored records carry it (e.g.
    ``sentiment-2026-12-06+categories-2026-12-06``); a ConfigError naming the file if the
    folder of models cannot be read."""
    if settings.sentiment_model == "snownlp":
        return "snownlp"
    return (Models.load_from(settings.model_dir) if settings.model_dir else Models.load()).version


class InlineRunner:
    """Analysis on the event loop's own thread (tests, one-core machines)."""

    def __init__(
        self,
        analyzer: Analyzer,
        *,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
        phrases: PhraseMatcher | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.max_bytes = max_bytes
        self.clock = clock
        self.phrases = phrases

    async def run(self, source: str, values: Sequence[bytes | None]) -> list[Result]:
        return analyze_batch(
            self.analyzer,
            source,
            values,
            max_bytes=self.max_bytes,
            now=self.clock(),
            phrases=self.phrases,
        )

    def pids(self) -> list[int]:
        return []

    def close(self) -> None:
        return None
