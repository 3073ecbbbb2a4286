"""What a text is about, for the clustering of emerging topics (新问题): a sparse weighted
vector of its words, and a signature that finds its near-duplicates. Pure, in memory.

**Features.** A text's features are its content words — the words the explanations count
(:mod:`alerts.explain`: no channel boilerplate, greetings, function words, numbers, masking
placeholders or emoticon codes; ``alerts/explain_stopwords.txt``) of two characters or
more — the two-character words inside a short compound that the prior knows as words
(信号 in 没信号 and 手机信号; :data:`INNER_WORDS`), weighing :data:`INNER_WEIGHT` of the
word standing alone — and those of their
Chinese characters that are rare in customer-service texts (in
less than :data:`alerts.emerging_prior.RARE_SHARE` of the prior's texts), so that 霉斑,
霉点 and 发霉 share 霉 and 臭虫 meets 虫子, while 头 (头发, 头皮, 里头) or 服 (客服,
服务, 衣服) link nothing. Only the first :data:`MAX_TOKENS` tokens count: a long call
transcript costs no more than a complaint. Each feature counts once per text.

**Weights.** A feature weighs its inverse document frequency (IDF) among the texts this
worker clustered before the current step of :data:`DF_STEP_SECONDS` (the texts of a burst do
not make its new words common while it grows; older steps weigh less, halving every
:data:`DF_HALF_LIFE_SECONDS`), counted in :data:`SLOTS` counters indexed by the feature's
CRC-32 (bounded memory, no dictionary per feature; two features that share a counter are
rare and then weigh alike), smoothed with a prior
(:class:`alerts.emerging_prior.EmergingPrior`: document frequencies of customer-service texts,
packaged), so that a worker that started a minute ago already knows that 质量 and 快递
say little and 霉斑 a lot::

    idf(f) = ln((N + M + 1) / (df(f) + M × prior_share(f) + 1)) + 1

with N texts seen (decayed alike), df(f) of them with f, M the prior's weight in texts, and
the text itself counted once.
The vector is L2-normalised: the cosine of two texts is the dot product of their vectors.
A batch of texts is weighed in a handful of numpy operations (:meth:`TopicVectorizer.vectors`):
the only Python loop is the one over a text's tokens.

**Near-duplicates.** A text's signature is a MinHash of its feature set (:data:`SIGNATURE_SIZE`
minima of the features' CRC-32s, each under its own XOR mask): two texts whose signatures
agree in :data:`NEAR_DUPLICATE_AGREEMENT` places have about that share of their features in
common (a copied post with a phone number or an emoji changed). The hashes are CRC-32,
not Python's salted string hash, so that the same texts give the same clusters in every run.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, islice
from operator import eq
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from alerts.emerging_prior import EmergingPrior
from alerts.explain import VOCABULARY, TermVocabulary

MAX_TOKENS = 80
# The two-character words inside compounds of three or four characters (信号 in 没信号 and
# 手机信号) raise the recall of the evaluation (docs/alerts.md); at full weight they also
# linked the demo's new problem to ordinary complaints sharing a word with it (更新 in
# 物流信息更新), at half weight no longer.
INNER_WORDS = True
INNER_WORDS_OF = 4  # characters at most of such a compound (a longer one is a name: 扫地机器人)
# How much an inner word weighs against the same word standing alone (its IDF × this).
INNER_WEIGHT = 0.5
_INNER = "\x01"  # marks an inner word among a token's features
MAX_CACHED_TOKENS = 100_000
SLOT_BITS = 20
SLOTS = 1 << SLOT_BITS  # document-frequency counters (three arrays of 4 MB)
DF_HALF_LIFE_SECONDS = 3600
DF_STEP_SECONDS = 600
# The IDF reads the counts settled when the texts seen since have grown by this share and
# number (or a step began): a burst's words do not turn common while it grows.
SETTLE_SHARE = 0.05
SETTLE_TEXTS = 50
SIGNATURE_SIZE = 4
NEAR_DUPLICATE_AGREEMENT = 3  # of SIGNATURE_SIZE minima: Jaccard about 0.75 or more
# Fixed, arbitrary 32-bit masks: one "permutation" of the hashes each.
_MASKS = (0x9E3779B9, 0x85EBCA6B, 0xC2B2AE35, 0x27D4EB2F)
_SIGNATURE_MASKS = np.array(_MASKS[:SIGNATURE_SIZE], dtype=np.uint32)

Floats = npt.NDArray[np.float64]
Counts = npt.NDArray[np.float32]
Indices = npt.NDArray[np.intp]


def _is_cjk(character: str) -> bool:
    return "\u4e00" <= character <= "\u9fff"


class TokenFeatures(dict[str, tuple[str, ...]]):
    """token → the features it brings (none, or the word, the shorter words inside it that
    ``word`` accepts — 信号 in 没信号 and 手机信号 — and its Chinese characters
    ``character`` accepts: all by default), worked out once per token; at most
    ``max_cached`` tokens are remembered."""

    def __init__(
        self,
        vocabulary: TermVocabulary,
        *,
        character: Callable[[str], bool] | None = None,
        word: Callable[[str], bool] | None = None,
        max_cached: int = MAX_CACHED_TOKENS,
    ) -> None:
        super().__init__()
        self.vocabulary = vocabulary
        self.character = character or (lambda _: True)
        self.word = word
        self.max_cached = max_cached
        self.characters: dict[str, bool] = {}  # Chinese character → whether it is a feature

    def __missing__(self, token: str) -> tuple[str, ...]:
        features: tuple[str, ...] = ()
        if self.vocabulary.weight(token) >= 2:
            features = (token, *(_INNER + word for word in self._inner_words(token)))
            if len(token) > 1:
                characters = self.characters
                for c in token:
                    if c not in characters:
                        characters[c] = _is_cjk(c) and self.character(c)
                features += tuple(dict.fromkeys(c for c in token if characters[c]))
        if len(self) >= self.max_cached:
            self.clear()  # bounded; the frequent tokens are back at once
        self[token] = features
        return features

    def _inner_words(self, token: str) -> list[str]:
        word = self.word
        if word is None or not 3 <= len(token) <= INNER_WORDS_OF or not all(map(_is_cjk, token)):
            return []
        return [
            inner
            for begin in range(len(token) - 1)
            if word(inner := token[begin : begin + 2]) and self.vocabulary.weight(inner) >= 2
        ]

    def of(self, tokens: Iterable[str]) -> dict[str, None]:
        """The features of a text's tokens (the first :data:`MAX_TOKENS`), in the order
        they come (a dict as an ordered set: the same text, the same sums)."""
        return dict.fromkeys(self.weighed(tokens))

    def weighed(self, tokens: Iterable[str]) -> dict[str, float]:
        """The features of a text's tokens, each with its factor: 1, or
        :data:`INNER_WEIGHT` for a word found only inside a longer one."""
        features: dict[str, float] = {}
        for feature in chain.from_iterable(map(self.__getitem__, islice(tokens, MAX_TOKENS))):
            if feature[0] == _INNER:
                features.setdefault(feature[1:], INNER_WEIGHT)
            else:
                features[feature] = 1.0
        return features


class FeatureHashes(dict[str, int]):
    """feature → its CRC-32, worked out once per feature (at most ``max_cached``)."""

    def __init__(self, *, max_cached: int = MAX_CACHED_TOKENS) -> None:
        super().__init__()
        self.max_cached = max_cached

    def __missing__(self, feature: str) -> int:
        if len(self) >= self.max_cached:
            self.clear()
        value = self[feature] = zlib.crc32(feature.encode())
        return value


class TopicVector(NamedTuple):
    """A text's features with their weights (L2-normalised) and its MinHash signature."""

    weights: dict[str, float]
    signature: tuple[int, ...]


