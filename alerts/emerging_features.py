"""What a text is about, for the clustering of emerging topics (新问题): a sparse weighted
vector of its words, and a signature that finds its near-duplicates. Pure, in memory.

**Features.** A text's features are its content words — the words the explanations count
(:mod:`alerts.explain`: no channel boilerplate, greetings, function words, numbers, masking
placeholders or emoticon codes; ``alerts/explain_stopwords.txt``) of two characters or
more — and those of their Chinese characters that are rare in customer-service texts (in
less than :data:`alerts.emerging_prior.RARE_SHARE` of the prior's texts), so that 霉斑,
霉点 and 发霉 share 霉 and 臭虫 meets 虫子, while 头 (头发, 头皮, 里头) or 服 (客服,
服务, 衣服) link nothing. Only the first :data:`MAX_TOKENS` tokens count: a long call
transcript costs no more than a complaint. Each feature counts once per text.

**Weights.** A feature weighs its inverse document frequency (IDF) among the texts this
worker clustered over the last :data:`DF_SPAN_SECONDS`, smoothed with a prior
(:class:`alerts.emerging_prior.EmergingPrior`: document frequencies of customer-service texts,
packaged), so that a worker that started a minute ago already knows that 质量 and 快递
say little and 霉斑 a lot::

    idf(f) = ln((N + M) / (df(f) + M × prior_share(f))) + 1

with N texts seen, df(f) of them with f, and M the prior's weight in texts. The vector is
L2-normalised: the cosine of two texts is the dot product of their vectors.

**Near-duplicates.** :func:`signature` is a MinHash of the feature set (:data:`SIGNATURE_SIZE`
minima of the features' CRC-32s, each under its own XOR mask): two texts whose signatures
agree in :data:`NEAR_DUPLICATE_AGREEMENT` places have about that share of their features in
common (a copied post with a phone number or an emoji changed). The hashes are CRC-32,
not Python's salted string hash, so that the same texts give the same clusters in every run.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, islice
from typing import NamedTuple

from alerts.emerging_prior import EmergingPrior
from alerts.explain import VOCABULARY, TermVocabulary

MAX_TOKENS = 80
MAX_CACHED_TOKENS = 100_000
DF_BUCKET_SECONDS = 600
DF_SPAN_SECONDS = 7200
# The IDF cache is dropped when the texts seen have grown by this share and number (or a
# bucket left): the weights follow the traffic without a logarithm per feature and text.
IDF_REFRESH_SHARE = 0.05
IDF_REFRESH_TEXTS = 50
SIGNATURE_SIZE = 4
NEAR_DUPLICATE_AGREEMENT = 3  # of SIGNATURE_SIZE minima: Jaccard about 0.75 or more
# Fixed, arbitrary 32-bit masks: one "permutation" of the hashes each.
_MASKS = (0x9E3779B9, 0x85EBCA6B, 0xC2B2AE35, 0x27D4EB2F)


def _is_cjk(character: str) -> bool:
    return "\u4e00" <= character <= "\u9fff"


class TokenFeatures(dict[str, tuple[str, ...]]):
    """token → the features it brings (none, or the word and those of its Chinese characters
    ``character`` accepts: all by default), worked out once per token; at most
    ``max_cached`` tokens are remembered."""

    def __init__(
        self,
        vocabulary: TermVocabulary,
        *,
        character: Callable[[str], bool] | None = None,
        max_cached: int = MAX_CACHED_TOKENS,
    ) -> None:
        super().__init__()
        self.vocabulary = vocabulary
        self.character = character or (lambda _: True)
        self.max_cached = max_cached

    def __missing__(self, token: str) -> tuple[str, ...]:
        features: tuple[str, ...] = ()
        if self.vocabulary.weight(token) >= 2:
            characters = (
                dict.fromkeys(c for c in token if _is_cjk(c) and self.character(c))
                if len(token) > 1
                else {}
            )
            features = (token, *characters)
        if len(self) >= self.max_cached:
            self.clear()  # bounded; the frequent tokens are back at once
        self[token] = features
        return features

    def of(self, tokens: Iterable[str]) -> dict[str, None]:
        """The features of a text's tokens (the first :data:`MAX_TOKENS`), in the order
        they come (a dict as an ordered set: the same text, the same sums)."""
        return dict.fromkeys(chain.from_iterable(map(self.__getitem__, islice(tokens, MAX_TOKENS))))


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


def signature(hashes: Sequence[int]) -> tuple[int, ...]:
    """The MinHash of a feature set, from its features' hashes (see the module docstring)."""
    return tuple(min(map(mask.__xor__, hashes)) for mask in _MASKS[:SIGNATURE_SIZE])


