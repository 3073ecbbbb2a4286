"""Polarity (情感极性) from a sentiment score, with cut-offs per channel (渠道).

A score is the probability that a text is positive. Below ``negative_below`` it is
negative, at or above ``positive_from`` positive, in between neutral. The cut-offs are
data (``data/polarity.yaml``): a default, and overrides for the channels whose texts
read differently (agent-written call summaries, public social posts). An override may set
one cut-off and inherit the other from the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Channel, Polarity

DEFAULT_POLARITY_FILE = Path(__file__).resolve().parent / "data" / "polarity.yaml"

#: Every channel an event can carry (:class:`~vocwatch.vocabulary.Channel`), as plain
#: strings: the CLI offers them as argparse choices, which it shows with ``repr()``.
CHANNELS: tuple[str, ...] = tuple(channel.value for channel in Channel)
POLARITIES: tuple[Polarity, ...] = tuple(Polarity)
_CUTOFF_FIELDS = ("negative_below", "positive_from")


@dataclass(frozen=True)
class Cutoffs:
    """Scores below ``negative_below`` are negative, at or above ``positive_from``
    positive, anything between is neutral."""

    negative_below: float = 0.4
    positive_from: float = 0.6

    def __post_init__(self) -> None:
        if not 0.0 <= self.negative_below <= self.positive_from <= 1.0:  # also rejects NaN
            raise ValueError(
                f"need 0 <= negative_below ({self.negative_below}) <= "
                f"positive_from ({self.positive_from}) <= 1"
            )

    def polarity(self, score: float) -> Polarity:
        if score < self.negative_below:
            return Polarity.NEGATIVE
        if score >= self.positive_from:
            return Polarity.POSITIVE
        return Polarity.NEUTRAL


@dataclass(frozen=True)
class PolarityPolicy:
    """Cut-offs per channel; a channel without an override uses ``default``."""

    default: Cutoffs = Cutoffs()
    channels: Mapping[str, Cutoffs] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.channels) - set(CHANNELS))
        if unknown:
            raise ValueError(f"unknown channels {unknown}; known: {', '.join(CHANNELS)}")

    @classmethod
    def load(cls, path: Path = DEFAULT_POLARITY_FILE) -> PolarityPolicy:
        """Read a policy file; any problem is a ConfigError naming the file and field."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read: {exc}", source=str(path)) from exc
        return cls.parse(data, source=str(path))

    @classmethod
    def parse(cls, data: Any, *, source: str) -> PolarityPolicy:
        """Build a policy from the parsed YAML document of ``source``."""
        if not isinstance(data, dict):
            raise ConfigError("expected a mapping with 'default' and 'channels'", source=source)
        unknown = sorted(str(k) for k in data if k not in ("default", "channels"))
        if unknown:
            raise ConfigError(
                "unknown key; expected default, channels", source=source, field=unknown[0]
            )
        if "default" not in data:
            raise ConfigError("is required", source=source, field="default")
        default = _cutoffs(data["default"], Cutoffs(), source, "default", partial=False)
        overrides = data.get("channels") or {}
        if not isinstance(overrides, dict):
            raise ConfigError(
                "expected a mapping of channel to cut-offs", source=source, field="channels"
            )
        channels: dict[str, Cutoffs] = {}
        for channel, entry in overrides.items():
            where = f"channels.{channel}"
            if channel not in CHANNELS:
                raise ConfigError(
                    f"unknown channel; known: {', '.join(CHANNELS)}", source=source, field=where
                )
            channels[channel] = _cutoffs(entry, default, source, where, partial=True)
        return cls(default, channels)

    def cutoffs(self, channel: str | None = None) -> Cutoffs:
        """The cut-offs of ``channel`` (None: the default); ValueError if it is unknown."""
        if channel is None:
            return self.default
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
        return self.channels.get(channel, self.default)

    def polarity(self, score: float, channel: str | None = None) -> Polarity:
        """negative / neutral / positive for ``score`` on ``channel``."""
        return self.cutoffs(channel).polarity(score)


def _cutoffs(entry: Any, base: Cutoffs, source: str, where: str, *, partial: bool) -> Cutoffs:
    if not isinstance(entry, dict):
        raise ConfigError(
            "expected a mapping with negative_below and positive_from", source=source, field=where
        )
    values = {"negative_below": base.negative_below, "positive_from": base.positive_from}
    for name, value in entry.items():
        if name not in _CUTOFF_FIELDS:
            raise ConfigError(
                "unknown key; expected negative_below, positive_from",
                source=source,
                field=f"{where}.{name}",
            )
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not 0.0 <= value <= 1.0:  # NaN fails the range test
            raise ConfigError(
                f"must be a number from 0 to 1, got {value!r}",
                source=source,
                field=f"{where}.{name}",
            )
        values[name] = float(value)
    if not partial:
        missing = [name for name in _CUTOFF_FIELDS if name not in entry]
        if missing:
            raise ConfigError("is required", source=source, field=f"{where}.{missing[0]}")
    if values["negative_below"] > values["positive_from"]:
        raise ConfigError(
            f"negative_below ({values['negative_below']}) must not be above "
            f"positive_from ({values['positive_from']})",
            source=source,
            field=where,
        )
    return Cutoffs(**values)
