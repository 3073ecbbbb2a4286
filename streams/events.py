"""Input event contracts (事件契约) and their decoding.

Four sources, one topic each: complaints (投诉工单), call records (通话记录), social
posts (社交媒体) and survey responses (满意度调查). Messages are UTF-8 JSON objects;
:func:`decode` turns raw bytes into an event or raises
:class:`~vocwatch.errors.InvalidEvent` naming the field and the problem.
Fields not in the contract are ignored, so producers can add fields before we read them.
The contract, with an example of each, is docs/events.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from classifiers.pii import redact, redact_start
from classifiers.priority import Signals
from vocwatch.errors import InvalidEvent
from vocwatch.vocabulary import COMPLAINT_CHANNELS, Channel, Platform, Source, SurveyKind

SOURCES: tuple[Source, ...] = tuple(Source)
PLATFORMS: tuple[Platform, ...] = tuple(Platform)
SURVEY_KINDS: tuple[SurveyKind, ...] = tuple(SurveyKind)

MAX_ID = 128
MAX_NAME = 128
MAX_TEXT: dict[str, int] = {
    Source.COMPLAINT: 5_000,
    Source.CALL: 20_000,
    Source.SOCIAL: 5_000,
    Source.SURVEY: 5_000,
}
MIN_TIME = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
MAX_TIME = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
Member = TypeVar("Member", bound=StrEnum)  # of a vocabulary (vocwatch.vocabulary)


@dataclass(frozen=True)
class Event:
    """What every source has in common, plus the dimensions windows are keyed on."""

    source: Source
    id: str
    text: str  # a survey without a comment has none: ""
    event_time: float  # unix seconds
    channel: Channel | None  # complaint: its contact channel; call; social; a survey: none
    product: str | None
    region: str | None
    fields: Mapping[str, Any]  # the validated source-specific fields, for the scored record

    @property
    def customer_id(self) -> str | None:
        """The customer (客户) the event is about: always given for complaints, calls and
        surveys; a social post has one only if its producer matched the author."""
        customer: str | None = self.fields.get("customer_id")
        return customer

    @property
    def signals(self) -> Signals:
        f = self.fields
        if self.source == Source.SOCIAL:
            reach = f["followers"] + 10 * f["reposts"] + 2 * f["comments"] + f["likes"]
            return Signals(reach=reach)
        if self.source == Source.CALL:
            return Signals(
                wait_seconds=f["wait_seconds"],
                transfers=f["transfers"],
                resolved_first_contact=f["resolved_first_contact"],
                satisfaction=f["satisfaction"],
            )
        return Signals()

    def dimensions(self) -> dict[str, str]:
        dims: dict[str, str] = {"source": self.source}
        if self.channel is not None:
            dims["channel"] = self.channel
        if self.product:
            dims["product"] = self.product
        if self.region:
            dims["region"] = self.region
        if self.source == Source.SOCIAL:
            dims["platform"] = self.fields["platform"]
        return dims


def decode(source: str, raw: bytes | None, *, max_bytes: int) -> Event:
    """Decode and validate one raw message of ``source``; raise InvalidEvent if it is bad."""
    if raw is None:
        raise InvalidEvent("not_json", "message has no value (tombstone)")
    if len(raw) > max_bytes:
        raise InvalidEvent("too_large", f"message is {len(raw)} bytes, limit {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent("not_utf8", f"not UTF-8 at byte {exc.start}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an int of 4300+ digits
        raise InvalidEvent("not_json", f"not JSON: {str(exc)[:80]}") from None
    if not isinstance(data, dict):
        raise InvalidEvent("not_object", f"expected a JSON object, got {type(data).__name__}")
    return _DECODERS[source](_Fields(data))


class _Fields:
    """Typed access to a JSON object; every failure names the field."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def _get(self, name: str, required: bool) -> Any:
        value = self.data.get(name)
        if value is None and required:
            raise InvalidEvent("missing_field", f"field {name!r} is required", field=name)
        return value

    def string(
        self,
        name: str,
        *,
        max_len: int = MAX_NAME,
        required: bool = True,
        allow_empty: bool = False,
    ) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _wrong_type(name, "a string", value)
        if not value.strip() and not allow_empty:
            raise InvalidEvent("invalid_value", f"field {name!r} is empty", field=name)
        if len(value) > max_len:
            raise InvalidEvent(
                "too_long",
                f"field {name!r} has {len(value)} characters, limit {max_len}",
                field=name,
            )
        return _text(name, value)

    def dimension(self, name: str) -> str | None:
        """An optional free-text dimension (product, region): it becomes part of window
        keys and alert keys, so it is PII-masked like any text that leaves the process."""
        value = self.string(name, required=False)
        return redact(value) if value is not None else None

    def identifier(self, name: str, *, required: bool = True) -> Any:
        """Ids may come as strings or integers; they are strings from here on."""
        value = self._get(name, required)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _wrong_type(name, "a string or integer id", value)
        if not value.strip() or len(value) > MAX_ID:
            raise InvalidEvent(
                "invalid_value", f"field {name!r} must have 1 to {MAX_ID} characters", field=name
            )
        return _text(name, value)

    def enum(self, name: str, allowed: Sequence[Member]) -> Member:
        """One of ``allowed`` (members of a vocabulary), given as its string."""
        value = self.string(name)
        for member in allowed:
            if member == value:
                return member
        raise InvalidEvent(
            "unknown_enum",
            f"field {name!r} is {_quoted(value)}; expected one of {', '.join(allowed)}",
            field=name,
        )

    def number(
        self,
        name: str,
        *,
        integer: bool = False,
        minimum: float = 0,
        maximum: float = math.inf,
        required: bool = True,
        default: Any = None,
    ) -> Any:
        value = self._get(name, required and default is None)
        if value is None:
            return default
        wanted_int = isinstance(value, int) and not isinstance(value, bool)
        if not (wanted_int or (not integer and isinstance(value, float))):
            raise _wrong_type(name, "an integer" if integer else "a number", value)
        try:
            in_range = not math.isnan(value) and minimum <= value <= maximum
        except OverflowError:  # an integer too large to compare with a float
            in_range = False
        if not in_range:
            raise InvalidEvent(
                "invalid_value",
                f"field {name!r} is {value}; expected {minimum} to {maximum}",
                field=name,
            )
        return value

    def boolean(self, name: str) -> bool:
        value = self._get(name, True)
        if not isinstance(value, bool):
            raise _wrong_type(name, "true or false", value)
        return value

    def time(self, name: str) -> float:
        return parse_time(name, self._get(name, True))


