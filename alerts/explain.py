"""What an alert shows to explain itself (解释): the words and phrases over-represented in
its window against the background, the best example texts and the channels they came from.

Kept in memory per worker, bounded, from the events the pipeline has already tokenized —
no extra Redis traffic on the hot path. With several workers each explains from the
partitions it reads; the counts that decide whether to alert are the shared ones in Redis.

Per event the pipeline hands over :func:`content_terms` (the tokens and the text, worked
out only when needed) to the background and to each window key of the event. The
background counts at most :data:`MAX_BACKGROUND_TEXTS` texts a minute as they come; a key
only keeps its texts (at most :data:`MAX_KEY_TEXTS` a minute), and they are counted when
an alert of the key goes out. What is counted of a text is its content words and its pairs
of adjacent words; words that never explain anything (channel boilerplate such as
客户/来电, greetings, function words: ``explain_stopwords.txt``) are not counted at all.
:func:`rank_terms` keeps what is frequent in the window and over-represented, and reports
adjacent words as one phrase (送餐 + 慢 → 送餐慢) when that is how the window says them.
"""

from __future__ import annotations

import math
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain, islice
from pathlib import Path
from random import Random

from alerts.lifecycle import Sample, Term, merge_samples
from classifiers.pii import TOKENS as PII_TOKENS
from vocwatch.errors import ConfigError

VOCABULARY_FILE = Path(__file__).resolve().parent / "explain_stopwords.txt"

TOP_TERMS = 5
# A term must be in at least this many texts of the window, and in this share of them:
# two texts out of three hundred explain nothing.
MIN_SUPPORT = 3
MIN_SUPPORT_SHARE = 0.05
MIN_LIFT = 1.5
# Two adjacent words read as one phrase when the phrase is in at least this share of the
# texts that have one of them. Above one half, so that a word belongs to one phrase at most,
# and high enough that a chain of two such pairs (外卖送 + 送餐) is in most texts of its
# middle word (2 × 0.75 − 1 = one half at least).
MERGE_SHARE = 0.75
# Bounds of time and memory: tokens read per text (the first 200: a 20,000-character post
# costs no more than a short one), texts counted per time bucket (beyond it, every n-th
# text stands for the others), tokens whose kind is remembered.
MAX_TOKENS_PER_TEXT = 200
MAX_BACKGROUND_TEXTS = 500
MAX_KEY_TEXTS = 200
MAX_CACHED_TOKENS = 100_000


class Section(StrEnum):
    """The sections of ``explain_stopwords.txt``: what a listed word is."""

    KEEP = "keep"  # content, whatever the other rules say (退款, 12315)
    STOP = "stop"  # never counted; a phrase never runs across it (客户, 来电, 您好, 的)
    MODIFIER = "modifier"  # in a phrase, not at its end, never alone (不, 没, 很, 一直)
    VAGUE = "vague"  # in a phrase, at its end too, never alone (不好, 太差)
    UNIT = "unit"  # after a numeral, makes a number (三天, 两个); alone, stop if 2+ chars


# How a token counts, one int per token so that the hot path compares ints: one of these
# codes, or else its length, the characters of content it brings to a phrase. A term alone
# needs two.
STOP = -2
MODIFIER = -1
VAGUE = 0

_SECTION = re.compile(r"^\[(?P<name>[a-z]+)\]$")
_WORDLIKE = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_NUMERAL = re.compile(r"第?[0-9.%零〇一二三四五六七八九十百千万亿两几半]+")
# An emoticon code ([哈哈], [泪]) or a masking placeholder ([PHONE]) in a text.
_BRACKETED = re.compile(r"\[([^\[\]\s]{1,12})\]")
# What masked personal data became ([PHONE] …): a placeholder, not a word of the complaint.
PLACEHOLDERS = frozenset(token.strip("[]") for token in PII_TOKENS.values())
# Joins the two words of an adjacent pair in a counted key. normalize() drops control
# characters, so no token has it.
_JOIN = "\x1f"


