"""Is a group of similar texts an emerging topic (新问题)? Pure.

A worker's clusters (:mod:`alerts.emerging_clusters`) are summarised as :class:`TopicGroup` s:
similar clusters joined, with their authors counted per minute. Every worker publishes its
groups and its own count of texts per minute (:class:`WorkerReport`); the groups of all
workers are merged (:func:`merge_groups`: the same topic seen on two workers' partitions is
one topic), the groups rising together that share their key words are joined
(:func:`join_rising`: one problem told in many words), and each group is judged by
:func:`assess`:

* **window and baseline.** The window is the last ``window_seconds`` (five minutes by
  default); the baseline the ``baseline_seconds`` before it. A service that started less
  than twice the window ago has a window of half the time it has observed, so that there is
  always at least as much baseline as window: three minutes after a start, a topic of the
  last minute and a half is judged against the minute and a half before. Below a fifth of
  ``window_seconds`` of window nothing is judged (the first two minutes, by default).
* **new** (novelty): the group's share of the texts in the window is at least
  ``min_growth`` times its share in the baseline, counting one text more in the baseline
  than there was — so a topic absent before is "new" only once it is ``min_growth`` times
  what one text in the baseline would be. Its *growth* is that ratio (window count over
  expected count, the expected count at least 1), and its severity.
* **bursting**, with a low-volume guard: at least ``min_count`` authors in the window, and a
  window count so far above the expected count that a Poisson variable of that mean reaches
  it with probability at most ``p_value``.

A group that is both may raise an alert; an alert holds while its window count is at least
``resolve_ratio × min_count``. Counts are of authors: one customer counts once per topic.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from alerts.baseline import poisson_tail
from vocwatch.vocabulary import Priority, priority_rank

MINUTE = 60
MAX_MERGED_SAMPLES = 12
MAX_MERGED_IDS = 60
MAX_MERGED_TERMS = 80


def cosine(first: Mapping[str, float], second: Mapping[str, float]) -> float:
    """Dot product of two unit vectors (sparse)."""
    if len(first) > len(second):
        first, second = second, first
    return math.fsum(value * second.get(feature, 0.0) for feature, value in first.items())


def unit_sum(weighted: Iterable[tuple[float, Mapping[str, float]]], n: int) -> dict[str, float]:
    """Σ weight × vector, its ``n`` heaviest features, scaled to length 1."""
    total: dict[str, float] = {}
    for weight, vector in weighted:
        for feature, value in vector.items():
            total[feature] = total.get(feature, 0.0) + weight * value
    top = sorted(total.items(), key=lambda item: (-item[1], item[0]))[:n]
    norm = math.sqrt(math.fsum(v * v for _, v in top)) or 1.0
    return {feature: round(value / norm, 5) for feature, value in top}


@dataclass(frozen=True)
class EmergencePolicy:
    window_seconds: int = 300
    baseline_seconds: int = 3600
    min_count: int = 10
    min_growth: float = 4.0
    p_value: float = 1e-6
    merge_similarity: float = 0.5
    resolve_ratio: float = 0.5
    # Fragments of one topic (:func:`join_rising`): groups rising at least this much ...
    join_growth: float = 2.0
    # ... whose centroids have at least this cosine and that share at least ``join_shared``
    # of their ``join_top`` heaviest features.
    join_similarity: float = 0.05
    join_top: int = 6
    join_shared: int = 2

    @property
    def min_window_seconds(self) -> float:
        return self.window_seconds / 5

    @property
    def hold_count(self) -> int:
        return max(1, math.ceil(self.min_count * self.resolve_ratio))


class GroupSample(NamedTuple):
    """An example text of a group (already PII-masked)."""

    event_id: str
    text: str
    priority: Priority
    source: str
    channel: str
    event_time: float
    negative: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GroupSample:
        return cls(**{**data, "priority": Priority(data["priority"])})


@dataclass
class TopicGroup:
    """Similar clusters of one worker, or such groups of several workers merged."""

    features: dict[str, float]  # unit centroid, heaviest features
    minutes: dict[str, list[int]]  # minute (unix seconds // 60) → [authors, negative, P1]
    first_seen: float
    last_seen: float
    terms: dict[str, int]  # explanation keys (alerts.explain) of its recent texts → texts
    texts: int  # recent texts behind ``terms``
    samples: list[GroupSample]
    channels: dict[str, int]
    categories: dict[str, int]
    sources: dict[str, int]
    event_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "minutes": self.minutes,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "terms": self.terms,
            "texts": self.texts,
            "samples": [s._asdict() for s in self.samples],
            "channels": self.channels,
            "categories": self.categories,
            "sources": self.sources,
            "event_ids": self.event_ids,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TopicGroup:
        return cls(
            **{
                **data,
                "samples": [GroupSample.from_json(s) for s in data.get("samples", ())],
            }
        )

    def count(self, since_minute: int, until_minute: int | None = None) -> list[int]:
        """[authors, negative, P1] counted from ``since_minute`` (to before ``until_minute``)."""
        total = [0, 0, 0]
        for minute, counts in self.minutes.items():
            m = int(minute)
            if m >= since_minute and (until_minute is None or m < until_minute):
                for i, value in enumerate(counts):
                    total[i] += value
        return total


@dataclass
class WorkerReport:
    """What one worker publishes at each step: when it started clustering, its texts per
    minute, and its groups."""

    worker: str
    started: float
    totals: dict[str, int]
    groups: list[TopicGroup]

    def to_json(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "started": self.started,
            "totals": self.totals,
            "groups": [g.to_json() for g in self.groups],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkerReport:
        return cls(
            data["worker"],
            float(data["started"]),
            {str(k): int(v) for k, v in data["totals"].items()},
            [TopicGroup.from_json(g) for g in data["groups"]],
        )


@dataclass(frozen=True)
class Combined:
    """Every worker's reports as one: the earliest start, summed totals, merged groups."""

    started: float
    totals: dict[str, int]
    groups: list[TopicGroup]


