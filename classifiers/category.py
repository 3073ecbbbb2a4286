"""Issue categories (问题分类): multi-label with scores, from a lexicon and a learned model.

The taxonomy is :class:`vocwatch.vocabulary.Category` (table: docs/classifiers.md).
:class:`CategoryModel` is a one-vs-rest logistic regression, one weight vector per
category (``other`` included), over the features of :mod:`classifiers.category_features`:
word and character n-grams plus one lexicon score per category. It is trained offline on
``data/categories/labelled.csv`` (``vocwatch train-categories``) and shipped as
``data/category_model.json.gz``, which also carries the
lexicon it was trained with. Scoring is pure Python: a dictionary lookup per feature.

:class:`CategoryClassifier` turns the per-category probabilities into the answer: the most
probable category first, then any other category at or above ``threshold``, at most
``max_labels``; ``other`` never comes with company.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifiers.category_features import (
    FeatureSettings,
    Lexicon,
    lexicon_features,
    ngram_features,
)
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import CATEGORY_NAMES_ZH as CATEGORY_NAMES_ZH  # re-exported
from vocwatch.vocabulary import Category

CATEGORIES: tuple[Category, ...] = tuple(Category)

MODEL_FILE = Path(__file__).resolve().parent / "data" / "category_model.json.gz"
MODEL_FORMAT = "vocwatch-category-model/1"
_SMALLEST_SCORE = 0.001  # scores are rounded to 3 places and must stay above 0


@dataclass(frozen=True)
class CategoryScore:
    code: Category
    score: float


@dataclass(frozen=True)
class CategoryModel:
    """Linear one-vs-rest model: P(category | text) = sigmoid(bias + Σ weight × feature)."""

    categories: tuple[Category, ...]
    bias: tuple[float, ...]
    weights: Mapping[str, Sequence[float]]  # feature name → one weight per category
    lexicon: Lexicon
    settings: FeatureSettings
    info: Mapping[str, Any]  # how it was trained (data, sizes, figures)

    def probabilities(self, tokens: Sequence[str]) -> dict[Category, float]:
        logits = list(self.bias)
        # Every n-gram feature of a text has the same value (1/√n): sum the weight rows of
        # those present column by column (in C), then scale once. Profiled: this was 15 %
        # of a worker's time as a per-feature, per-category Python loop.
        ngrams = ngram_features(tokens, self.settings)
        rows = [row for row in map(self.weights.get, ngrams) if row is not None]
        if rows:
            value = next(iter(ngrams.values()))
            for i, column in enumerate(zip(*rows, strict=True)):
                logits[i] += value * sum(column)
        for name, value in lexicon_features(tokens, self.lexicon, self.settings).items():
            row = self.weights.get(name)
            if row is not None:
                for i, weight in enumerate(row):
                    logits[i] += weight * value
        return {code: _sigmoid(z) for code, z in zip(self.categories, logits, strict=True)}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "categories": list(self.categories),
            "bias": list(self.bias),
            "settings": self.settings.to_json(),
            "lexicon": {code: dict(terms) for code, terms in self.lexicon.terms.items()},
            "info": dict(self.info),
            "weights": {name: list(row) for name, row in self.weights.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "model") -> CategoryModel:
        if data.get("format") != MODEL_FORMAT:
            raise ConfigError(
                f"not a {MODEL_FORMAT} file (format {data.get('format')!r}); "
                "retrain with `vocwatch train-categories`",
                source=source,
            )
        codes = tuple(data["categories"])
        unknown = set(codes) - set(CATEGORIES)
        if unknown or not codes:
            raise ConfigError(f"unknown categories {sorted(unknown)}", source=source)
        categories = tuple(Category(code) for code in codes)
        width = len(categories)
        weights = {name: tuple(row) for name, row in data["weights"].items()}
        if len(data["bias"]) != width or any(len(row) != width for row in weights.values()):
            raise ConfigError(f"every weight row must have {width} entries", source=source)
        return cls(
            categories=categories,
            bias=tuple(data["bias"]),
            weights=weights,
            lexicon=Lexicon(data["lexicon"]),
            settings=FeatureSettings.from_json(data["settings"]),
            info=data.get("info", {}),
        )

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> CategoryModel:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as stream:
                data = json.load(stream)
        except (OSError, EOFError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the category model: {exc}; retrain with `vocwatch train-categories`",
                source=str(path),
            ) from exc
        try:
            return cls.from_json(data, str(path))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"malformed category model ({exc!r})", source=str(path)) from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))
        # mtime=0: the same model always gives the same bytes, so git sees real changes only.
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as stream:
            stream.write(body.encode("utf-8"))


@dataclass(frozen=True)
class CategoryClassifier:
    """Categories of a token list, best first, never empty, scores in (0, 1]."""

    model: CategoryModel
    threshold: float = 0.4  # a second or third category needs at least this probability
    max_labels: int = 3

    @classmethod
    def default(cls) -> CategoryClassifier:
        """The shipped model, loaded once per process."""
        return cls(_shipped_model())

    def classify(self, tokens: Sequence[str]) -> tuple[CategoryScore, ...]:
        probabilities = self.model.probabilities(tokens)
        ranked = sorted(
            probabilities.items(), key=lambda pair: (-pair[1], CATEGORIES.index(pair[0]))
        )
        best, best_p = ranked[0]
        chosen = [(best, best_p)]
        if best != Category.OTHER:
            chosen += [
                (code, p)
                for code, p in ranked[1:]
                if code != Category.OTHER and p >= self.threshold
            ]
        return tuple(
            CategoryScore(code, max(round(p, 3), _SMALLEST_SCORE))
            for code, p in chosen[: self.max_labels]
        )


@functools.cache
def _shipped_model() -> CategoryModel:
    return CategoryModel.load(MODEL_FILE)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
