"""The whole text analysis of one event: normalize → mask → tokenize → score → explain."""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.category import CategoryClassifier, CategoryScore
from classifiers.normalize import normalize
from classifiers.pii import mask_pii
from classifiers.polarity import PolarityPolicy
from classifiers.priority import Priority, PriorityPolicy, Signals
from classifiers.sentiment import SentimentScorer, load_scorer
from classifiers.tokenize import tokenize, warm_up
from vocwatch.vocabulary import Category, Polarity


@dataclass(frozen=True)
class Analysis:
    text: str  # normalized and PII-masked: safe to publish
    tokens: tuple[str, ...]
    pii: tuple[str, ...]  # kinds of personal data that were masked
    sentiment: float  # probability of positive, [0, 1]
    polarity: Polarity  # per channel
    categories: tuple[CategoryScore, ...]  # best first, never empty
    priority: Priority

    @property
    def category(self) -> Category:
        return self.categories[0].code

    @property
    def negative(self) -> bool:
        return self.polarity == Polarity.NEGATIVE


class Analyzer:
    """Holds the models (built once per process) and analyses texts with them."""

    def __init__(
        self,
        scorer: SentimentScorer | None = None,
        categories: CategoryClassifier | None = None,
        policy: PriorityPolicy | None = None,
        polarity: PolarityPolicy | None = None,
    ) -> None:
        warm_up()
        self.scorer = scorer or load_scorer()
        self.categories = categories or CategoryClassifier.default()
        self.policy = policy or PriorityPolicy.load()
        self.polarity = polarity or PolarityPolicy.load()

    def analyze(
        self, text: str, signals: Signals | None = None, *, channel: str | None = None
    ) -> Analysis:
        """Analyse one text; ``channel`` (hotline … social, None for the default) picks
        the polarity cut-offs. ValueError for an unknown channel, before any work."""
        cutoffs = self.polarity.cutoffs(channel)
        masked = mask_pii(normalize(text))
        tokens = tuple(tokenize(masked.text))
        sentiment = self.scorer.score(tokens, masked.text)
        categories = self.categories.classify(tokens)
        priority = self.policy.assess(
            masked.text, categories[0].code, sentiment, signals or Signals()
        )
        return Analysis(
            text=masked.text,
            tokens=tokens,
            pii=masked.kinds,
            sentiment=round(sentiment, 4),
            polarity=cutoffs.polarity(sentiment),
            categories=categories,
            priority=priority,
        )