@dataclass(frozen=True)
class TermVocabulary:
    """The word lists of ``explain_stopwords.txt`` and the rules that go with them."""

    keep: frozenset[str]
    stop: frozenset[str]
    modifiers: frozenset[str]
    vague: frozenset[str]
    units: frozenset[str]

    @classmethod
    def parse(cls, text: str, source: str = "vocabulary") -> TermVocabulary:
        sections: dict[Section, set[str]] = {section: set() for section in Section}
        current: Section | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if header := _SECTION.match(line):
                try:
                    current = Section(header.group("name"))
                except ValueError:
                    names = ", ".join(s.value for s in Section)
                    raise ConfigError(
                        f"line {number}: unknown section {line}; use one of {names}",
                        source=source,
                    ) from None
            elif current is None:
                raise ConfigError(f"line {number}: a word before any [section]", source=source)
            else:
                sections[current].update(line.split())
        units = frozenset(sections[Section.UNIT])
        return cls(
            keep=frozenset(sections[Section.KEEP]),
            stop=frozenset(sections[Section.STOP] | {u for u in units if len(u) > 1}),
            modifiers=frozenset(sections[Section.MODIFIER]),
            vague=frozenset(sections[Section.VAGUE]),
            units=units,
        )

    @classmethod
    def load(cls, path: Path = VOCABULARY_FILE) -> TermVocabulary:
        return cls.parse(path.read_text(encoding="utf-8"), source=str(path))

    def weight(self, token: str) -> int:
        """How ``token`` counts: :data:`STOP`, :data:`MODIFIER`, :data:`VAGUE`, or the
        characters of content it brings to a phrase (its length)."""
        if token in self.keep:
            return len(token)
        if self._is_noise(token):
            return STOP
        if token in self.modifiers:
            return MODIFIER
        if token in self.vague:
            return VAGUE
        return len(token)

    def _is_noise(self, token: str) -> bool:
        if token in self.stop or (token.isascii() and token.lower() in self.stop):
            return True
        if _JOIN in token or "*" in token or "<" in token or not _WORDLIKE.search(token):
            return True  # punctuation, emoji, masked digits (138****5678), <PHONE>
        if token.strip("[]") in PLACEHOLDERS or (token.startswith("[") and token.endswith("]")):
            return True
        if len(token) == 1 and token.isascii():
            return True  # a single Latin letter
        numeral = _NUMERAL.match(token)
        if numeral is None:
            return False
        unit = token[numeral.end() :].rstrip("多余来")  # 一个多, 三十多, 十来
        return not unit or unit in self.units


