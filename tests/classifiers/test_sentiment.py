"""classifiers.sentiment: polarity cut-offs and the snownlp baseline scorer."""

from __future__ import annotations

import functools

import pytest

from classifiers.normalize import normalize
from classifiers.sentiment import PolarityCutoffs, SnowNLPScorer
from classifiers.tokenize import tokenize


@pytest.mark.parametrize(
    ("score", "polarity"),
    [(0.0, "negative"), (0.39, "negative"), (0.4, "neutral"), (0.5, "neutral"),
     (0.5999, "neutral"), (0.6, "positive"), (1.0, "positive")],
)
def test_default_cutoffs(score: float, polarity: str) -> None:
    assert PolarityCutoffs().polarity(score) == polarity


def test_custom_cutoffs() -> None:
    cutoffs = PolarityCutoffs(negative_below=0.2, positive_from=0.9)
    assert cutoffs.polarity(0.19) == "negative"
    assert cutoffs.polarity(0.3) == "neutral"
    assert cutoffs.polarity(0.89) == "neutral"
    assert cutoffs.polarity(0.9) == "positive"


@functools.cache
def scorer() -> SnowNLPScorer:
    return SnowNLPScorer()


def test_scorer_name() -> None:
    assert scorer().name == "snownlp"


def test_no_tokens_is_exactly_neutral() -> None:
    assert scorer().score([]) == 0.5


@pytest.mark.parametrize(
    "text",
    ["快递三天没到，客服也不理人", "APP一打开就闪退，更新了也没用，根本下不了单",
     "客服态度太差了，问了三遍都在敷衍，最后直接挂电话"],
)
def test_clear_complaints_score_low(text: str) -> None:
    score = scorer().score(tokenize(normalize(text)))
    assert 0.0 <= score < 0.1


def test_scores_are_probabilities() -> None:
    for text in ("很好用，物流也快，好评！", "一般般", "太差了", "请问几点关门"):
        assert 0.0 <= scorer().score(tokenize(text)) <= 1.0