def combine(reports: Sequence[WorkerReport], similarity: float) -> Combined | None:
    if not reports:
        return None
    totals: Counter[str] = Counter()
    for report in reports:
        totals.update(report.totals)
    return Combined(
        min(r.started for r in reports),
        dict(totals),
        merge_groups([g for r in reports for g in r.groups], similarity),
    )


def merge_groups(groups: Iterable[TopicGroup], similarity: float) -> list[TopicGroup]:
    """Groups of different workers that are about the same thing (cosine of their centroids
    at least ``similarity``) merged into one; the busiest first."""
    merged: list[list[TopicGroup]] = []
    heads: list[dict[str, float]] = []
    for group in sorted(groups, key=lambda g: -_size(g)):
        for index, head in enumerate(heads):
            if cosine(head, group.features) >= similarity:
                merged[index].append(group)
                break
        else:
            merged.append([group])
            heads.append(group.features)
    return [parts[0] if len(parts) == 1 else _merge(parts) for parts in merged]


JOIN_FLOOR = 3  # authors in the window a group needs to be joined with others


def join_rising(
    groups: Sequence[TopicGroup],
    totals: Mapping[str, int],
    started: float,
    now: float,
    policy: EmergencePolicy,
) -> list[TopicGroup]:
    """The groups that are rising now (at least :data:`JOIN_FLOOR` authors in the window,
    growth at least ``policy.join_growth``) joined when they are alike: a centroid cosine
    of at least ``policy.join_similarity`` and at least ``policy.join_shared`` of their
    ``policy.join_top`` heaviest features in common; the busiest first, like
    :func:`merge_groups`. The other groups are returned as they are.

    One new problem told in many words (系统升级 / 更新, 没信号 / 无服务; 自动续费 / 被扣
    会员费) falls into several clusters of a few authors each, too far apart for the
    clustering and for :func:`merge_groups`, and none is big enough alone. Fragments of
    one story rise in the same minutes and name its key words; the busy topics of ordinary
    traffic do not rise, and two unrelated new groups seldom share two of their heaviest
    words.
    """
    rising: list[TopicGroup] = []
    rest: list[TopicGroup] = []
    for group in groups:
        a = assess(group, totals, started, now, policy)
        if a.count >= JOIN_FLOOR and a.growth >= policy.join_growth:
            rising.append(group)
        else:
            rest.append(group)
    if len(rising) < 2:
        return list(groups)
    heads: list[tuple[dict[str, float], set[str]]] = []
    joined: list[list[TopicGroup]] = []
    for group in sorted(rising, key=lambda g: -_size(g)):
        top = _heaviest(group.features, policy.join_top)
        for (head, head_top), parts in zip(heads, joined, strict=True):
            if (
                len(top & head_top) >= policy.join_shared
                and cosine(head, group.features) >= policy.join_similarity
            ):
                parts.append(group)
                break
        else:
            heads.append((group.features, top))
            joined.append([group])
    if len(joined) == len(rising):
        return list(groups)
    result = [parts[0] if len(parts) == 1 else _merge(parts) for parts in joined]
    return sorted(result + rest, key=lambda g: -_size(g))


