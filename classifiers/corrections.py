"""Corrections (纠正): a person says a text's category (类别不对) or sentiment (情感不对) is
wrong, and gives the right value. Pure: the Redis store is :mod:`streams.corrections_store`.

A correction is also one line of a LABELS file — the labels ``vocwatch adapt --labels FILE``
learns from: a JSON object with ``text`` and any of ``category`` (one code),
``categories`` (a list of codes) and ``sentiment`` (``negative`` / ``neutral`` /
``positive``, or 0 / 1 for negative / positive); and, from the console, ``channel``, ``at``
(ISO-8601 time), ``by`` (who) and ``source`` (``alert:<id>``, ``social:<post id>``), which
adapt ignores. ``vocwatch corrections export FILE`` writes them (docs/classifiers.md,
"Corrections").

One correction per text: texts are cleaned as the worker cleans them (normalized, personal
data masked) and keyed by a hash of the result, so the same sample corrected twice is one
label, not two that may disagree. A newer correction of a text replaces the fields it gives
and keeps the others: 类别不对 today and 情感不对 tomorrow make one label with both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from classifiers.normalize import normalize
from classifiers.pii import mask_pii, redact
from vocwatch.errors import InvalidCorrection
from vocwatch.vocabulary import Category, Channel, CorrectionKind, Polarity

#: The longest text a correction may carry, in characters (alert samples and posts are
#: shorter; a longer one is not a text someone read in the console).
MAX_TEXT_CHARS = 2000
#: The longest ``by`` and ``source``.
MAX_NOTE_CHARS = 200
#: Sentiment given as a number in LABELS files (binary sets): 0 negative, 1 positive.
_SENTIMENT_NUMBERS = {0: Polarity.NEGATIVE, 1: Polarity.POSITIVE}
_CATEGORY_VALUES = frozenset(c.value for c in Category)
_POLARITY_VALUES = frozenset(p.value for p in Polarity)
_CHANNEL_VALUES = frozenset(c.value for c in Channel)
_CATEGORY_CODES = ", ".join(Category)
_POLARITIES = ", ".join(Polarity)
_CHANNELS = ", ".join(Channel)


@dataclass(frozen=True)
class Correction:
    """The right category codes and/or sentiment of one (cleaned) text, and where the
    correction came from. ``at`` is unix seconds; None when a LABELS line gives no time."""

    text: str
    categories: tuple[Category, ...] = ()
    sentiment: Polarity | None = None
    channel: Channel | None = None
    at: float | None = None
    by: str = ""
    source: str = ""

    @property
    def key(self) -> str:
        """What makes two corrections one: a hash of the cleaned text."""
        return text_key(self.text)

    @property
    def kinds(self) -> tuple[CorrectionKind, ...]:
        """What it corrects: the category, the sentiment, or both."""
        kinds = []
        if self.categories:
            kinds.append(CorrectionKind.CATEGORY)
        if self.sentiment is not None:
            kinds.append(CorrectionKind.SENTIMENT)
        return tuple(kinds)

    def to_json(self) -> dict[str, Any]:
        """The LABELS line as an object: ``category`` for one code, ``categories`` for
        several; fields without a value are left out."""
        data: dict[str, Any] = {"text": self.text}
        if len(self.categories) == 1:
            data["category"] = self.categories[0].value
        elif self.categories:
            data["categories"] = [c.value for c in self.categories]
        if self.sentiment is not None:
            data["sentiment"] = self.sentiment.value
        if self.channel is not None:
            data["channel"] = self.channel.value
        if self.at is not None:
            data["at"] = datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds")
        if self.by:
            data["by"] = self.by
        if self.source:
            data["source"] = self.source
        return data

    def to_line(self) -> str:
        """One line of a LABELS file (JSON, UTF-8 as is), without the newline."""
        return json.dumps(self.to_json(), ensure_ascii=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Correction:
        """A correction as :meth:`to_json` wrote it (the store's own data): not cleaned or
        validated again. ValueError or KeyError on anything else."""
        one = data.get("category")
        codes = [one] if one is not None else data.get("categories", [])
        sentiment, channel, at = data.get("sentiment"), data.get("channel"), data.get("at")
        return cls(
            text=data["text"],
            categories=tuple(Category(code) for code in codes),
            sentiment=None if sentiment is None else Polarity(sentiment),
            channel=None if channel is None else Channel(channel),
            at=None if at is None else datetime.fromisoformat(at).timestamp(),
            by=data.get("by", ""),
            source=data.get("source", ""),
        )


def text_key(text: str) -> str:
    """64 bits of the SHA-256 of a cleaned text, in hex: no collision in any realistic
    number of corrections, and short in Redis."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def clean_text(text: str) -> str:
    """The text as the worker stores and shows it: normalized, then personal data masked.
    Texts from the console are clean already (it is idempotent); this is what keeps an
    unmasked phone number typed into a request out of Redis and the LABELS file."""
    return mask_pii(normalize(text)).text


def merge(older: Correction, newer: Correction) -> Correction:
    """A newer correction of the same text replaces the fields it gives and keeps the others
    (a sentiment given last week stays when a category is corrected today)."""
    return Correction(
        text=newer.text,
        categories=newer.categories or older.categories,
        sentiment=newer.sentiment if newer.sentiment is not None else older.sentiment,
        channel=newer.channel if newer.channel is not None else older.channel,
        at=newer.at if newer.at is not None else older.at,
        by=newer.by or older.by,
        source=newer.source or older.source,
    )


def parse_correction(data: Any, *, at: float | None = None) -> Correction:
    """A correction from an API body or a LABELS line's object, its text cleaned;
    :class:`InvalidCorrection` naming the field that is wrong. ``at``: the time to record
    (the API's clock) instead of the object's own ``at``.

    ``{"text": "快递三天没到", "category": "logistics", "sentiment": "negative"}``
    """
    if not isinstance(data, Mapping):
        raise InvalidCorrection(f"expected a JSON object, got {type(data).__name__}", field="body")
    text = _text(data.get("text"))
    categories = _categories(data)
    sentiment = _sentiment(data.get("sentiment"))
    if not categories and sentiment is None:
        raise InvalidCorrection(
            "give the right category (category: one code, or categories: a list) or the "
            "right sentiment (sentiment), or both",
            field="category",
        )
    return Correction(
        text=text,
        categories=categories,
        sentiment=sentiment,
        channel=_channel(data.get("channel")),
        at=at if at is not None else _time(data.get("at")),
        by=_note(data, "by"),
        source=_note(data, "source"),
    )


def parse_label_line(line: str) -> Correction:
    """One line of a LABELS file; :class:`InvalidCorrection` if it is not a correction."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise InvalidCorrection(f"not JSON: {str(exc)[:80]}", field="line") from None
    return parse_correction(data)


def _text(value: Any) -> str:
    if value is None:
        raise InvalidCorrection(
            "required: the text whose analysis is wrong, as the console shows it", field="text"
        )
    if not isinstance(value, str):
        raise InvalidCorrection(f"a string, not {type(value).__name__}", field="text")
    if not value.strip():
        raise InvalidCorrection("empty", field="text")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidCorrection(
            f"at most {MAX_TEXT_CHARS} characters; this one has {len(value)}", field="text"
        )
    text = clean_text(value)
    if not text:
        raise InvalidCorrection("empty once cleaned (only invisible characters)", field="text")
    return text


def _categories(data: Mapping[str, Any]) -> tuple[Category, ...]:
    one, many = data.get("category"), data.get("categories")
    if one is not None and many is not None:
        raise InvalidCorrection(
            "give category (one code) or categories (a list of codes), not both",
            field="categories",
        )
    if one is not None:
        field, codes = "category", [one]
    elif many is not None:
        if not isinstance(many, list) or not many:
            raise InvalidCorrection(
                f"a non-empty list of category codes ({_CATEGORY_CODES})", field="categories"
            )
        field, codes = "categories", many
    else:
        return ()
    for code in codes:
        if not isinstance(code, str) or code not in _CATEGORY_VALUES:
            shown = redact(str(code))[:40]
            raise InvalidCorrection(
                f"unknown category code {shown!r}; one of {_CATEGORY_CODES}", field=field
            )
    return tuple(dict.fromkeys(Category(code) for code in codes))


def _sentiment(value: Any) -> Polarity | None:
    if value is None:
        return None
    if isinstance(value, str) and value in _POLARITY_VALUES:
        return Polarity(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in _SENTIMENT_NUMBERS:
        return _SENTIMENT_NUMBERS[value]
    shown = redact(str(value))[:40]
    raise InvalidCorrection(
        f"{_POLARITIES} (or 0 / 1 for negative / positive), not {shown!r}", field="sentiment"
    )


def _channel(value: Any) -> Channel | None:
    if value is None:
        return None
    if isinstance(value, str) and value in _CHANNEL_VALUES:
        return Channel(value)
    shown = redact(str(value))[:40]
    raise InvalidCorrection(f"one of {_CHANNELS}, not {shown!r}", field="channel")


def _time(value: Any) -> float | None:
    if value is None:
        return None
    example = "an ISO-8601 time with its offset, e.g. 2026-12-06T13:00:00+08:00"
    if not isinstance(value, str):
        raise InvalidCorrection(example, field="at")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidCorrection(example, field="at") from None
    if moment.tzinfo is None:
        raise InvalidCorrection(example, field="at")
    return moment.timestamp()


def _note(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_NOTE_CHARS:
        raise InvalidCorrection(f"a string of at most {MAX_NOTE_CHARS} characters", field=field)
    return mask_pii(value.strip()).text
