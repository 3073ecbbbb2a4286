"""Polarity (情感极性) from the sentiment model's probabilities, with cut-offs per channel
(渠道).

A text is negative when its probability of being negative is at least ``negative_from``,
positive when its probability of being positive is at least ``positive_from`` (the more
probable of the two if both are), neutral otherwise — the model's own neutral class, and any
text the model is not sure enough about. The cut-offs are data (``data/polarity.yaml``): a
default, and overrides for the channels whose texts read differently. An override may set
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
_CUTOFF_FIELDS = ("negative_from", "positive_from")


@dataclass(frozen=True)
class Cutoffs:
    """A text is negative when P(negative) ≥ ``negative_from``, positive when P(positive)
    ≥ ``positive_from`` (the larger probability wins if both are), else neutral."""

    negative_from: float = 0.5
    positive_from: float = 0.5

    def __post_init__(self) -> None:
        for name in _CUTOFF_FIELDS:
            if not 0.0 < getattr(self, name) <= 1.0:  # also rejects NaN
                raise ValueError(f"need 0 < {name} ({getattr(self, name)}) <= 1")

    def polarity(self, negative: float, positive: float) -> Polarity:
        """The polarity of a text whose probabilities of negative and positive these are."""
        is_negative = negative >= self.negative_from
        is_positive = positive >= self.positive_from
        if is_negative and (not is_positive or negative >= positive):
            return Polarity.NEGATIVE
        if is_positive:
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

    def polarity(self, negative: float, positive: float, channel: str | None = None) -> Polarity:
        """negative / neutral / positive for these probabilities on ``channel``."""
        return self.cutoffs(channel).polarity(negative, positive)


def _cutoffs(entry: Any, base: Cutoffs, source: str, where: str, *, partial: bool) -> Cutoffs:
    if not isinstance(entry, dict):
        raise ConfigError(
            "expected a mapping with negative_from and positive_from", source=source, field=where
        )
    if "negative_below" in entry:
        raise ConfigError(
            "negative_below was a cut-off on a score; the cut-offs are now probabilities of "
            "each class: use negative_from (P(negative) at or above it is negative) and "
            "positive_from",
            source=source,
            field=f"{where}.negative_below",
        )
    values = {"negative_from": base.negative_from, "positive_from": base.positive_from}
    for name, value in entry.items():
        if name not in _CUTOFF_FIELDS:
            raise ConfigError(
                "unknown key; expected negative_from, positive_from",
                source=source,
                field=f"{where}.{name}",
            )
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not 0.0 < value <= 1.0:  # NaN fails the range test
            raise ConfigError(
                f"must be a probability above 0 and at most 1, got {value!r}",
                source=source,
                field=f"{where}.{name}",
            )
        values[name] = float(value)
    if not partial:
        missing = [name for name in _CUTOFF_FIELDS if name not in entry]
        if missing:
            raise ConfigError("is required", source=source, field=f"{where}.{missing[0]}")
    return Cutoffs(**values)