def _heaviest(features: Mapping[str, float], n: int) -> set[str]:
    return set(sorted(features, key=lambda f: (-features[f], f))[:n])


def _size(group: TopicGroup) -> int:
    return sum(c[0] for c in group.minutes.values())


def _merge(parts: Sequence[TopicGroup]) -> TopicGroup:
    minutes: dict[str, list[int]] = {}
    terms: Counter[str] = Counter()
    for part in parts:
        for minute, counts in part.minutes.items():
            total = minutes.setdefault(minute, [0, 0, 0])
            for i, value in enumerate(counts):
                total[i] += value
        terms.update(part.terms)
    features = unit_sum(((max(1, _size(p)), p.features) for p in parts), len(parts[0].features))

    def summed(name: str) -> dict[str, int]:
        total: Counter[str] = Counter()
        for part in parts:
            total.update(getattr(part, name))
        return dict(total)

    return TopicGroup(
        features=features,
        minutes=dict(sorted(minutes.items())),
        first_seen=min(p.first_seen for p in parts),
        last_seen=max(p.last_seen for p in parts),
        terms=dict(terms.most_common(MAX_MERGED_TERMS)),
        texts=sum(p.texts for p in parts),
        samples=[s for p in parts for s in p.samples][:MAX_MERGED_SAMPLES],
        channels=summed("channels"),
        categories=summed("categories"),
        sources=summed("sources"),
        event_ids=[i for p in parts for i in p.event_ids][:MAX_MERGED_IDS],
    )


@dataclass(frozen=True)
class Assessment:
    count: int  # authors in the window
    negative: int
    p1: int
    baseline: int  # authors in the baseline
    expected: float  # expected window count from the baseline share
    growth: float  # count / max(expected, 1)
    p_value: float
    emerging: bool  # new and bursting: may alert
    holds: bool  # a firing alert stays firing
    window_start: float


