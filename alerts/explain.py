"""What an alert shows to explain itself (解释): the words over-represented in its window
against the background, the best example texts and the channels they came from.

Kept in memory per worker, bounded, from the events the pipeline has already tokenized —
no extra Redis traffic on the hot path. With several workers each explains from the
partitions it reads; the counts that decide whether to alert are the shared ones in Redis.
"""

from __future__ import annotations

import math
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence

from alerts.lifecycle import Sample, Term, merge_samples
from classifiers.pii import TOKENS as PII_TOKENS

TOP_TERMS = 5
MIN_TERM_COUNT = 2
MIN_LIFT = 1.5
# Words that say nothing about the problem (function words, pronouns, politeness, the
# masking placeholders); the tokenizer keeps them because sentiment needs them.
_STOPWORDS_TEXT = """
我们 你们 他们 她们 它们 自己 什么 怎么 怎么样 为什么 这个 那个 这样 那样 这些 那些
一个 一下 一次 就是 还是 但是 而且 然后 所以 因为 如果 虽然 已经 现在 今天 昨天
明天 时候 可以 可能 应该 需要 没有 不是 还有 一直 真的 非常 特别 比较 有点 一些
一点 这么 那么 到底 之前 之后 以后 以前 东西 问题 请问 你好 您好 谢谢 麻烦 希望
觉得 感觉 知道 告诉 说 的 了 是 在 也 都 就 和 与 及 等
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORDLIKE = re.compile(r"[\u4e00-\u9fffA-Za-z]")


# What masked personal data became ([PHONE] …): a placeholder, not a word of the complaint.
PLACEHOLDERS = frozenset(token.strip("[]") for token in PII_TOKENS.values())


def content_terms(tokens: Iterable[str]) -> set[str]:
    """The distinct words of a text that can explain an alert."""
    return {
        t
        for t in tokens
        if len(t) >= 2
        and t not in STOPWORDS
        and _WORDLIKE.search(t)
        and "*" not in t
        and "<" not in t
        and t.strip("[]") not in PLACEHOLDERS
    }


class _Buckets:
    """Document counts of terms per time bucket, over the last ``span`` seconds."""

    def __init__(self, bucket_seconds: int, span_seconds: int) -> None:
        self.bucket_seconds = bucket_seconds
        self.span_buckets = max(1, span_seconds // bucket_seconds)
        self.buckets: dict[int, tuple[Counter[str], list[int]]] = {}

    def add(self, terms: Iterable[str], at: float) -> None:
        bucket = int(at // self.bucket_seconds)
        counts, events = self.buckets.setdefault(bucket, (Counter(), [0]))
        counts.update(terms)
        events[0] += 1
        if len(self.buckets) > self.span_buckets + 1:
            for old in sorted(self.buckets)[: len(self.buckets) - self.span_buckets]:
                del self.buckets[old]

    def totals(self, since: float) -> tuple[Counter[str], int]:
        first = int(since // self.bucket_seconds)
        counts: Counter[str] = Counter()
        events = 0
        for bucket, (bucket_counts, n) in self.buckets.items():
            if bucket >= first:
                counts.update(bucket_counts)
                events += n[0]
        return counts, events


class KeyActivity:
    """Per window key: term counts, best samples, channels; plus the background of all
    events. The least recently active keys are forgotten first."""

    def __init__(
        self, *, bucket_seconds: int = 60, span_seconds: int = 3600, max_keys: int = 5000
    ) -> None:
        self.bucket_seconds = bucket_seconds
        self.span_seconds = span_seconds
        self.max_keys = max_keys
        self.background = _Buckets(bucket_seconds, span_seconds)
        self._terms: OrderedDict[str, _Buckets] = OrderedDict()
        self._samples: dict[str, tuple[Sample, ...]] = {}
        self._channels: dict[str, Counter[str]] = {}

    def add_event(self, terms: set[str], at: float) -> None:
        self.background.add(terms, at)

    def add(self, key: str, terms: set[str], at: float) -> None:
        self._touch(key).add(terms, at)

    def _touch(self, key: str) -> _Buckets:
        """Mark ``key`` most recently active; forget the least recently active beyond
        ``max_keys`` (with their samples and channels)."""
        buckets = self._terms.pop(key, None) or _Buckets(self.bucket_seconds, self.span_seconds)
        self._terms[key] = buckets
        while len(self._terms) > self.max_keys:
            old, _ = self._terms.popitem(last=False)
            self._samples.pop(old, None)
            self._channels.pop(old, None)
        return buckets

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

    def top_terms(self, keys: Iterable[str], since: float, n: int = TOP_TERMS) -> tuple[Term, ...]:
        """Words of these keys' recent events that are over-represented against all
        events of the last ``span_seconds`` (lift = share here / share in background)."""
        counts: Counter[str] = Counter()
        events = 0
        for key in keys:
            if key in self._terms:
                key_counts, key_events = self._terms[key].totals(since)
                counts.update(key_counts)
                events += key_events
        if not events:
            return ()
        background, total = self.background.totals(since - self.span_seconds)
        scored = []
        for term, count in counts.items():
            if count < MIN_TERM_COUNT:
                continue
            lift = (count / events) / ((background.get(term, 0) + 1) / (total + 1))
            if lift >= MIN_LIFT:
                scored.append((count * math.log(lift), term, count, lift))
        scored.sort(reverse=True)
        return tuple(Term(term, count, round(lift, 2)) for _, term, count, lift in scored[:n])
