"""Sentiment (情感): for each text, how likely it is negative, neutral and positive.

The shipped model (``vocwatch``, ``data/sentiment.npz``) has two heads over the batch
features of :mod:`classifiers.features`, each a logistic regression calibrated on domains
held out in training:

* ``neutral`` — is the text neutral at all (an inquiry, a request, thanks, a plain
  statement), learned from the project's three-way labelled sets;
* ``polar`` — if it is not neutral, is it positive rather than negative, learned from every
  labelled corpus (product, hotel, restaurant, car reviews, the project's sets, social
  posts).

So ``P(neutral) = neutral``, ``P(positive) = (1 - neutral) × polar`` and ``P(negative) =
(1 - neutral) × (1 - polar)``: neutral is a class of the model itself, not a band of
uncertain scores. The sentiment score of an event is ``P(positive) + P(neutral) / 2`` (0 to
1; an inquiry sits near 0.5); its polarity comes from the probabilities and the cut-offs of
its channel (:mod:`classifiers.polarity`).

snownlp's stock model stays selectable (:class:`SnowNLPScorer`,
``VOCWATCH_SENTIMENT_MODEL=snownlp``) for comparison: its probability of positive is taken as
the whole answer (it has no neutral class).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classifiers.features import F32
from classifiers.model import TextModel

MODEL_FILE = Path(__file__).resolve().parent / "data" / "sentiment.npz"
HEADS = ("polar", "neutral")
NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2  # columns of the probabilities


def load_model(path: Path = MODEL_FILE, *, into: F32 | None = None) -> TextModel:
    return TextModel.load(path, task="sentiment", into=into)


def three_way(polar: F32, neutral: F32) -> F32:
    """``rows × 3`` probabilities (negative, neutral, positive) from the two heads'."""
    polar_share = 1.0 - neutral
    return np.column_stack([polar_share * (1.0 - polar), neutral, polar_share * polar]).astype(
        np.float32
    )


def scores(probabilities: F32) -> F32:
    """The sentiment score: ``P(positive) + P(neutral) / 2``."""
    score: F32 = probabilities[:, POSITIVE] + 0.5 * probabilities[:, NEUTRAL]
    return score


class SnowNLPScorer:
    """Stock snownlp (``SnowNLP(text).sentiments``), for comparison: about 30× slower."""

    name = "snownlp"

    def probabilities(self, texts: Sequence[str]) -> F32:
        from snownlp import SnowNLP

        positive = np.array([SnowNLP(t).sentiments if t else 0.5 for t in texts], dtype=np.float32)
        return np.column_stack([1.0 - positive, np.zeros_like(positive), positive]).astype(
            np.float32
        )