def assess(
    group: TopicGroup | None,
    totals: Mapping[str, int],
    started: float,
    now: float,
    policy: EmergencePolicy,
) -> Assessment:
    """Judge a group (None: a topic no group matched now, count 0)."""
    window = min(policy.window_seconds, (now - started) / 2)
    window_start = now - window
    window_minute = int(window_start // MINUTE)
    baseline_minute = int(max(started, window_start - policy.baseline_seconds) // MINUTE)
    count, negative, p1 = group.count(window_minute) if group else [0, 0, 0]
    baseline = group.count(baseline_minute, window_minute)[0] if group else 0
    texts_now = texts_before = 0
    for minute, texts in totals.items():
        m = int(minute)
        if m >= window_minute:
            texts_now += texts
        elif m >= baseline_minute:
            texts_before += texts
    expected = texts_now * (baseline + 1) / (texts_before + 1)
    growth = count / max(expected, 1.0)
    p_value = poisson_tail(count, expected)
    emerging = (
        window >= policy.min_window_seconds
        and count >= policy.min_count
        and growth >= policy.min_growth
        and p_value <= policy.p_value
    )
    return Assessment(
        count,
        negative,
        p1,
        baseline,
        round(expected, 3),
        round(growth, 2),
        p_value,
        emerging,
        count >= policy.hold_count,
        window_start,
    )


# --- stable ids ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownTopic:
    """A topic that emerged, as the registry remembers it: the id that stays while it lasts,
    its words and its recent texts."""

    id: str
    features: dict[str, float]
    first_seen: float
    last_seen: float
    event_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "event_ids": list(self.event_ids)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KnownTopic:
        return cls(
            data["id"],
            dict(data["features"]),
            float(data["first_seen"]),
            float(data["last_seen"]),
            tuple(data.get("event_ids", ())),
        )


def likeness(group: TopicGroup, topic: KnownTopic) -> float:
    """How much a group is a known topic: the cosine of their words, or the share of the
    group's recent texts (or the topic's, if fewer) that were the topic's — a topic's words
    move while its first texts come in, its texts do not."""
    shared = len(set(group.event_ids) & set(topic.event_ids))
    overlap = shared / min(len(group.event_ids), len(topic.event_ids)) if shared else 0.0
    return max(cosine(group.features, topic.features), overlap)


def match_known(
    groups: Sequence[TopicGroup], known: Sequence[KnownTopic], similarity: float
) -> dict[int, KnownTopic]:
    """group index → the known topic it continues: the most alike pairs first
    (:func:`likeness`), each known topic and each group matched once, likeness at least
    ``similarity``."""
    pairs = sorted(
        (
            (likeness(group, topic), index, topic.id)
            for index, group in enumerate(groups)
            for topic in known
        ),
        key=lambda pair: (-pair[0], pair[1], pair[2]),
    )
    by_id = {topic.id: topic for topic in known}
    matched: dict[int, KnownTopic] = {}
    used: set[str] = set()
    for score, index, topic_id in pairs:
        if score < similarity:
            break
        if index not in matched and topic_id not in used:
            matched[index] = by_id[topic_id]
            used.add(topic_id)
    return matched


def gather_known(
    groups: Sequence[TopicGroup], known: Sequence[KnownTopic], similarity: float
) -> list[TopicGroup]:
    """The groups that continue one known topic (:func:`likeness` at least ``similarity``,
    each group with the topic it is most like) joined into one, the busiest first: a topic
    whose parts were joined in one step (:func:`join_rising`, or two workers' groups) and
    come apart in the next stays one topic, instead of one part continuing it and the
    other, its texts no longer in any topic, emerging as a second one."""
    if not known or len(groups) < 2:
        return list(groups)
    parts: dict[str, list[TopicGroup]] = {}
    rest: list[TopicGroup] = []
    for group in groups:
        score, topic = max(((likeness(group, t), t.id) for t in known), default=(0.0, ""))
        if score >= similarity:
            parts.setdefault(topic, []).append(group)
        else:
            rest.append(group)
    if all(len(p) == 1 for p in parts.values()):
        return list(groups)
    gathered = [
        p[0] if len(p) == 1 else _merge(sorted(p, key=lambda g: -_size(g))) for p in parts.values()
    ]
    return sorted(gathered + rest, key=lambda g: -_size(g))


def continued(topic: KnownTopic, group: TopicGroup, now: float) -> KnownTopic:
    """The known topic after this step: its words follow the group's, half-way; its texts
    are the group's recent ones."""
    features = unit_sum(((1.0, topic.features), (1.0, group.features)), len(group.features))
    return KnownTopic(topic.id, features, topic.first_seen, now, tuple(group.event_ids))


def new_topic(group: TopicGroup, now: float) -> KnownTopic:
    top = sorted(group.features, key=lambda f: (-group.features[f], f))[:5]
    topic = hashlib.sha256(f"{'|'.join(top)}|{now:.3f}".encode()).hexdigest()[:12]
    return KnownTopic(topic, group.features, group.first_seen, now, tuple(group.event_ids))


# --- examples ------------------------------------------------------------------------------


def diverse_samples(samples: Iterable[GroupSample], n: int = 3) -> list[GroupSample]:
    """``n`` examples that say different things: the most telling first (highest priority,
    negative, most recent), then each time the one least like those already chosen (shared
    pairs of adjacent characters); exact repeats never twice."""
    candidates = sorted(
        {s.text: s for s in samples}.values(),
        key=lambda s: (priority_rank(s.priority), not s.negative, -s.event_time, s.event_id),
    )
    if not candidates:
        return []
    shingles = {s.event_id: _bigrams(s.text) for s in candidates}
    chosen = [candidates[0]]
    rest = candidates[1:]
    while rest and len(chosen) < n:
        best = min(
            rest,
            key=lambda s: max(_jaccard(shingles[s.event_id], shingles[c.event_id]) for c in chosen),
        )
        chosen.append(best)
        rest.remove(best)
    return chosen


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1)) or frozenset({text})


def _jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    union = len(first | second)
    return len(first & second) / union if union else 1.0
