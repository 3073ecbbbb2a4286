"""classifiers.sentiment: three-way probabilities from the model's two heads, the score, the
shipped model and its metadata, and stock snownlp kept for comparison."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import category
from classifiers.sentiment import (
    HEADS,
    MODEL_FILE,
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    SnowNLPScorer,
    load_model,
    scores,
    three_way,
)
from classifiers.train.corpora import CORPORA, DOMAINS
from vocwatch.errors import ConfigError

probability = st.floats(0.0, 1.0, width=32)
deterministic = settings(derandomize=True, database=None, deadline=None, max_examples=200)


@deterministic
@given(st.lists(st.tuples(probability, probability), min_size=1, max_size=20))
def test_three_way_is_a_distribution_and_its_algebra(heads: list[tuple[float, float]]) -> None:
    polar = np.array([p for p, _ in heads], dtype=np.float32)
    neutral = np.array([n for _, n in heads], dtype=np.float32)
    result = three_way(polar, neutral)
    assert result.shape == (len(heads), 3) and result.dtype == np.float32
    assert ((result >= 0) & (result <= 1)).all()
    assert np.allclose(result.sum(axis=1), 1.0, atol=1e-6)
    assert np.allclose(result[:, NEUTRAL], neutral)  # neutral is the neutral head
    # what is not neutral is split by the polar head
    polar_share = result[:, NEGATIVE] + result[:, POSITIVE]
    assert np.allclose(polar_share, 1 - neutral, atol=1e-6)
    assert np.allclose(result[:, POSITIVE], polar_share * polar, atol=1e-6)


@pytest.mark.parametrize(
    ("polar", "neutral", "expected"),
    [
        (1.0, 0.0, [0.0, 0.0, 1.0]),
        (0.0, 0.0, [1.0, 0.0, 0.0]),
        (0.3, 1.0, [0.0, 1.0, 0.0]),  # sure it is neutral: polar says nothing
        (0.75, 0.2, [0.2, 0.2, 0.6]),
    ],
)
def test_three_way_values(polar: float, neutral: float, expected: list[float]) -> None:
    result = three_way(np.array([polar], np.float32), np.array([neutral], np.float32))
    assert result[0].tolist() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("probabilities", "score"),
    [
        ([0.0, 0.0, 1.0], 1.0),
        ([1.0, 0.0, 0.0], 0.0),
        ([0.0, 1.0, 0.0], 0.5),  # an inquiry sits in the middle
        ([0.2, 0.2, 0.6], 0.7),
        ([0.5, 0.0, 0.5], 0.5),
    ],
)
def test_score_is_positive_plus_half_of_neutral(probabilities: list[float], score: float) -> None:
    assert scores(np.array([probabilities], np.float32))[0] == pytest.approx(score, abs=1e-6)


# --- the shipped model ------------------------------------------------------------------------


def test_the_shipped_model_has_the_two_heads() -> None:
    model = load_model()
    assert model.task == "sentiment"
    assert model.heads.names == HEADS == ("polar", "neutral")
    assert model.version.startswith("sentiment-")
    assert (model.heads.scale > 0).all()  # calibration keeps the ranking


def test_a_category_model_is_not_a_sentiment_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a categories model where a sentiment model"):
        load_model(category.MODEL_FILE)
    copy = tmp_path / MODEL_FILE.name
    shutil.copy(category.MODEL_FILE, copy)
    with pytest.raises(ConfigError) as caught:
        load_model(copy)
    assert caught.value.source == str(copy)


def test_the_shipped_model_lists_its_corpora_with_their_licences() -> None:
    sheet = load_model().meta["trained_on"]
    assert {row["corpus"] for row in sheet} <= set(CORPORA)
    assert "vocwatch" in {row["corpus"] for row in sheet}
    for row in sheet:
        assert (row["file"], row["licence"]) == CORPORA[row["corpus"]]
        assert row["examples"] > 0


def test_the_shipped_model_carries_its_leave_one_domain_out_figures() -> None:
    validation = load_model().meta["validation"]
    dev = validation["dev"]
    assert set(dev["domains"]) <= set(DOMAINS)
    assert len(dev["domains"]) >= 10
    for figures in dev["domains"].values():
        assert figures["binary_n"] > 0 and figures["three_way_n"] > 0
        assert 0.5 < figures["binary_accuracy"] <= 1.0
        assert 0.33 < figures["three_way_accuracy"] <= 1.0
    binary = [f["binary_accuracy"] for f in dev["domains"].values()]
    assert dev["mean_binary_accuracy"] == pytest.approx(np.mean(binary), abs=1e-4)
    assert dev["worst_binary_accuracy"] == min(binary)
    social = validation["social_held_out"]["domains"]["social"]
    assert social["binary_n"] > 0


# --- stock snownlp ------------------------------------------------------------------------------


def test_stock_snownlp_gives_positive_or_negative_never_neutral() -> None:
    stock = SnowNLPScorer()
    assert stock.name == "snownlp"
    result = stock.probabilities(["", "太差了，非常失望", "非常好，很满意"])
    assert result.shape == (3, 3)
    assert np.allclose(result.sum(axis=1), 1.0)
    assert (result[:, NEUTRAL] == 0).all()
    assert result[0, POSITIVE] == 0.5  # an empty text: no opinion
    assert result[1, POSITIVE] < 0.5 < result[2, POSITIVE]
