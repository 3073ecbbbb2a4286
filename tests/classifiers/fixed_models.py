"""Text models with fixed answers, for tests of what the analysis does with the models'
probabilities (polarity cut-offs, priority, records, model folders).

They are real :class:`~classifiers.model.TextModel` objects, saved and loaded like the
shipped ones, whose hashed and dense weights are zero: every text gets the probabilities
that the heads' biases give."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from classifiers.analyze import Models, featurizer_for_training
from classifiers.category import CATEGORIES
from classifiers.features import FeatureConfig
from classifiers.model import Heads, TextModel
from classifiers.sentiment import HEADS
from vocwatch.vocabulary import Category

CONFIG = FeatureConfig(bits=10)
#: Every category unlikely but ``other``: a text of no category.
NO_CATEGORY: Mapping[Category, float] = {Category.OTHER: 0.9}


def logit(probability: float) -> float:
    return math.log(probability / (1.0 - probability))


@functools.cache
def dense_columns() -> tuple[str, ...]:
    return featurizer_for_training(CONFIG, teacher=False).dense_columns


def fixed_model(task: str, heads: Mapping[str, float], version: str) -> TextModel:
    """A model of ``task`` whose heads give these probabilities to every text."""
    dense = dense_columns()
    names = tuple(heads)
    count = len(names)
    return TextModel(
        task,
        Heads(
            names,
            np.zeros((1 << CONFIG.bits, count), dtype=np.float32),
            np.zeros((len(dense), count), dtype=np.float32),
            np.array([logit(heads[name]) for name in names], dtype=np.float32),
            np.ones(count, dtype=np.float32),
            np.zeros(count, dtype=np.float32),
        ),
        CONFIG,
        dense,
        {"version": version},
    )


def fixed_sentiment(negative: float, neutral: float, positive: float) -> TextModel:
    """Every text negative, neutral and positive with these probabilities (sum 1)."""
    assert math.isclose(negative + neutral + positive, 1.0), "probabilities sum to 1"
    polar = positive / (positive + negative)
    return fixed_model(
        "sentiment", dict(zip(HEADS, (polar, neutral), strict=True)), "sentiment-fixed"
    )


def fixed_categories(probabilities: Mapping[Category, float] = NO_CATEGORY) -> TextModel:
    """Every text of each category with its probability here (0.01 if not named)."""
    return fixed_model(
        "categories",
        {code.value: probabilities.get(code, 0.01) for code in CATEGORIES},
        "categories-fixed",
    )


def fixed_models(
    negative: float = 0.2,
    neutral: float = 0.6,
    positive: float = 0.2,
    categories: Mapping[Category, float] = NO_CATEGORY,
) -> Models:
    return Models.load(fixed_sentiment(negative, neutral, positive), fixed_categories(categories))


def write_model_dir(directory: Path, negative: float, neutral: float, positive: float) -> Path:
    """A model folder as ``VOCWATCH_MODEL_DIR`` and ``classify --model-dir`` take it."""
    fixed_sentiment(negative, neutral, positive).save(directory / "sentiment.npz")
    fixed_categories().save(directory / "categories.npz")
    return directory
