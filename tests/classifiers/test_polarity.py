"""classifiers.polarity: cut-offs per channel, loaded from a YAML file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from classifiers.polarity import (
    CHANNELS,
    DEFAULT_POLARITY_FILE,
    Cutoffs,
    PolarityPolicy,
)
from vocwatch.errors import ConfigError, VocwatchError
from vocwatch.vocabulary import COMPLAINT_CHANNELS


def test_channels_are_the_ones_events_carry() -> None:
    # A complaint carries its contact channel; call records and social posts their source.
    assert set(CHANNELS) == {*COMPLAINT_CHANNELS, "call", "social"}


# --- Cutoffs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "polarity"),
    [
        (0.0, "negative"),
        (0.39, "negative"),
        (0.4, "neutral"),
        (0.5, "neutral"),
        (0.5999, "neutral"),
        (0.6, "positive"),
        (1.0, "positive"),
    ],
)
def test_default_cutoffs(score: float, polarity: str) -> None:
    assert Cutoffs().polarity(score) == polarity


def test_equal_cutoffs_leave_no_neutral_band() -> None:
    cutoffs = Cutoffs(0.5, 0.5)
    assert cutoffs.polarity(0.4999) == "negative"
    assert cutoffs.polarity(0.5) == "positive"


@pytest.mark.parametrize(
    ("negative_below", "positive_from"), [(0.7, 0.6), (-0.1, 0.6), (0.4, 1.1), (float("nan"), 0.6)]
)
def test_impossible_cutoffs_are_rejected(negative_below: float, positive_from: float) -> None:
    with pytest.raises(ValueError, match="negative_below"):
        Cutoffs(negative_below, positive_from)


# --- PolarityPolicy ---------------------------------------------------------------------

POLICY = PolarityPolicy(Cutoffs(0.4, 0.6), {"call": Cutoffs(0.3, 0.6), "social": Cutoffs(0.4, 0.7)})


@pytest.mark.parametrize(
    ("score", "channel", "polarity"),
    [
        (0.35, "app", "negative"),  # no override: the default
        (0.35, None, "negative"),  # no channel: the default
        (0.35, "call", "neutral"),  # call: negative only below 0.3
        (0.29, "call", "negative"),
        (0.65, "app", "positive"),
        (0.65, "social", "neutral"),  # social: positive only from 0.7
        (0.7, "social", "positive"),
    ],
)
def test_polarity_per_channel(score: float, channel: str | None, polarity: str) -> None:
    assert POLICY.polarity(score, channel) == polarity


def test_unknown_channel_is_an_error_not_the_default() -> None:
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        POLICY.polarity(0.5, "fax")
    with pytest.raises(ValueError, match="unknown channels"):
        PolarityPolicy(Cutoffs(), {"fax": Cutoffs()})


def test_the_packaged_file() -> None:
    policy = PolarityPolicy.load()
    assert DEFAULT_POLARITY_FILE.name == "polarity.yaml"
    assert policy.default == Cutoffs(0.4, 0.6)
    assert policy.channels == {"call": Cutoffs(0.3, 0.6), "social": Cutoffs(0.4, 0.7)}
    assert PolarityPolicy.load(DEFAULT_POLARITY_FILE) == policy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "polarity.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_override_inherits_the_cutoff_it_does_not_set(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "default: {negative_below: 0.35, positive_from: 0.65}\n"
        "channels:\n  hotline: {positive_from: 0.8}\n"
        "  wechat: {negative_below: 0.2}\n",
    )
    policy = PolarityPolicy.load(path)
    assert policy.cutoffs("hotline") == Cutoffs(0.35, 0.8)
    assert policy.cutoffs("wechat") == Cutoffs(0.2, 0.65)
    assert policy.cutoffs("store") == Cutoffs(0.35, 0.65)


def test_channels_may_be_left_out(tmp_path: Path) -> None:
    policy = PolarityPolicy.load(
        write(tmp_path, "default: {negative_below: 0.3, positive_from: 0.7}\n")
    )
    assert policy.channels == {}
    assert all(policy.cutoffs(c) == Cutoffs(0.3, 0.7) for c in CHANNELS)


DEFAULT = "default: {negative_below: 0.4, positive_from: 0.6}\n"


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("- 1\n- 2\n", "", "expected a mapping"),
        ("", "", "expected a mapping"),
        ("channels: {}\n", "default", "is required"),
        ("default: 0.4\n", "default", "expected a mapping"),
        ("default: {negative_below: 0.4}\n", "default.positive_from", "is required"),
        (
            "default: {negative_below: 0.4, positive_from: 0.6, neutral: 0.5}\n",
            "default.neutral",
            "unknown key",
        ),
        (
            "default: {negative_below: '0.4', positive_from: 0.6}\n",
            "default.negative_below",
            "must be a number from 0 to 1",
        ),
        (
            "default: {negative_below: true, positive_from: 0.6}\n",
            "default.negative_below",
            "must be a number",
        ),
        (
            "default: {negative_below: 0.4, positive_from: 60}\n",
            "default.positive_from",
            "must be a number from 0 to 1",
        ),
        (
            "default: {negative_below: .nan, positive_from: 0.6}\n",
            "default.negative_below",
            "must be a number",
        ),
        ("default: {negative_below: 0.7, positive_from: 0.6}\n", "default", "must not be above"),
        (DEFAULT + "channels: [call]\n", "channels", "expected a mapping"),
        (DEFAULT + "channels: {fax: {negative_below: 0.3}}\n", "channels.fax", "unknown channel"),
        (DEFAULT + "channels: {call: 0.3}\n", "channels.call", "expected a mapping"),
        (
            DEFAULT + "channels: {call: {negative_below: 0.7}}\n",
            "channels.call",
            "must not be above",
        ),  # 0.7 against the inherited positive_from 0.6
        (
            DEFAULT + "channels: {call: {negativ_below: 0.3}}\n",
            "channels.call.negativ_below",
            "unknown key",
        ),
        (DEFAULT + "cutoffs: {}\n", "cutoffs", "unknown key"),
    ],
)
def test_invalid_file_is_a_config_error_naming_file_and_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        PolarityPolicy.load(path)
    assert caught.value.source == str(path)
    assert caught.value.field == field
    assert str(caught.value).startswith(str(path))
    assert isinstance(caught.value, VocwatchError)


@pytest.mark.parametrize("text", ["default: {negative_below: [0.4\n", "\tdefault: 1\n"])
def test_unparsable_yaml_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="cannot read") as caught:
        PolarityPolicy.load(path)
    assert caught.value.source == str(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read") as caught:
        PolarityPolicy.load(tmp_path / "nope.yaml")
    assert caught.value.source == str(tmp_path / "nope.yaml")


def test_the_packaged_file_is_documented_with_every_channel() -> None:
    # The comment of the packaged file names every channel an override may use.
    text = DEFAULT_POLARITY_FILE.read_text(encoding="utf-8")
    comments = " ".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    assert all(channel in comments for channel in CHANNELS)
    assert yaml.safe_load(text)["default"] == {"negative_below": 0.4, "positive_from": 0.6}