def agreement(first: Sequence[int], second: Sequence[int]) -> int:
    """In how many places two signatures agree."""
    return sum(map(eq, first, second))


def slot(feature_hash: int) -> int:
    """The document-frequency counter of a feature, from its CRC-32."""
    return feature_hash & (SLOTS - 1)


class DocumentFrequency:
    """In how many of the recent texts each feature is, and the IDF it gives with the prior.

    New texts are counted ``fresh``; the IDF reads the ``settled`` counts, which take the fresh
    ones when those have grown by :data:`SETTLE_SHARE` and :data:`SETTLE_TEXTS` (minutes of
    traffic once a worker has run a while, seconds after a start) or a step of
    ``step_seconds`` began: a burst of texts with a new word does not make that word common,
    and its texts less alike, while it grows. A text's weight halves every
    ``half_life_seconds`` (in steps). Features are counted in :data:`SLOTS` counters indexed
    by their CRC-32."""

    def __init__(
        self,
        prior: EmergingPrior,
        *,
        half_life_seconds: float = DF_HALF_LIFE_SECONDS,
        step_seconds: float = DF_STEP_SECONDS,
    ) -> None:
        self.prior = prior
        self.half_life_seconds = half_life_seconds
        self.step_seconds = step_seconds
        self.settled: Counts = np.zeros(SLOTS, np.float32)
        self.fresh: Counts = np.zeros(SLOTS, np.float32)
        self.settled_documents = 0.0
        self.fresh_documents = 0
        self.step: int | None = None
        # M × prior share of every counter: an unseen feature is half a prior text.
        scale = prior.weight / (prior.documents + 1)
        self.prior_counts: Counts = np.full(SLOTS, 0.5 * scale, np.float32)
        if prior.frequencies:
            np.add.at(
                self.prior_counts,
                _slots([zlib.crc32(f.encode()) for f in prior.frequencies]),
                np.fromiter(prior.frequencies.values(), np.float32) * np.float32(scale),
            )

    def add(self, features: Iterable[str], at: float) -> None:
        """Count one text's features (each once)."""
        hashes = [zlib.crc32(f.encode()) for f in dict.fromkeys(features)]
        self.add_texts(_slots(hashes), np.array([len(hashes)]), np.array([at]))

    def add_texts(self, slots: Indices, lengths: Indices, times: Floats) -> None:
        """Count a batch of texts: text i has the ``lengths[i]`` next counters of ``slots``
        and came at ``times[i]``."""
        steps = (times // self.step_seconds).astype(np.int64)
        ends = np.cumsum(lengths)
        # Runs of texts in one step: the steps move on between runs, never back.
        cuts = [*np.flatnonzero(np.diff(steps)) + 1, len(steps)]
        begin = 0
        for cut in cuts:
            self._advance(int(steps[begin]))
            first = int(ends[begin - 1]) if begin else 0
            np.add.at(self.fresh, slots[first : int(ends[cut - 1])], 1.0)
            self.fresh_documents += cut - begin
            begin = cut
            if self.fresh_documents > self.settled_documents * SETTLE_SHARE + SETTLE_TEXTS:
                self._settle(1.0)

    def _advance(self, step: int) -> None:
        """A new step: every count decays, the fresh ones settle."""
        if self.step is None:
            self.step = step
        if step > self.step:
            self._settle(0.5 ** ((step - self.step) * self.step_seconds / self.half_life_seconds))
            self.step = step

    def _settle(self, decay: float) -> None:
        if decay != 1.0:
            self.settled *= np.float32(decay)
        self.settled += self.fresh * np.float32(decay)
        self.settled_documents = (self.settled_documents + self.fresh_documents) * decay
        self.fresh[:] = 0.0
        self.fresh_documents = 0

    def idfs(self, slots: Indices) -> Floats:
        """The IDF of the features in ``slots``, from the settled counts."""
        # + 1: the text weighed counts itself (a word seen once is not infinitely telling).
        denominator = self.settled[slots].astype(np.float64) + self.prior_counts[slots] + 1.0
        result: Floats = np.log((self.settled_documents + self.prior.weight + 1.0) / denominator)
        return result + 1.0

    def idf(self, feature: str) -> float:
        return float(self.idfs(_slots([zlib.crc32(feature.encode())]))[0])

    def count(self, feature: str) -> float:
        """The feature's document frequency, settled (decayed) and fresh."""
        index = slot(zlib.crc32(feature.encode()))
        return float(self.settled[index] + self.fresh[index])

    @property
    def documents(self) -> float:
        return self.settled_documents + self.fresh_documents


def _slots(hashes: Sequence[int]) -> Indices:
    return np.array(hashes, dtype=np.intp) & (SLOTS - 1)


class TopicVectorizer:
    """Texts' tokens → :class:`TopicVector`; every text vectorised counts in the
    document frequencies."""

    def __init__(self, prior: EmergingPrior, vocabulary: TermVocabulary = VOCABULARY) -> None:
        self.token_features = TokenFeatures(
            vocabulary, character=prior.rare, word=prior.known if INNER_WORDS else None
        )
        self.hashes = FeatureHashes()
        self.frequencies = DocumentFrequency(prior)

    def vector(self, tokens: Iterable[str], at: float) -> TopicVector | None:
        """The text's vector, None when it has no content word."""
        return self.vectors([(tokens, at)])[0]

    def vectors(self, texts: Sequence[tuple[Iterable[str], float]]) -> list[TopicVector | None]:
        """The vectors of a batch of texts (tokens, time), None for a text without content
        words. The batch counts in the document frequencies before it is weighed."""
        weighed = self.token_features.weighed
        feature_sets = [weighed(tokens) for tokens, _ in texts]
        flat = list(chain.from_iterable(feature_sets))
        if not flat:
            return [None] * len(texts)
        lengths = np.fromiter(map(len, feature_sets), np.intp, len(feature_sets))
        hashes = np.fromiter(map(self.hashes.__getitem__, flat), np.uint32, len(flat))
        slots = hashes.astype(np.intp) & (SLOTS - 1)
        times = np.fromiter((at for _, at in texts), np.float64, len(texts))
        self.frequencies.add_texts(slots, lengths, times)
        idf = self.frequencies.idfs(slots)
        if INNER_WORDS:
            factors = chain.from_iterable(f.values() for f in feature_sets)
            idf = idf * np.fromiter(factors, np.float64, len(flat))
        filled = lengths[lengths > 0]
        starts = np.cumsum(filled) - filled
        norms = np.sqrt(np.add.reduceat(idf * idf, starts))
        weights = (idf / np.repeat(norms, filled)).tolist()
        signatures = np.minimum.reduceat(
            hashes[:, None] ^ _SIGNATURE_MASKS[None, :], starts, axis=0
        ).tolist()
        vectors: list[TopicVector | None] = []
        position = row = 0
        for features in feature_sets:
            if not features:
                vectors.append(None)
                continue
            end = position + len(features)
            vectors.append(
                TopicVector(
                    dict(zip(flat[position:end], weights[position:end], strict=True)),
                    tuple(signatures[row]),
                )
            )
            position, row = end, row + 1
        return vectors
