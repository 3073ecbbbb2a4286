"""One event as a window counts it, pure: what :mod:`alerts.windows` sends its script
per event. Apart from the windows' Redis client, so that the analysis process, which packs
each event it analyses, need not load it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Protocol

from vocwatch.vocabulary import SurveyKind

__all__ = ["Counted", "Observation", "pack", "survey_code"]


class Counted(Protocol):
    """Anything a window can count: its event, packed as :attr:`Observation.packed`."""

    @property
    def packed(self) -> bytes: ...


@dataclass(frozen=True)
class Observation:
    """One event as a window sees it."""

    event_id: str
    event_time: float
    negative: bool
    p1: bool
    sentiment: float = 0.5
    reach_negative: float = 0.0  # the post's reach, if it is a negative social post
    call: bool = False
    first_contact: bool = False
    wait_seconds: float = 0.0
    survey: str = "0"  # a survey response's code (survey_code), "0" for other events

    @functools.cached_property
    def packed(self) -> bytes:
        """The event as one script argument (:func:`pack`). Built once however many keys
        the event counts in: packing ten arguments per event and key was a tenth of a busy
        worker's time."""
        return pack(
            self.event_id,
            self.event_time,
            negative=self.negative,
            p1=self.p1,
            sentiment=self.sentiment,
            reach_negative=self.reach_negative,
            call=self.call,
            first_contact=self.first_contact,
            wait_seconds=self.wait_seconds,
            survey=self.survey,
        )


def pack(
    event_id: str,
    event_time: float,
    *,
    negative: bool,
    p1: bool,
    sentiment: float,
    reach_negative: float,
    call: bool,
    first_contact: bool,
    wait_seconds: float,
    survey: str,
) -> bytes:
    """An event as the window script reads it: its time, the value of each entry of
    :data:`alerts.windows.FIELDS` and its survey code, then its id, in one argument."""
    return (
        f"{event_time!r} {int(negative)} {int(p1)} "
        f"{_num(sentiment)} {_num(reach_negative)} {int(call)} "
        f"{int(call and first_contact)} {_num(wait_seconds if call else 0.0)} "
        f"{survey} {event_id}"
    ).encode()


def survey_code(kind: str, score: int) -> str:
    """How the window script is told of a survey response: a letter for the kind and the
    score (``nps`` 9 → ``n9``, ``csat`` 2 → ``c2``, ``ces`` 6 → ``e6``)."""
    return f"{_SURVEY_LETTERS[SurveyKind(kind)]}{score}"


_SURVEY_LETTERS = {SurveyKind.NPS: "n", SurveyKind.CSAT: "c", SurveyKind.CES: "e"}


def _num(value: float) -> str:
    """A float as the script sees it: exact '0' for nothing, else a short decimal."""
    return "0" if value == 0 else f"{value:.6g}"