class TermExtractor:
    """Turns one text's tokens into the keys it adds to the counts, remembering how each
    token counts (at most ``max_cached`` tokens) so that the hot path is dict lookups."""

    def __init__(self, vocabulary: TermVocabulary, *, max_cached: int = MAX_CACHED_TOKENS) -> None:
        self.vocabulary = vocabulary
        self.max_cached = max_cached
        self._weights: dict[str, int] = {}

    def weight(self, token: str) -> int:
        weight = self._weights.get(token)
        if weight is None:
            weight = self.vocabulary.weight(token)
            if len(self._weights) >= self.max_cached:
                self._weights.clear()  # bounded; the frequent tokens are back at once
            self._weights[token] = weight
        return weight

    @property
    def cached_tokens(self) -> int:
        return len(self._weights)

    def keys(self, tokens: Iterable[str], text: str | None = None) -> tuple[str, ...]:
        """The distinct words of two or more characters of content, and each pair of
        non-stop tokens next to each other (single characters, negation and degree words
        count only in pairs: 送 + 餐, 没 + 到账).

        Without ``text``, tokens next to each other in ``tokens`` are adjacent, and the
        punctuation the tokenizer dropped between them (, 。) is not seen. With the text
        the tokens came from, a pair counts only when it is in the text as such (a space
        after or before a Latin word allowed: APP 闪退), and the words of bracketed codes
        ([泪], [爱你]) are left out.
        """
        if text is not None:
            return self._keys_in_text(tokens, text)
        weights = self._weights
        keys: set[str] = set()
        previous = ""  # the non-stop token just before, if any
        for token in islice(tokens, MAX_TOKENS_PER_TEXT):
            weight = weights.get(token)
            if weight is None:
                weight = self.weight(token)
            if weight == STOP:
                previous = ""
                continue
            if weight >= 2:
                keys.add(token)
            if previous:
                keys.add(f"{previous}{_JOIN}{token}")
            previous = token
        return tuple(keys)

    def _keys_in_text(self, tokens: Iterable[str], text: str) -> tuple[str, ...]:
        weights = self._weights
        codes = frozenset(_BRACKETED.findall(text)) if "[" in text else None
        keys: set[str] = set()
        previous = ""
        for token in islice(tokens, MAX_TOKENS_PER_TEXT):
            weight = weights.get(token)
            if weight is None:
                weight = self.weight(token)
            if weight == STOP or (codes and token in codes):
                previous = ""
                continue
            if weight >= 2:
                keys.add(token)
            if previous and (previous + token in text or _spaced(text, previous, token)):
                keys.add(f"{previous}{_JOIN}{token}")
            previous = token
        return tuple(keys)


def _spaced(text: str, before: str, after: str) -> bool:
    """Whether the two words are in the text with a space between that only separates a
    Latin word from its neighbour (APP 闪退)."""
    return (before[-1].isascii() or after[0].isascii()) and f"{before} {after}" in text


VOCABULARY = TermVocabulary.load()
STOPWORDS = VOCABULARY.stop
_EXTRACTOR = TermExtractor(VOCABULARY)


class TextTerms(Collection[str]):
    """The keys one text adds to the explanation counts (:meth:`TermExtractor.keys`),
    worked out when first needed: a window key keeps its texts uncounted until an alert
    needs them, and a busy background counts only a sample, so that most events cost
    only this object on the hot path. Until then it keeps the tokens joined in one string
    (a quarter of the memory of a tuple of them) and the text."""

    __slots__ = ("_extractor", "_keys", "_text", "_tokens")

    def __init__(self, tokens: Iterable[str], text: str | None, extractor: TermExtractor) -> None:
        self._tokens: str | None = _JOIN.join(tokens)
        self._text = text
        self._extractor = extractor
        self._keys: tuple[str, ...] | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        if self._keys is None:
            tokens = self._tokens.split(_JOIN) if self._tokens else ()
            self._keys = self._extractor.keys(tokens, self._text)
            self._tokens = self._text = None  # what is left to keep is the keys
        return self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def __repr__(self) -> str:
        return f"TextTerms({self.keys!r})"


def content_terms(tokens: Iterable[str], text: str | None = None) -> TextTerms:
    """What one text adds to the explanation counts: its distinct content words and each
    pair of words adjacent in it, worked out when first needed. Pass the text the tokens
    came from (``analysis.text``) so that punctuation and emoticon codes separate words;
    without it only the order of the tokens is known."""
    return TextTerms(tokens, text, _EXTRACTOR)


def phrase_words(key: str) -> tuple[str, ...]:
    """The words of a counted key: one for a word, two for an adjacent pair."""
    return tuple(key.split(_JOIN))


def phrase_text(words: Sequence[str]) -> str:
    """How a phrase reads: its words joined, with a space only between two Latin words."""
    text = words[0]
    for word in words[1:]:
        latin = text[-1].isascii() and text[-1].isalnum() and word[0].isascii()
        text += f" {word}" if latin and word[0].isalnum() else word
    return text


