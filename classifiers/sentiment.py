"""Sentiment (情感): the probability that a text is positive.

The shipped scorer is :class:`LinearSentimentModel`: a logistic model over binary features
of the pipeline's own jieba tokens — words, word bigrams, words in the scope of a negation
(不好, 不太满意, 没有想象中好) — and character bigrams and trigrams, which carry intensity
(太差, 非常好, !!!) and survive segmentation mistakes. Its raw score is Platt-calibrated on
categories held out in training, so that 0.5 is a meaningful cut on a domain the model has
not seen. Scoring is a dictionary lookup per feature, in pure Python.

snownlp's stock model stays selectable (:class:`SnowNLPScorer`) for comparison. Train the
model with ``vocwatch train-sentiment`` (see docs/classifiers.md); the polarity cut-offs
(negative / neutral / positive, per channel) are :mod:`classifiers.polarity`.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise, repeat
from pathlib import Path
from typing import Any, Protocol

from vocwatch.errors import ConfigError

DEFAULT_MODEL_FILE = Path(__file__).resolve().parent / "data" / "sentiment.json.gz"
MODEL_FORMAT = 1

#: Words that negate what follows them (否定词), up to the end of the clause.
NEGATORS = frozenset(
    {
        "不",
        "没",
        "没有",
        "无",
        "别",
        "未",
        "非",
        "不是",
        "不太",
        "不够",
        "不怎么",
        "不大",
        "毫不",
        "并不",
        "并没有",
        "绝不",
        "从不",
        "从来不",
        "不会",
        "不能",
        "无法",
        "难以",
        "不要",
        "不用",
        "不再",
        "没什么",
        "不算",
        "谈不上",
        "算不上",
        "称不上",
        "不至于",
    }
)
CLAUSE_END = frozenset(",.!?;:~…，。！？；：、")


def sentiment_features(
    tokens: Sequence[str], text: str, *, negation_scope: int = 3, chars: bool = True
) -> set[str]:
    """The binary features of one text: ``w:`` words, ``b:`` word bigrams, ``n:`` words
    within ``negation_scope`` words after a negator in the same clause, ``c:``/``t:``
    character bigrams and trigrams of the normalized text."""
    # String concatenation, not f-strings: this runs for every event and is measurably faster.
    features = {"w:" + t for t in tokens}
    features.update(["b:" + a + "_" + b for a, b in pairwise(tokens)])
    scope = 0
    for token in tokens:
        if token in CLAUSE_END:
            scope = 0
        elif token in NEGATORS:
            scope = negation_scope
        elif scope:
            features.add("n:" + token)
            scope -= 1
    if chars:
        features.update(["c:" + text[i : i + 2] for i in range(len(text) - 1)])
        features.update(["t:" + text[i : i + 3] for i in range(len(text) - 2)])
    return features


class SentimentScorer(Protocol):
    @property
    def name(self) -> str: ...

    def score(self, tokens: Sequence[str], text: str) -> float:
        """Probability in [0, 1] that ``text`` (normalized; ``tokens`` are its jieba
        tokens) is positive."""


@dataclass(frozen=True)
class LinearSentimentModel:
    """Calibrated logistic model over :func:`sentiment_features`.

    The raw score is ``bias + Σ weight(f) / √n`` over the text's ``n`` distinct features
    (features without a weight count in ``n``: training normalizes the same way), and the
    probability is ``sigmoid(scale × raw + offset)``.
    """

    weights: Mapping[str, float]
    bias: float
    scale: float = 1.0
    offset: float = 0.0
    negation_scope: int = 3
    chars: bool = True
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    name: str = "vocwatch-linear"

    def raw(self, tokens: Sequence[str], text: str) -> float:
        features = sentiment_features(
            tokens, text, negation_scope=self.negation_scope, chars=self.chars
        )
        if not features:
            return self.bias
        total = sum(map(self.weights.get, features, repeat(0.0)))
        return self.bias + total / math.sqrt(len(features))

    def score(self, tokens: Sequence[str], text: str) -> float:
        z = self.scale * self.raw(tokens, text) + self.offset
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    # --- the model file --------------------------------------------------------------
    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_FILE) -> LinearSentimentModel:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as file:
                data = json.load(file)
            if data.get("format") != MODEL_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {MODEL_FORMAT}")
            return cls(
                weights=data["weights"],
                bias=float(data["bias"]),
                scale=float(data["calibration"]["scale"]),
                offset=float(data["calibration"]["offset"]),
                negation_scope=int(data["features"]["negation_scope"]),
                chars=bool(data["features"]["chars"]),
                meta=data.get("meta", {}),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"not a usable sentiment model ({exc}); retrain it with `vocwatch train-sentiment`",
                source=str(path),
            ) from exc

    def save(self, path: Path) -> None:
        data = {
            "format": MODEL_FORMAT,
            "bias": self.bias,
            "calibration": {"scale": self.scale, "offset": self.offset},
            "features": {"negation_scope": self.negation_scope, "chars": self.chars},
            "meta": dict(self.meta),
            "weights": dict(self.weights),
        }
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as file:
            json.dump(data, file, ensure_ascii=False, separators=(",", ":"))


class SnowNLPScorer:
    """snownlp's stock model, as ``SnowNLP(text).sentiments`` computes it (its own
    segmenter and naive-Bayes model): kept for comparison, about 30× slower."""

    name = "snownlp"

    def __init__(self) -> None:
        from snownlp import SnowNLP  # loading the model takes ~1 s: only when chosen

        self._snownlp = SnowNLP

    def score(self, tokens: Sequence[str], text: str) -> float:
        return float(self._snownlp(text).sentiments) if text.strip() else 0.5


def load_scorer(name: str = "vocwatch-linear", path: Path = DEFAULT_MODEL_FILE) -> SentimentScorer:
    """The scorer called ``name``: ``vocwatch-linear`` (shipped model) or ``snownlp``."""
    if name == "snownlp":
        return SnowNLPScorer()
    if name == "vocwatch-linear":
        return LinearSentimentModel.load(path)
    raise ConfigError(
        f"unknown sentiment model {name!r}; use vocwatch-linear or snownlp",
        source="VOCWATCH_SENTIMENT_MODEL",
    )
