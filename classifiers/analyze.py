"""The whole text analysis of a batch of events (批量分析): normalize → mask personal data →
cut into words → features (one sparse matrix for the batch) → sentiment and categories
(one multiplication for both models) → priority with its reasons.

:meth:`Analyzer.analyze_batch` is what the worker's analysis process and ``vocwatch
classify`` call; :meth:`Analyzer.analyze` is the batch of one. The models and tables are
loaded once per process (about a second, most of it the tokenizer's dictionary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers import category as categories_module
from classifiers import sentiment as sentiment_module
from classifiers.category import CategoryScore, decide
from classifiers.features import F32, FeatureConfig, Featurizer, TermTable, load_emoticons
from classifiers.lexicon import Lexicon
from classifiers.model import Heads, TextModel, sharing, stack, weights_shape
from classifiers.normalize import normalize_batch
from classifiers.pii import mask_pii, without_placeholders
from classifiers.polarity import PolarityPolicy
from classifiers.priority import Priority, PriorityPolicy, Signals
from classifiers.sentiment import NEGATIVE, POSITIVE, SnowNLPScorer, scores, three_way
from classifiers.teacher import load_word_table
from classifiers.tokenize import cut_all, warm_up, words
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Category, Polarity

SENTIMENT_MODELS = ("vocwatch", "snownlp")


@dataclass(frozen=True)
class Analysis:
    text: str  # normalized and PII-masked: safe to publish
    tokens: tuple[str, ...]  # its words (no white space or neutral punctuation)
    pii: tuple[str, ...]  # kinds of personal data that were masked
    sentiment: float  # P(positive) + P(neutral) / 2, [0, 1]
    polarity: Polarity  # from the probabilities, by the cut-offs of the channel
    categories: tuple[CategoryScore, ...]  # best first, never empty
    priority: Priority
    probabilities: tuple[float, float, float] = (0.0, 1.0, 0.0)  # negative, neutral, positive

    @property
    def category(self) -> Category:
        return self.categories[0].code

    @property
    def negative(self) -> bool:
        return self.polarity == Polarity.NEGATIVE


@dataclass(frozen=True)
class Models:
    """The loaded models and the featurizer they were trained with."""

    sentiment: TextModel
    categories: TextModel
    featurizer: Featurizer
    heads: Heads  # both models' heads stacked: one multiplication per batch

    @classmethod
    def load(
        cls, sentiment: TextModel | None = None, categories: TextModel | None = None
    ) -> Models:
        """Models given in memory (a training run's), or else the packaged ones."""
        if sentiment is None and categories is None:
            return cls.load_files(sentiment_module.MODEL_FILE, categories_module.MODEL_FILE)
        sentiment = sentiment or sentiment_module.load_model()
        categories = categories or categories_module.load_model()
        heads = stack([sentiment, categories])
        sentiment, categories = sharing([sentiment, categories], heads)
        return cls(sentiment, categories, featurizer_for(sentiment), heads)

    @classmethod
    def load_files(cls, sentiment_file: Path, categories_file: Path) -> Models:
        """The models of two files, their hashed weights read straight into one stacked
        array: loading takes the memory of the weights once (about 19 MB at 2¹⁹ columns),
        not three times over (each model's own, then the stack), which was the analysis
        process's peak."""
        rows, polar = weights_shape(sentiment_file)
        _, count = weights_shape(categories_file)
        weights = np.empty((rows, polar + count), np.float32)
        sentiment = sentiment_module.load_model(sentiment_file, into=weights[:, :polar])
        categories = categories_module.load_model(categories_file, into=weights[:, polar:])
        heads = stack([sentiment, categories], weights)
        return cls(sentiment, categories, featurizer_for(sentiment), heads)

    @classmethod
    def load_from(cls, directory: Path) -> Models:
        """The models of a folder (``sentiment.npz``, ``categories.npz``, as the training
        tools' ``--out`` write them); a ConfigError naming the folder if it cannot be used."""
        if not directory.is_dir():
            raise ConfigError(
                "is not a folder of models (sentiment.npz, categories.npz)", source=str(directory)
            )
        return cls.load_files(
            directory / sentiment_module.MODEL_FILE.name,
            directory / categories_module.MODEL_FILE.name,
        )

    @property
    def version(self) -> str:
        """The models' versions, e.g. ``sentiment-2026-12-06+categories-2026-12-06``."""
        return f"{self.sentiment.version}+{self.categories.version}"


def featurizer_for_training(config: FeatureConfig, *, teacher: bool) -> Featurizer:
    """A featurizer with the packaged lexicon and emoticons, and the teacher's word table
    when ``teacher``."""
    return Featurizer(
        config,
        lexicon=TermTable.from_lexicon(Lexicon.load()),
        teacher=load_word_table()[0] if teacher else None,
        emoticons=load_emoticons(),
    )


def featurizer_for(model: TextModel) -> Featurizer:
    """The featurizer a model was trained with: its configuration, and the lexicon and the
    teacher's word table if its dense columns name them."""
    teacher = any(column.startswith("teacher:") for column in model.dense_columns)
    featurizer = featurizer_for_training(model.features, teacher=teacher)
    if featurizer.dense_columns != model.dense_columns:
        raise ConfigError(
            f"the {model.task} model was trained with other dense features "
            f"({', '.join(model.dense_columns)}) than this version has "
            f"({', '.join(featurizer.dense_columns)}): retrain it (the lexicon's groups, or "
            "the teacher's word table, changed)"
        )
    return featurizer


_POLARITIES = (Polarity.NEGATIVE, Polarity.NEUTRAL, Polarity.POSITIVE)


def polarities_of(
    probabilities: F32, negative_from: np.ndarray, positive_from: np.ndarray
) -> list[Polarity]:
    """Per row, :meth:`classifiers.polarity.Cutoffs.polarity` of its probabilities."""
    negative = probabilities[:, NEGATIVE]
    positive = probabilities[:, POSITIVE]
    is_negative = negative >= negative_from
    is_positive = positive >= positive_from
    chosen = np.where(
        is_negative & (~is_positive | (negative >= positive)), 0, np.where(is_positive, 2, 1)
    )
    return [_POLARITIES[c] for c in chosen.tolist()]


class Analyzer:
    """Holds the models (built once per process) and analyses batches of texts with them."""

    def __init__(
        self,
        models: Models | None = None,
        *,
        policy: PriorityPolicy | None = None,
        polarity: PolarityPolicy | None = None,
        sentiment_model: str = "vocwatch",
    ) -> None:
        if sentiment_model not in SENTIMENT_MODELS:
            raise ValueError(f"sentiment model {sentiment_model!r}: one of {SENTIMENT_MODELS}")
        warm_up()
        self.models = models or Models.load()
        self.policy = policy or PriorityPolicy.load()
        self.polarity = polarity or PolarityPolicy.load()
        self.snownlp = SnowNLPScorer() if sentiment_model == "snownlp" else None

    @property
    def model_name(self) -> str:
        """What the scored records' ``sentiment.model`` says."""
        return "snownlp" if self.snownlp else self.models.version

    def analyze(
        self, text: str, signals: Signals | None = None, *, channel: str | None = None
    ) -> Analysis:
        """Analyse one text; ``channel`` (hotline … social, None for the default) picks the
        polarity cut-offs. ValueError for an unknown channel, before any work."""
        return self.analyze_batch([text], [signals], [channel])[0]

    def analyze_batch(
        self,
        texts: Sequence[str],
        signals: Sequence[Signals | None] | None = None,
        channels: Sequence[str | None] | None = None,
    ) -> list[Analysis]:
        """Analyse texts together (one feature matrix, one multiplication), each with its
        signals and channel. ValueError for an unknown channel, before any work."""
        count = len(texts)
        signals = signals if signals is not None else [None] * count
        channels = channels if channels is not None else [None] * count
        cutoffs = [self.polarity.cutoffs(channel) for channel in channels]
        masked = [mask_pii(text) for text in normalize_batch(texts)]
        clean = [m.text for m in masked]
        readable = [without_placeholders(text) for text in clean]
        pieces = cut_all(readable)
        models = self.models
        heads = models.heads
        probabilities = heads.calibrated(heads.raw(models.featurizer.transform(readable, pieces)))
        n_sentiment = len(models.sentiment.heads.names)
        if self.snownlp is not None:
            polarities = self.snownlp.probabilities(clean)
        else:
            polarities = three_way(probabilities[:, 0], probabilities[:, 1])
        # rounded in float64: a float32 rounded to 4 places is 0.05000000074505806 as JSON
        sentiment = np.round(scores(polarities).astype(np.float64), 4).tolist()
        negative_from = np.array([c.negative_from for c in cutoffs])
        positive_from = np.array([c.positive_from for c in cutoffs])
        polarity = polarities_of(polarities, negative_from, positive_from)
        categories = decide(probabilities[:, n_sentiment:])
        rounded = np.round(polarities.astype(np.float64), 4).tolist()
        no_signals = Signals()
        analyses = []
        for i in range(count):
            analyses.append(
                Analysis(
                    text=clean[i],
                    tokens=tuple(words(pieces[i])),
                    pii=masked[i].kinds,
                    sentiment=sentiment[i],
                    polarity=polarity[i],
                    categories=categories[i],
                    priority=self.policy.assess(
                        clean[i], categories[i][0].code, sentiment[i], signals[i] or no_signals
                    ),
                    probabilities=tuple(rounded[i]),
                )
            )
        return analyses