@dataclass(frozen=True)
class TermPolicy:
    """When a word or a phrase explains an alert, and how many are shown."""

    top: int = TOP_TERMS
    min_support: int = MIN_SUPPORT
    min_support_share: float = MIN_SUPPORT_SHARE
    min_lift: float = MIN_LIFT
    merge_share: float = MERGE_SHARE

    def support(self, events: float) -> float:
        """Texts of the window a term needs, of ``events``."""
        # Rounded first: 0.05 × 300 is 15.000000000000002 in floating point.
        return max(self.min_support, math.ceil(round(self.min_support_share * events, 9)))


@dataclass(frozen=True)
class _Phrase:
    words: tuple[str, ...]
    pairs: tuple[str, ...]  # its counted pair keys, in order
    count: float  # texts with its least frequent pair
    absorbed: frozenset[str]  # its words that it is most of the texts of


@dataclass(frozen=True)
class _Candidate:
    term: str
    count: float
    lift: float
    is_phrase: bool

    def rank(self) -> tuple[float, float, str]:
        return (-self.count * math.log(self.lift), -self.count, self.term)


def rank_terms(
    window: Mapping[str, float],
    events: float,
    background: Callable[[str], float],
    background_events: float,
    *,
    weight: Callable[[str], int],
    policy: TermPolicy | None = None,
    n: int | None = None,
) -> tuple[Term, ...]:
    """The terms that explain a window. ``window`` maps counted keys to the texts of the
    window that have them (of ``events``); ``background`` gives the same for all texts (of
    ``background_events``). A phrase replaces the words it is most of the texts of.
    Ranked by support × ln(lift), then support, then the term itself."""
    policy = policy or TermPolicy()
    support = policy.support(events)
    frequent = {key: count for key, count in window.items() if count >= support}

    def lift(key: str) -> float:
        return (frequent[key] / events) / ((background(key) + 1) / (background_events + 1))

    texts_with = _texts_with(window, frequent)
    phrases = [
        (phrase, phrase_lift)
        for phrase in _phrases(frequent, texts_with, policy.merge_share)
        if (phrase_lift := min(lift(pair) for pair in phrase.pairs)) >= policy.min_lift
        and _reads_alone(phrase, frequent, texts_with, weight, policy.merge_share)
    ]
    # A word goes into the phrases that are most of its texts, together too (瓶盖发霉 and
    # 矿泉水瓶盖发霉, tokenized two ways, are all of 发霉).
    covered: dict[str, float] = {}
    for phrase, _ in phrases:
        for word in set(phrase.words):
            covered[word] = covered.get(word, 0) + phrase.count
    absorbed = {w for w, c in covered.items() if c >= policy.merge_share * texts_with[w]}
    for phrase, _ in phrases:
        absorbed |= phrase.absorbed
    candidates = [
        _Candidate(phrase_text(phrase.words), phrase.count, phrase_lift, is_phrase=True)
        for phrase, phrase_lift in phrases
    ]
    for key, count in frequent.items():
        if _JOIN in key or key in absorbed or weight(key) < 2:
            continue
        if (word_lift := lift(key)) >= policy.min_lift:
            candidates.append(_Candidate(key, count, word_lift, is_phrase=False))
    candidates.sort(key=_Candidate.rank)
    return tuple(
        Term(c.term, round(c.count), round(c.lift, 2))
        for c in _one_per_phrase(candidates, policy.top if n is None else n)
    )


def _texts_with(window: Mapping[str, float], frequent: Mapping[str, float]) -> dict[str, float]:
    """Texts of the window with each word of a frequent pair. Single characters, negation
    and degree words are not counted alone: for them, the texts where they have a
    neighbour on one side (送 in 外卖送 and 送餐: at least the larger of the two sides)."""
    needed = {word for key in frequent if _JOIN in key for word in phrase_words(key)}
    before: dict[str, float] = dict.fromkeys(needed, 0.0)  # texts with a word before it
    after: dict[str, float] = dict.fromkeys(needed, 0.0)
    for key, count in window.items():
        first, join, second = key.partition(_JOIN)
        if join:
            if second in needed:
                before[second] += count
            if first in needed:
                after[first] += count
    return {word: max(window.get(word, 0), before[word], after[word]) for word in needed}


