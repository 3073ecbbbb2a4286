"""classifiers.polarity: cut-offs on the probabilities of negative and positive, per channel,
loaded from a YAML file."""

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
    ("negative", "positive", "polarity"),
    [
        (0.9, 0.05, "negative"),
        (0.5, 0.1, "negative"),  # at the cut-off
        (0.4999, 0.1, "neutral"),
        (0.3, 0.2, "neutral"),  # the model is not sure enough of either
        (0.05, 0.05, "neutral"),  # the model's own neutral class
        (0.1, 0.5, "positive"),
        (0.02, 0.97, "positive"),
    ],
)
def test_default_cutoffs(negative: float, positive: float, polarity: str) -> None:
    assert Cutoffs().polarity(negative, positive) == polarity


def test_when_both_reach_their_cut_offs_the_more_probable_wins_and_a_tie_is_negative() -> None:
    low = Cutoffs(negative_from=0.3, positive_from=0.3)
    assert low.polarity(0.45, 0.35) == "negative"
    assert low.polarity(0.35, 0.45) == "positive"
    assert low.polarity(0.4, 0.4) == "negative"  # a tie counts as a complaint
    assert low.polarity(0.3, 0.29) == "negative"
    assert low.polarity(0.29, 0.3) == "positive"


def test_higher_cut_offs_leave_more_texts_neutral() -> None:
    strict = Cutoffs(negative_from=0.8, positive_from=0.9)
    assert strict.polarity(0.79, 0.1) == "neutral"
    assert strict.polarity(0.8, 0.1) == "negative"
    assert strict.polarity(0.05, 0.89) == "neutral"
    assert strict.polarity(0.05, 0.9) == "positive"


@pytest.mark.parametrize(
    ("negative_from", "positive_from", "field"),
    [
        (0.0, 0.5, "negative_from"),
        (-0.1, 0.5, "negative_from"),
        (0.5, 1.1, "positive_from"),
        (float("nan"), 0.5, "negative_from"),
        (0.5, float("nan"), "positive_from"),
    ],
)
def test_impossible_cutoffs_are_rejected(
    negative_from: float, positive_from: float, field: str
) -> None:
    with pytest.raises(ValueError, match=f"need 0 < {field}"):
        Cutoffs(negative_from, positive_from)


def test_a_cut_off_of_one_is_allowed() -> None:
    assert Cutoffs(1.0, 1.0).polarity(0.99, 0.0) == "neutral"
    assert Cutoffs(1.0, 1.0).polarity(1.0, 0.0) == "negative"


# --- PolarityPolicy ---------------------------------------------------------------------

POLICY = PolarityPolicy(Cutoffs(0.5, 0.5), {"call": Cutoffs(0.7, 0.5), "social": Cutoffs(0.5, 0.8)})


@pytest.mark.parametrize(
    ("negative", "positive", "channel", "polarity"),
    [
        (0.6, 0.1, "app", "negative"),  # no override: the default
        (0.6, 0.1, None, "negative"),  # no channel: the default
        (0.6, 0.1, "call", "neutral"),  # call: negative only from 0.7
        (0.7, 0.1, "call", "negative"),
        (0.1, 0.6, "app", "positive"),
        (0.1, 0.6, "social", "neutral"),  # social: positive only from 0.8
        (0.1, 0.8, "social", "positive"),
    ],
)
def test_polarity_per_channel(
    negative: float, positive: float, channel: str | None, polarity: str
) -> None:
    assert POLICY.polarity(negative, positive, channel) == polarity


def test_unknown_channel_is_an_error_not_the_default() -> None:
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        POLICY.polarity(0.5, 0.1, "fax")
    with pytest.raises(ValueError, match="unknown channels"):
        PolarityPolicy(Cutoffs(), {"fax": Cutoffs()})


