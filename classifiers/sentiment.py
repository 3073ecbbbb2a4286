"""Sentiment (情感): probability that a text is positive, and its polarity.

The scorer here is snownlp's naive-Bayes model applied to *our* jieba tokens (snownlp's own
segmenter is slow and splits domain words). It is a baseline: the trained domain model of
a later issue plugs in behind the same :class:`SentimentScorer` protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class SentimentScorer(Protocol):
    name: str

    def score(self, tokens: Sequence[str]) -> float:
        """Probability in [0, 1] that the text these tokens come from is positive."""


class SnowNLPScorer:
    """snownlp's stock naive-Bayes sentiment model, fed with jieba tokens."""

    name = "snownlp"

    def __init__(self) -> None:
        from snownlp import normal, sentiment  # imported late: loading the model takes ~1 s

        self._classify = sentiment.classifier.classifier.classify
        self._filter_stop = normal.filter_stop

    def score(self, tokens: Sequence[str]) -> float:
        words = self._filter_stop(list(tokens))
        if not words:
            return 0.5
        label, probability = self._classify(words)
        return float(probability if label == "pos" else 1.0 - probability)


@dataclass(frozen=True)
class PolarityCutoffs:
    """Scores below ``negative_below`` are negative, at or above ``positive_from`` positive,
    anything between is neutral."""

    negative_below: float = 0.4
    positive_from: float = 0.6

    def polarity(self, score: float) -> str:
        if score < self.negative_below:
            return "negative"
        if score >= self.positive_from:
            return "positive"
        return "neutral"