def _phrases(
    frequent: Mapping[str, float], texts_with: Mapping[str, float], share: float
) -> list[_Phrase]:
    """Chains of frequent adjacent pairs (外卖送 + 送餐 + 餐慢 → 外卖送餐慢), each with the
    words it is most of the texts of; a pair alone only if it is most of one word's."""
    pairs = {key: phrase_words(key) for key in sorted(frequent) if _JOIN in key}

    def dominates(key: str, word: str) -> bool:
        return frequent[key] >= share * texts_with[word]

    following = _links(pairs, frequent, dominates)
    inside = set(following.values())
    phrases = []
    for key in pairs:
        if key in inside:
            continue  # a chain that starts elsewhere has it (or a cycle: 哈哈哈)
        chain = [key]
        while chain[-1] in following and following[chain[-1]] not in chain:
            chain.append(following[chain[-1]])
        absorbed = frozenset(word for k in chain for word in pairs[k] if dominates(k, word))
        if absorbed:
            words = (pairs[chain[0]][0], *(pairs[k][1] for k in chain))
            count = min(frequent[k] for k in chain)
            phrases.append(_Phrase(words, tuple(chain), count, absorbed))
    return phrases


def _links(
    pairs: Mapping[str, tuple[str, ...]],
    frequent: Mapping[str, float],
    dominates: Callable[[str, str], bool],
) -> dict[str, str]:
    """For each pair, the pair that continues it through the word they share, when both
    are most of that word's texts; one-to-one, the most frequent pairs chosen first."""
    by_first: dict[str, list[str]] = {}
    for key, (first, _) in pairs.items():
        by_first.setdefault(first, []).append(key)

    def busiest(key: str) -> tuple[float, str]:
        return (-frequent[key], key)

    following: dict[str, str] = {}
    taken: set[str] = set()
    for key in sorted(pairs, key=busiest):
        shared = pairs[key][1]
        if dominates(key, shared):
            options = [k for k in by_first.get(shared, ()) if k != key and k not in taken]
            options = [k for k in options if dominates(k, shared)]
            if options:
                following[key] = min(options, key=busiest)
                taken.add(following[key])
    return following


def _reads_alone(
    phrase: _Phrase,
    frequent: Mapping[str, float],
    texts_with: Mapping[str, float],
    weight: Callable[[str], int],
    share: float,
) -> bool:
    """A phrase says something (two characters of content besides negation, degree and
    vague words), does not end on a modifier (退款没), and is not a piece of a longer unit:
    an end that is a single character bound more tightly to a word outside the phrase
    (外卖送 when 送餐 is most of the texts with 送)."""
    weights = [weight(word) for word in phrase.words]
    if sum(max(w, 0) for w in weights) < 2 or weights[-1] == MODIFIER:
        return False
    first, last = phrase.words[0], phrase.words[-1]
    for key, count in frequent.items():
        if _JOIN not in key or key in phrase.pairs:
            continue
        before, after = phrase_words(key)
        for end, end_weight, outside in ((first, weights[0], after), (last, weights[-1], before)):
            if outside == end and end_weight == 1 and count >= share * texts_with[end]:
                return False
    return True


def _one_per_phrase(ranked: Iterable[_Candidate], n: int) -> list[_Candidate]:
    """The first ``n``, leaving out what reads the same as a better one: the same term
    (a word 送餐 and the phrase 送 + 餐), or a phrase inside or around a better phrase
    (矿泉水瓶盖发霉 after 瓶盖发霉: the same thing, tokenized another way)."""
    kept: list[_Candidate] = []
    for candidate in ranked:
        if len(kept) == n:
            break
        if any(
            candidate.term == other.term
            or (
                candidate.is_phrase
                and other.is_phrase
                and (candidate.term in other.term or other.term in candidate.term)
            )
            for other in kept
        ):
            continue
        kept.append(candidate)
    return kept