def test_the_packaged_file() -> None:
    policy = PolarityPolicy.load()
    assert DEFAULT_POLARITY_FILE.name == "polarity.yaml"
    assert PolarityPolicy.load(DEFAULT_POLARITY_FILE) == policy
    data = yaml.safe_load(DEFAULT_POLARITY_FILE.read_text(encoding="utf-8"))
    assert set(data["default"]) == {"negative_from", "positive_from"}
    assert policy.default == Cutoffs(**data["default"])
    # a text the model is sure of is never left neutral by the packaged cut-offs
    for channel in CHANNELS:
        assert policy.polarity(0.95, 0.03, channel) == "negative"
        assert policy.polarity(0.03, 0.95, channel) == "positive"
        assert policy.polarity(0.02, 0.03, channel) == "neutral"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "polarity.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_override_inherits_the_cutoff_it_does_not_set(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "default: {negative_from: 0.55, positive_from: 0.65}\n"
        "channels:\n  hotline: {positive_from: 0.8}\n"
        "  wechat: {negative_from: 0.7}\n",
    )
    policy = PolarityPolicy.load(path)
    assert policy.cutoffs("hotline") == Cutoffs(0.55, 0.8)
    assert policy.cutoffs("wechat") == Cutoffs(0.7, 0.65)
    assert policy.cutoffs("store") == Cutoffs(0.55, 0.65)
    assert policy.cutoffs() == policy.default


def test_channels_may_be_left_out_or_empty(tmp_path: Path) -> None:
    for text in ("", "channels: {}\n", "channels:\n"):
        policy = PolarityPolicy.load(
            write(tmp_path, "default: {negative_from: 0.6, positive_from: 0.7}\n" + text)
        )
        assert policy.channels == {}
        assert all(policy.cutoffs(c) == Cutoffs(0.6, 0.7) for c in CHANNELS)


def test_integer_cut_offs_are_read_as_probabilities(tmp_path: Path) -> None:
    policy = PolarityPolicy.load(write(tmp_path, "default: {negative_from: 1, positive_from: 1}\n"))
    assert policy.default == Cutoffs(1.0, 1.0)


DEFAULT = "default: {negative_from: 0.5, positive_from: 0.6}\n"


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("- 1\n- 2\n", "", "expected a mapping"),
        ("", "", "expected a mapping"),
        ("channels: {}\n", "default", "is required"),
        ("default: 0.4\n", "default", "expected a mapping"),
        ("default: {negative_from: 0.4}\n", "default.positive_from", "is required"),
        ("default: {positive_from: 0.4}\n", "default.negative_from", "is required"),
        (
            "default: {negative_from: 0.4, positive_from: 0.6, neutral: 0.5}\n",
            "default.neutral",
            "unknown key",
        ),
        (
            "default: {negative_from: '0.4', positive_from: 0.6}\n",
            "default.negative_from",
            "must be a probability above 0 and at most 1, got '0.4'",
        ),
        (
            "default: {negative_from: true, positive_from: 0.6}\n",
            "default.negative_from",
            "must be a probability",
        ),
        (
            "default: {negative_from: 0.4, positive_from: 60}\n",
            "default.positive_from",
            "must be a probability above 0 and at most 1, got 60",
        ),
        (
            "default: {negative_from: 0, positive_from: 0.6}\n",
            "default.negative_from",
            "must be a probability above 0",
        ),
        (
            "default: {negative_from: .nan, positive_from: 0.6}\n",
            "default.negative_from",
            "must be a probability",
        ),
        (DEFAULT + "channels: [call]\n", "channels", "expected a mapping"),
        (DEFAULT + "channels: {fax: {negative_from: 0.3}}\n", "channels.fax", "unknown channel"),
        (DEFAULT + "channels: {call: 0.3}\n", "channels.call", "expected a mapping"),
        (
            DEFAULT + "channels: {call: {negative_from: 1.5}}\n",
            "channels.call.negative_from",
            "must be a probability",
        ),
        (
            DEFAULT + "channels: {call: {negativ_from: 0.3}}\n",
            "channels.call.negativ_from",
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


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("default: {negative_below: 0.4, positive_from: 0.6}\n", "default.negative_below"),
        (DEFAULT + "channels: {call: {negative_below: 0.3}}\n", "channels.call.negative_below"),
    ],
)
def test_the_old_score_cut_off_says_what_replaced_it(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="use negative_from") as caught:
        PolarityPolicy.load(path)
    assert caught.value.field == field
    assert "probabilities" in str(caught.value)


@pytest.mark.parametrize("text", ["default: {negative_from: [0.4\n", "\tdefault: 1\n"])
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
    assert "negative_from" in comments and "positive_from" in comments