def agreement(first: Sequence[int], second: Sequence[int]) -> int:
    """In how many places two signatures agree."""
    return sum(a == b for a, b in zip(first, second, strict=True))


class DocumentFrequency:
    """How many of the texts of the last ``span_seconds`` have each feature (time buckets
    of ``bucket_seconds``, dropped as they age), and the IDF it gives with the prior."""

    def __init__(
        self,
        prior: EmergingPrior,
        *,
        bucket_seconds: int = DF_BUCKET_SECONDS,
        span_seconds: int = DF_SPAN_SECONDS,
    ) -> None:
        self.prior = prior
        self.bucket_seconds = bucket_seconds
        self.span_buckets = max(1, span_seconds // bucket_seconds)
        self.buckets: OrderedDict[int, Counter[str]] = OrderedDict()
        self.sizes: dict[int, int] = {}
        self.total: Counter[str] = Counter()
        self.documents = 0
        self._idf = _IdfCache(self)
        self._idf_documents = 0

    def add(self, features: Iterable[str], at: float) -> None:
        index = int(at // self.bucket_seconds)
        bucket = self.buckets.get(index)
        if bucket is None:
            bucket = self._open(index)
        bucket.update(features)
        self.total.update(features)
        self.sizes[index] = self.sizes.get(index, 0) + 1
        self.documents += 1
        if self.documents > self._idf_documents * (1 + IDF_REFRESH_SHARE) + IDF_REFRESH_TEXTS:
            self._refresh()

    def _open(self, index: int) -> Counter[str]:
        """A new bucket; the buckets that fell out of the span are subtracted."""
        bucket = self.buckets[index] = Counter()
        while next(iter(self.buckets)) <= index - self.span_buckets:
            old_index, old = self.buckets.popitem(last=False)
            self.total.subtract(old)
            self.documents -= self.sizes.pop(old_index, 0)
        if len(self.total) > 2 * sum(map(len, self.buckets.values())):
            self.total = +self.total  # drops what fell to zero, now and then
        self._refresh()
        return bucket

    def _refresh(self) -> None:
        self._idf.clear()
        self._idf_documents = self.documents

    def idf(self, feature: str) -> float:
        return self._idf[feature]

    def idfs(self, features: Iterable[str]) -> list[float]:
        return list(map(self._idf.__getitem__, features))

    def compute_idf(self, feature: str) -> float:
        prior = self.prior
        return (
            math.log(
                (self.documents + prior.weight)
                / (self.total.get(feature, 0) + prior.weight * prior.share(feature))
            )
            + 1.0
        )

    @property
    def features(self) -> int:
        return len(self.total)


class _IdfCache(dict[str, float]):
    def __init__(self, frequencies: DocumentFrequency) -> None:
        super().__init__()
        self.frequencies = frequencies

    def __missing__(self, feature: str) -> float:
        value = self[feature] = self.frequencies.compute_idf(feature)
        return value


class TopicVectorizer:
    """Texts' tokens → :class:`TopicVector`; every text vectorised counts in the
    document frequencies."""

    def __init__(self, prior: EmergingPrior, vocabulary: TermVocabulary = VOCABULARY) -> None:
        self.token_features = TokenFeatures(vocabulary, character=prior.rare)
        self.hashes = FeatureHashes()
        self.frequencies = DocumentFrequency(prior)

    def vector(self, tokens: Iterable[str], at: float) -> TopicVector | None:
        """The text's vector, None when it has no content word."""
        features = self.token_features.of(tokens)
        if not features:
            return None
        self.frequencies.add(features.keys(), at)
        weights = self.frequencies.idfs(features)
        norm = math.hypot(*weights)
        return TopicVector(
            dict(zip(features, [w / norm for w in weights], strict=True)),
            signature(list(map(self.hashes.__getitem__, features))),
        )