class _Bucket:
    """The texts of one time bucket: how many there were, and the terms of a uniform sample
    of at most ``max_texts`` of them (reservoir sampling: all of them in a quiet bucket),
    kept as they are (:class:`TextTerms`, shared with the other keys of the text). A
    closed bucket keeps the counts of its sample instead."""

    __slots__ = ("counts", "events", "kept", "texts")

    def __init__(self) -> None:
        self.events = 0
        self.texts: list[Collection[str]] = []
        self.counts: Counter[str] | None = None
        self.kept = 0  # texts behind ``counts``

    def close(self) -> None:
        """Counts the sample once and for all, and lets its texts go."""
        if self.counts is None:
            self.counts = Counter(chain.from_iterable(self.texts))
            self.kept, self.texts = len(self.texts), []

    def sample(self) -> tuple[Counter[str], float]:
        """Texts of the sample with each term, and how many texts each stands for."""
        if self.counts is not None:
            return self.counts, self.events / self.kept if self.kept else 0.0
        counts = Counter(chain.from_iterable(self.texts))
        return counts, self.events / len(self.texts) if self.texts else 0.0


class _Buckets:
    """Time buckets over the last ``span_seconds``; older ones are dropped."""

    def __init__(self, bucket_seconds: int, span_seconds: int, max_texts: int) -> None:
        self.bucket_seconds = bucket_seconds
        self.span_buckets = max(1, span_seconds // bucket_seconds)
        self.max_texts = max_texts
        # Which texts a busy bucket keeps: the same ones for the same stream.
        self.random = Random(0).random  # noqa: S311 — sampling, not secrets
        self.buckets: dict[int, _Bucket] = {}

    def add(self, terms: Collection[str], at: float) -> bool:
        """Adds one text (reservoir sampling: the k-th text of a full bucket replaces a
        kept one with probability max_texts / k); whether it opened a new bucket."""
        index = int(at // self.bucket_seconds)
        bucket = self.buckets.get(index)
        opened = bucket is None
        if bucket is None:
            bucket = self.buckets[index] = _Bucket()
            if len(self.buckets) > self.span_buckets + 1:
                for old in sorted(self.buckets)[: len(self.buckets) - self.span_buckets]:
                    del self.buckets[old]
        bucket.events += 1
        if bucket.counts is None:  # a closed bucket's sample stands for a late text too
            texts = bucket.texts
            if len(texts) < self.max_texts:
                texts.append(terms)
            elif (slot := int(self.random() * bucket.events)) < self.max_texts:
                texts[slot] = terms
        return opened

    def since(self, since: float) -> list[_Bucket]:
        first = int(since // self.bucket_seconds)
        return [bucket for index, bucket in sorted(self.buckets.items()) if index >= first]


class _Background(_Buckets):
    """All events: a bucket is counted when the next one opens (at most ``max_texts``
    texts a bucket, whatever the rate), and the open one when asked."""

    def add(self, terms: Collection[str], at: float) -> bool:
        opened = super().add(terms, at)
        if opened:
            current = int(at // self.bucket_seconds)
            for index, bucket in self.buckets.items():
                if index < current:
                    bucket.close()
        return opened


class KeyActivity:
    """Per window key: the terms of its texts, best samples, channels; plus the background
    of all events. The least recently active keys are forgotten first."""

    def __init__(
        self,
        *,
        bucket_seconds: int = 60,
        span_seconds: int = 3600,
        max_keys: int = 5000,
        max_key_texts: int = MAX_KEY_TEXTS,
        max_background_texts: int = MAX_BACKGROUND_TEXTS,
        policy: TermPolicy | None = None,
        extractor: TermExtractor | None = None,
    ) -> None:
        self.bucket_seconds = bucket_seconds
        self.span_seconds = span_seconds
        self.max_keys = max_keys
        self.max_key_texts = max_key_texts
        self.policy = policy or TermPolicy()
        self.extractor = extractor or _EXTRACTOR
        self.background = _Background(bucket_seconds, span_seconds, max_background_texts)
        self._texts: OrderedDict[str, _Buckets] = OrderedDict()
        self._samples: dict[str, tuple[Sample, ...]] = {}
        self._channels: dict[str, Counter[str]] = {}

    def add_event(self, terms: Collection[str], at: float) -> None:
        """Count one text's :func:`content_terms` in the background."""
        self.background.add(terms, at)

    def add(self, key: str, terms: Collection[str], at: float) -> None:
        """Keep one text's :func:`content_terms` for window key ``key`` (not copied: pass
        what :func:`content_terms` returns, or another collection nobody changes)."""
        texts = self._texts.get(key)
        if texts is None:
            texts = self._touch(key)
        if texts.add(terms, at):
            # Recency is kept per bucket rather than per event: cheaper, and as good for
            # choosing which keys to forget.
            self._texts.move_to_end(key)

    def _touch(self, key: str) -> _Buckets:
        """Mark ``key`` most recently active; forget the least recently active beyond
        ``max_keys`` (with their samples and channels)."""
        texts = self._texts.pop(key, None) or _Buckets(
            self.bucket_seconds, self.span_seconds, self.max_key_texts
        )
        self._texts[key] = texts
        while len(self._texts) > self.max_keys:
            old, _ = self._texts.popitem(last=False)
            self._samples.pop(old, None)
            self._channels.pop(old, None)
        return texts

    def add_samples(self, key: str, samples: Sequence[Sample]) -> tuple[Sample, ...]:
        self._touch(key)  # keys known only by their samples are bounded too
        merged = merge_samples(self._samples.get(key, ()), samples)
        self._samples[key] = merged
        channels = self._channels.setdefault(key, Counter())
        channels.update(s.channel for s in samples if s.channel)
        if len(channels) > 20:  # bounded: keep the busiest
            self._channels[key] = Counter(dict(channels.most_common(20)))
        return merged

    def samples(self, key: str) -> tuple[Sample, ...]:
        return self._samples.get(key, ())

    def channels(self, key: str) -> tuple[str, ...]:
        return tuple(sorted(self._channels.get(key, ())))

    def top_terms(
        self, keys: Iterable[str], since: float, n: int | None = None
    ) -> tuple[Term, ...]:
        """Words and phrases of these keys' events since ``since`` that are
        over-represented against all events from ``span_seconds`` before that (lift =
        share here / share in the background); see :func:`rank_terms`."""
        window: dict[str, float] = {}
        events = 0
        for key in dict.fromkeys(keys):
            for bucket in self._texts[key].since(since) if key in self._texts else ():
                counts, scale = bucket.sample()
                for term, count in counts.items():
                    window[term] = window.get(term, 0) + count * scale
                events += bucket.events
        return self.rank(window, events, since, n)

    def rank(
        self, window: Mapping[str, float], events: float, since: float, n: int | None = None
    ) -> tuple[Term, ...]:
        """:func:`rank_terms` of ``window`` (counted keys → texts with them, of ``events``
        texts since ``since``) against the background from ``span_seconds`` before that."""
        if not events:
            return ()
        buckets = self.background.since(since - self.span_seconds)
        background = [bucket.sample() for bucket in buckets]

        def texts_with(term: str) -> float:
            return sum(counts.get(term, 0) * scale for counts, scale in background)

        return rank_terms(
            window,
            events,
            texts_with,
            sum(bucket.events for bucket in buckets),
            weight=self.extractor.weight,
            policy=self.policy,
            n=n,
        )
