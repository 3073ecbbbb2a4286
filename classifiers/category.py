"""Issue categories (问题分类): multi-label, each with a probability.

The taxonomy is :class:`vocwatch.vocabulary.Category` (table and labelling rules:
docs/labelling.md). The shipped model (``data/categories.npz``) has one head per category,
``other`` included: a one-vs-rest logistic regression over the batch features of
:mod:`classifiers.features` — words, word pairs, characters and character pairs, the category
lexicon's groups and the teacher's word table — trained on the project's labelled texts of
many industries and calibrated on industries held out in training.

:func:`decide` turns the probabilities into the answer: the most probable category first,
then any other at or above :data:`THRESHOLD`, at most :data:`MAX_CATEGORIES`; ``other`` only
ever comes alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers.features import F32
from classifiers.model import TextModel
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import CATEGORY_NAMES_ZH, Category

MODEL_FILE = Path(__file__).resolve().parent / "data" / "categories.npz"
CATEGORIES: tuple[Category, ...] = tuple(Category)
THRESHOLD = 0.4
MAX_CATEGORIES = 3

__all__ = ["CATEGORIES", "CATEGORY_NAMES_ZH", "CategoryScore", "decide", "load_model"]


@dataclass(frozen=True)
class CategoryScore:
    code: Category
    score: float  # probability, rounded to 3 places


def load_model(path: Path = MODEL_FILE, *, into: F32 | None = None) -> TextModel:
    model = TextModel.load(path, task="categories", into=into)
    if model.heads.names != tuple(c.value for c in CATEGORIES):
        raise ConfigError(
            f"the model's categories {model.heads.names} are not {[c.value for c in CATEGORIES]}",
            source=str(path),
        )
    return model


def decide(probabilities: F32) -> list[tuple[CategoryScore, ...]]:
    """Per row of ``probabilities`` (rows × categories, in :data:`CATEGORIES` order), the
    categories that fit, best first."""
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :MAX_CATEGORIES].tolist()
    scores = np.round(probabilities.astype(np.float64), 3).tolist()  # float32 would not round
    other = CATEGORIES.index(Category.OTHER)
    answers = []
    for ranked, row in zip(order, scores, strict=True):
        top = ranked[0]
        chosen = [CategoryScore(CATEGORIES[top], row[top])]
        if top != other:
            for index in ranked[1:]:
                if row[index] < THRESHOLD:
                    break
                if index != other:
                    chosen.append(CategoryScore(CATEGORIES[index], row[index]))
        answers.append(tuple(chosen))
    return answers