def parse_time(name: str, value: Any) -> float:
    """ISO-8601 with an offset, or epoch seconds / milliseconds → unix seconds."""
    if isinstance(value, bool):
        raise _wrong_type(name, "an ISO-8601 time or epoch number", value)
    if isinstance(value, int | float):
        try:
            seconds = float(value) / 1000 if abs(value) >= 1e11 else float(value)
        except OverflowError:
            seconds = math.inf
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidEvent(
                "invalid_time", f"field {name!r} is {_quoted(value)}, not ISO-8601", field=name
            ) from None
        if parsed.tzinfo is None:
            raise InvalidEvent(
                "invalid_time", f"field {name!r} has no UTC offset (e.g. +08:00)", field=name
            )
        seconds = parsed.timestamp()
    else:
        raise _wrong_type(name, "an ISO-8601 time or epoch number", value)
    if not MIN_TIME <= seconds < MAX_TIME:  # also false for NaN
        raise InvalidEvent("invalid_time", f"field {name!r} is outside 2000–2100", field=name)
    return seconds


def _quoted(value: str) -> str:
    """The start of a bad value, for a detail: masked before it is cut to 40 characters, so
    that no part of a phone number or address cut there escapes the masking."""
    return repr(redact_start(value, 40, cut=len(value) > 40))


