"""Features for the issue-category (问题分类) model, shared by the runtime and the trainer.

Two sources, both computed from the token list of a normalized, masked text:

- n-grams: word unigrams and bigrams of the jieba tokens, and character n-grams of the
  tokens joined back together (they still match a word jieba segmented differently, a typo,
  or a traditional character next to simplified ones). Presence only, scaled to unit length,
  so that a long text does not outweigh a short one.
- the lexicon (词表): hand-written weighted terms per category (``data/category_lexicon.txt``).
  Each category's matched weights are summed and squashed into [0, 1) as one feature per
  category, so the learned model decides how far to trust the lexicon, while the lexicon
  still carries vocabulary that the labelled set never shows (hotel rooms, shampoo, laptops).

Pure Python: the service imports this module; numpy and scikit-learn stay in the trainer.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from vocwatch.errors import ConfigError

LEXICON_FILE = Path(__file__).resolve().parent / "data" / "category_lexicon.txt"

_SECTION = re.compile(r"^\[(?P<name>[a-z_]+)\]$")


@dataclass(frozen=True)
class Lexicon:
    """Weighted terms per category (category → term → weight), matched against a text."""

    terms: Mapping[str, Mapping[str, float]]
    _index: Mapping[str, tuple[tuple[str, float], ...]] = field(
        init=False, repr=False, compare=False
    )
    _longest: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[tuple[str, float]]] = {}
        for category, weights in self.terms.items():
            for term, weight in weights.items():
                index.setdefault(term.lower(), []).append((category, float(weight)))
        object.__setattr__(
            self, "_index", MappingProxyType({term: tuple(pairs) for term, pairs in index.items()})
        )
        object.__setattr__(self, "_longest", max(map(len, index), default=0))

    @classmethod
    def parse(cls, text: str, source: str = "lexicon") -> Lexicon:
        terms: dict[str, dict[str, float]] = {}
        section: dict[str, float] | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if header := _SECTION.match(line):
                section = terms.setdefault(header.group("name"), {})
                continue
            if section is None:
                raise ConfigError(
                    f"line {number}: a term before any [category] line", source=source
                )
            for entry in line.split():
                term, _, weight = entry.rpartition(":")
                try:
                    section[term] = float(weight)
                except ValueError:
                    raise ConfigError(
                        f"line {number}: {entry!r} is not term:weight", source=source
                    ) from None
                if not term:
                    raise ConfigError(f"line {number}: {entry!r} has no term", source=source)
        return cls(terms)

    @classmethod
    def load(cls, path: Path = LEXICON_FILE) -> Lexicon:
        return cls.parse(path.read_text(encoding="utf-8"), str(path))

    def matches(self, tokens: Sequence[str]) -> Iterator[tuple[str, str, float]]:
        """(category, term, weight) for each distinct term found in the tokens.

        Longer terms win: the text is scanned left to right for the longest term at each
        position, so 服务 inside 售后服务 or 服务费, or 还没到 inside 还没到账, do not count.
        """
        found = {
            token.lower()
            for token in tokens  # one-character terms: whole tokens only
            if len(token) == 1 and token.lower() in self._index
        }
        text = "".join(tokens).lower()
        start = 0
        while start < len(text):
            for end in range(min(start + self._longest, len(text)), start + 1, -1):
                if text[start:end] in self._index:
                    found.add(text[start:end])
                    start = end
                    break
            else:
                start += 1
        for term in sorted(found):
            for category, weight in self._index[term]:
                yield category, term, weight

    def scores(self, tokens: Sequence[str]) -> dict[str, float]:
        """Sum of matched weights per category (categories with no match are left out)."""
        totals: dict[str, float] = {}
        for category, _, weight in self.matches(tokens):
            totals[category] = totals.get(category, 0.0) + weight
        return totals


@dataclass(frozen=True)
class FeatureSettings:
    """How texts become features; stored in the model file so training and scoring agree."""

    char_ngrams: tuple[int, ...] = (1, 2, 3)
    word_bigrams: bool = True
    lexicon_scale: float = 3.0  # lexicon feature = 1 - exp(-sum of weights / scale)

    def to_json(self) -> dict[str, object]:
        return {
            "char_ngrams": list(self.char_ngrams),
            "word_bigrams": self.word_bigrams,
            "lexicon_scale": self.lexicon_scale,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> FeatureSettings:
        ngrams = data.get("char_ngrams", [1, 2, 3])
        scale = data.get("lexicon_scale", 3.0)
        if not isinstance(ngrams, list) or not isinstance(scale, int | float):
            raise ValueError("char_ngrams must be a list and lexicon_scale a number")
        return cls(
            tuple(int(n) for n in ngrams), bool(data.get("word_bigrams", True)), float(scale)
        )


def ngram_features(tokens: Sequence[str], settings: FeatureSettings) -> dict[str, float]:
    """Word and character n-grams, present or not, scaled to unit Euclidean length."""
    words = [token.lower() for token in tokens]
    names = {f"w:{word}" for word in words}
    if settings.word_bigrams:
        names.update(f"b:{a}|{b}" for a, b in itertools.pairwise(words))
    text = "".join(words)
    for n in settings.char_ngrams:
        names.update(f"c:{text[i : i + n]}" for i in range(len(text) - n + 1))
    if not names:
        return {}
    value = 1.0 / math.sqrt(len(names))
    return dict.fromkeys(names, value)


def lexicon_features(
    tokens: Sequence[str], lexicon: Lexicon, settings: FeatureSettings
) -> dict[str, float]:
    return {
        f"lex:{category}": 1.0 - math.exp(-total / settings.lexicon_scale)
        for category, total in lexicon.scores(tokens).items()
        if total > 0
    }


def extract(tokens: Sequence[str], lexicon: Lexicon, settings: FeatureSettings) -> dict[str, float]:
    """All features of one text: name → value."""
    features = ngram_features(tokens, settings)
    features.update(lexicon_features(tokens, lexicon, settings))
    return features