def _text(name: str, value: str) -> str:
    """``value``, if it is text: a JSON escape can spell a lone surrogate ("\\ud800"), which
    no UTF-8 encoder accepts, so the event could be neither analysed nor published."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidEvent(
            "invalid_value",
            f"field {name!r} has a lone surrogate (an unpaired "
            f"\\u escape) at character {exc.start}",
            field=name,
        ) from None
    return value


def _wrong_type(name: str, expected: str, value: Any) -> InvalidEvent:
    return InvalidEvent(
        "wrong_type", f"field {name!r} must be {expected}, got {type(value).__name__}", field=name
    )


def _complaint(f: _Fields) -> Event:
    channel = f.enum("channel", COMPLAINT_CHANNELS)
    fields = {"customer_id": f.identifier("customer_id"), "channel": channel}
    return Event(
        Source.COMPLAINT,
        f.identifier("id"),
        f.string("text", max_len=MAX_TEXT[Source.COMPLAINT]),
        f.time("created_at"),
        channel,
        f.dimension("product"),
        f.dimension("region"),
        fields,
    )


def _call(f: _Fields) -> Event:
    fields = {
        "customer_id": f.identifier("customer_id"),
        "agent_id": f.identifier("agent_id"),
        "wait_seconds": f.number("wait_seconds", maximum=86_400),
        "talk_seconds": f.number("talk_seconds", maximum=86_400),
        "resolved_first_contact": f.boolean("resolved_first_contact"),
        "transfers": f.number("transfers", integer=True, maximum=100, default=0),
        "satisfaction": f.number(
            "satisfaction", integer=True, minimum=1, maximum=5, required=False
        ),
    }
    return Event(
        Source.CALL,
        f.identifier("id"),
        f.string("text", max_len=MAX_TEXT[Source.CALL]),
        f.time("started_at"),
        Channel.CALL,
        f.dimension("product"),
        f.dimension("region"),
        fields,
    )


def _social(f: _Fields) -> Event:
    count = 10**12
    fields = {
        "platform": f.enum("platform", PLATFORMS),
        "author": f.string("author"),
        "followers": f.number("followers", integer=True, maximum=count, default=0),
        "likes": f.number("likes", integer=True, maximum=count, default=0),
        "reposts": f.number("reposts", integer=True, maximum=count, default=0),
        "comments": f.number("comments", integer=True, maximum=count, default=0),
        "url": f.string("url", max_len=2048, required=False),
    }
    customer = f.identifier("customer_id", required=False)
    if customer is not None:  # only when given: other posts' records stay as they were
        fields["customer_id"] = customer
    return Event(
        Source.SOCIAL,
        f.identifier("id"),
        f.string("text", max_len=MAX_TEXT[Source.SOCIAL]),
        f.time("posted_at"),
        Channel.SOCIAL,
        f.dimension("product"),
        f.dimension("region"),
        fields,
    )


def _survey(f: _Fields) -> Event:
    """A survey response (满意度调查): the score's range depends on the kind, so the kind
    is read first. The comment is optional; a response without one has no text."""
    customer = f.identifier("customer_id")
    kind = f.enum("kind", SURVEY_KINDS)
    low, high = kind.scores
    fields = {
        "customer_id": customer,
        "kind": kind,
        "score": f.number("score", integer=True, minimum=low, maximum=high),
        "touchpoint": f.dimension("touchpoint"),
    }
    comment = f.string("comment", max_len=MAX_TEXT[Source.SURVEY], required=False)
    return Event(
        Source.SURVEY,
        f.identifier("id"),
        comment or "",
        f.time("created_at"),
        None,
        f.dimension("product"),
        f.dimension("region"),
        fields,
    )


_DECODERS: dict[str, Callable[[_Fields], Event]] = {
    Source.COMPLAINT: _complaint,
    Source.CALL: _call,
    Source.SOCIAL: _social,
    Source.SURVEY: _survey,
}
