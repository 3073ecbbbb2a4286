"""Online clustering of the texts of one worker (单遍聚类): near-duplicates folded first, then
single-pass clustering with time-decayed centroids. Pure, in memory, bounded.

For each text (a :class:`TopicText` with its :class:`~alerts.emerging_features.TopicVector`):

1. **Near-duplicate?** If a text seen in the last :data:`NEAR_DUPLICATE_SECONDS` has a
   MinHash signature that agrees in :data:`~alerts.emerging_features.NEAR_DUPLICATE_AGREEMENT`
   places, the text joins that text's cluster as it is: it changes no centroid and is no
   example, it only counts (once per author, below). A post copied 40 times costs 40 look-ups,
   not 40 searches, and does not drown the cluster's words.
2. **Nearest cluster.** Every cluster is indexed under the :data:`INDEXED_FEATURES` heaviest
   features of its centroid; the text's features find the clusters indexed under them, and
   the one with the highest partial score is checked in full: if the cosine of the text and
   its centroid is at least ``similarity``, the text joins it, else it starts a cluster.
3. **Centroid.** A cluster's centroid is the sum of its texts' vectors, each weighted
   ``2 ** (t / half_life)``: the weights grow with time instead of the old ones shrinking,
   so adding a text touches only its own features, and the cosine, which ignores scale,
   sees the recent texts weigh more. A centroid keeps its :data:`MAX_CENTROID_FEATURES`
   heaviest features.
4. **Counts.** A cluster counts its texts per minute, each *author* (customer, social
   account) once per ``window_seconds``: the same complaint sent five times, or five
   complaints of one customer, count once. The clusters also count every text they see per
   minute (``totals``), the denominator of a topic's share.

Bounds: at most ``max_clusters`` clusters (the least recently joined are forgotten first),
each with at most :data:`MAX_CENTROID_FEATURES` features, :data:`MAX_MEMBERS` recent texts
(for its words and examples) and its minute counts of the last ``retain_seconds``; at most
:data:`MAX_NEAR_DUPLICATES` signatures.

:meth:`TopicClusters.groups` summarises the clusters active in the window for the
emergence test (:mod:`alerts.emerging`).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice, repeat
from operator import mul
from typing import NamedTuple

from alerts.contacts import SAMPLE_CHARS
from alerts.emerging import GroupSample, TopicGroup, unit_sum
from alerts.emerging_features import MAX_TOKENS, NEAR_DUPLICATE_AGREEMENT, TopicVector, agreement
from alerts.explain import TextTerms, content_terms
from vocwatch.vocabulary import Priority

MINUTE = 60
INDEXED_FEATURES = 8
MAX_POSTING = 16  # clusters indexed under one feature
MAX_CENTROID_FEATURES = 48
MAX_MEMBERS = 32
NEAR_DUPLICATE_SECONDS = 3600
MAX_NEAR_DUPLICATES = 20_000  # signature entries: four per text
GROUP_FEATURES = 24  # of a group's centroid, published
GROUP_SAMPLES = 8  # candidates: the decision picks the three most different
GROUP_TERMS = 40
GROUP_EVENT_IDS = 30
TERMS_CHARS = 600  # of a member's text kept until its words are counted
# Refresh a cluster's index entries after this many texts (and after each of its first few).
REINDEX_EVERY = 4
_ZEROS = repeat(0.0)  # what a centroid holds of a feature it lacks
# e ** 60: rescale the growing weights (and their squares) long before floats overflow.
_RESCALE_AT = 60.0


class TopicText(NamedTuple):
    """One text the topic detector sees: what the pipeline knows of a scored event (a
    named tuple: one is made per event)."""

    event_id: str
    author: str  # customer id, or a social post's author: a person counts once per topic
    event_time: float
    source: str
    channel: str  # the contact channel; a social post's platform
    text: str  # normalised and PII-masked
    tokens: tuple[str, ...]
    priority: Priority
    negative: bool
    category: str  # the top category


class Member(NamedTuple):
    """A recent text of a cluster, kept for its words and as an example."""

    event_id: str
    event_time: float
    text: str
    priority: Priority
    negative: bool
    source: str
    channel: str
    category: str
    terms: TextTerms


class Cluster:
    __slots__ = (
        "additions",
        "authors",
        "centroid",
        "first_seen",
        "id",
        "indexed",
        "last_seen",
        "members",
        "minutes",
        "norm2",
    )

    def __init__(self, cluster_id: int, at: float) -> None:
        self.id = cluster_id
        self.centroid: dict[str, float] = {}
        self.norm2 = 0.0
        self.indexed: dict[str, float] = {}  # feature → its weight in the unit centroid
        self.additions = 0
        # minute → [authors, negative, P1] counted in it
        self.minutes: dict[int, list[int]] = {}
        self.authors: dict[str, float] = {}  # author → their last text, oldest first
        self.first_seen = at
        self.last_seen = at
        self.members: deque[Member] = deque(maxlen=MAX_MEMBERS)

    def unit(self, n: int | None = None) -> dict[str, float]:
        """The centroid scaled to length 1, its ``n`` heaviest features only if given."""
        scale = 1.0 / (math.sqrt(self.norm2) or 1.0)
        centroid = self.centroid
        if n is not None and len(centroid) > n:
            heaviest = sorted(centroid, key=centroid.__getitem__, reverse=True)[:n]
            return {f: centroid[f] * scale for f in heaviest}
        return {f: w * scale for f, w in centroid.items()}

    def cosine(self, unit: Mapping[str, float]) -> float:
        """Cosine of the centroid with the unit vector ``unit``."""
        centroid = self.centroid
        dot = math.fsum(value * centroid.get(feature, 0.0) for feature, value in unit.items())
        return dot / (math.sqrt(self.norm2) or 1.0)

    def count(self, since_minute: int, until_minute: int | None = None) -> int:
        """Authors counted from ``since_minute`` (to before ``until_minute``)."""
        return sum(
            c[0]
            for m, c in self.minutes.items()
            if m >= since_minute and (until_minute is None or m < until_minute)
        )


class TopicClusters:
    def __init__(
        self,
        *,
        similarity: float,
        half_life_seconds: float,
        window_seconds: int,
        retain_seconds: int,
        max_clusters: int,
    ) -> None:
        self.similarity = similarity
        self.rate = math.log(2) / half_life_seconds
        self.window_seconds = window_seconds
        self.retain_minutes = retain_seconds // MINUTE + 1
        self.max_clusters = max_clusters
        self.clusters: OrderedDict[int, Cluster] = OrderedDict()  # least recently joined first
        self.postings: dict[str, dict[int, float]] = {}
        # MinHash place and value (one int) → (cluster, signature, time), oldest first
        self.near: dict[int, tuple[int, tuple[int, ...], float]] = {}
        self.totals: dict[int, int] = {}  # minute → texts clustered
        self.started: float | None = None
        self.folded = 0  # near-duplicates folded, since start
        self._next_id = 0
        self._origin = 0.0  # time at which a text weighs 1

    # --- adding texts ------------------------------------------------------------------
    def add(self, text: TopicText, vector: TopicVector) -> Cluster:
        at = text.event_time
        if self.started is None:
            self.started = self._origin = at
        if self.rate * (at - self._origin) > _RESCALE_AT:
            self._rescale(at)
        minute = int(at // MINUTE)
        if minute not in self.totals:
            self._prune_totals(minute)
        self.totals[minute] = self.totals.get(minute, 0) + 1
        cluster = self._near_duplicate(vector.signature, at)
        if cluster is None:
            cluster, dot = self._nearest(vector.weights, at)
            self._absorb(cluster, vector.weights, dot, at)
            cluster.members.append(
                Member(
                    text.event_id,
                    at,
                    text.text[:SAMPLE_CHARS],
                    text.priority,
                    text.negative,
                    text.source,
                    text.channel,
                    text.category,
                    content_terms(text.tokens[:MAX_TOKENS], text.text[:TERMS_CHARS]),
                )
            )
        else:
            self.folded += 1
            self.clusters.move_to_end(cluster.id)
        self._remember(vector.signature, cluster.id, at)
        self._count(cluster, text, minute)
        return cluster

    def _near_duplicate(self, signature: tuple[int, ...], at: float) -> Cluster | None:
        near = self.near
        for place, value in enumerate(signature):
            entry = near.get(value | place << 32)
            if (
                entry is not None
                and at - entry[2] <= NEAR_DUPLICATE_SECONDS
                and agreement(entry[1], signature) >= NEAR_DUPLICATE_AGREEMENT
            ):
                cluster = self.clusters.get(entry[0])
                if cluster is not None:
                    return cluster
        return None

    def _remember(self, signature: tuple[int, ...], cluster_id: int, at: float) -> None:
        near = self.near
        entry = (cluster_id, signature, at)
        for place, value in enumerate(signature):
            key = value | place << 32
            near.pop(key, None)  # re-inserted last: the dict stays oldest first
            near[key] = entry
        if len(near) > MAX_NEAR_DUPLICATES:
            # In bulk: the oldest quarter, and whatever is older than the horizon.
            horizon = at - NEAR_DUPLICATE_SECONDS
            for index, (key, (_, _, seen)) in enumerate(list(near.items())):
                if index >= MAX_NEAR_DUPLICATES // 4 and seen >= horizon:
                    break
                del near[key]

    def _nearest(self, weights: Mapping[str, float], at: float) -> tuple[Cluster, float]:
        """The cluster a text joins (a new one if none is near enough), and the dot product
        of the text with its centroid before it joins."""
        scores: dict[int, float] = {}
        postings = self.postings
        for feature, weight in weights.items():
            posting = postings.get(feature)
            if posting:
                for cluster_id, value in posting.items():
                    scores[cluster_id] = scores.get(cluster_id, 0.0) + weight * value
        if scores:
            best = self.clusters[max(scores, key=scores.__getitem__)]
            dot = sum(map(mul, weights.values(), map(best.centroid.get, weights, _ZEROS)))
            if dot >= self.similarity * math.sqrt(best.norm2):
                self.clusters.move_to_end(best.id)
                return best, dot
        return self._new_cluster(at), 0.0

    def _new_cluster(self, at: float) -> Cluster:
        cluster = Cluster(self._next_id, at)
        self._next_id += 1
        self.clusters[cluster.id] = cluster
        while len(self.clusters) > self.max_clusters:
            _, old = self.clusters.popitem(last=False)
            self._unindex(old)
        return cluster

    def _absorb(
        self, cluster: Cluster, weights: Mapping[str, float], dot: float, at: float
    ) -> None:
        weight = math.exp(self.rate * (at - self._origin))
        centroid = cluster.centroid
        for feature, value in weights.items():
            centroid[feature] = centroid.get(feature, 0.0) + weight * value
        cluster.norm2 += 2 * weight * dot + weight * weight
        cluster.additions += 1
        if len(centroid) > MAX_CENTROID_FEATURES:
            kept = sorted(centroid, key=centroid.__getitem__, reverse=True)
            cluster.centroid = {f: centroid[f] for f in kept[: MAX_CENTROID_FEATURES // 2]}
            cluster.norm2 = math.fsum(w * w for w in cluster.centroid.values())
            self._index(cluster)
        elif cluster.additions <= REINDEX_EVERY or cluster.additions % REINDEX_EVERY == 0:
            self._index(cluster)

    def _rescale(self, at: float) -> None:
        """Move the origin of the growing weights to ``at`` (every centroid shrinks alike:
        no cosine changes)."""
        factor = math.exp(-self.rate * (at - self._origin))
        for cluster in self.clusters.values():
            cluster.centroid = {f: w * factor for f, w in cluster.centroid.items()}
            cluster.norm2 *= factor * factor
        self._origin = at

    def _index(self, cluster: Cluster) -> None:
        self._unindex(cluster)
        cluster.indexed = cluster.unit(INDEXED_FEATURES)
        postings = self.postings
        for feature, value in cluster.indexed.items():
            posting = postings.get(feature)
            if posting is None:
                postings[feature] = {cluster.id: value}
                continue
            posting[cluster.id] = value
            if len(posting) > MAX_POSTING:
                # A common word (味道, 质量) heads many small clusters: it keeps those that
                # weigh it most, and a look-up costs no more than MAX_POSTING entries.
                del posting[min(posting, key=posting.__getitem__)]

    def _unindex(self, cluster: Cluster) -> None:
        for feature in cluster.indexed:
            posting = self.postings.get(feature)
            if posting is not None:
                posting.pop(cluster.id, None)
                if not posting:
                    del self.postings[feature]

    def _count(self, cluster: Cluster, text: TopicText, minute: int) -> None:
        at = text.event_time
        cluster.last_seen = max(cluster.last_seen, at)
        authors = cluster.authors
        last = authors.pop(text.author, None)
        authors[text.author] = at  # last: the authors stay in the order of their last texts
        horizon = at - self.window_seconds
        stale = []  # not seen within the window: they would count anew
        for author, seen in authors.items():
            if seen >= horizon:
                break
            stale.append(author)
        for author in stale:
            del authors[author]
        if last is not None and at - last < self.window_seconds:
            return  # this author was counted in this cluster within the window
        counts = cluster.minutes.get(minute)
        if counts is None:
            counts = cluster.minutes[minute] = [0, 0, 0]
            oldest = minute - self.retain_minutes
            for old in [m for m in cluster.minutes if m < oldest]:
                del cluster.minutes[old]
        counts[0] += 1
        counts[1] += text.negative
        counts[2] += text.priority == Priority.P1

    def _prune_totals(self, minute: int) -> None:
        oldest = minute - self.retain_minutes
        for old in [m for m in self.totals if m < oldest]:
            del self.totals[old]

    # --- what the emergence test reads ---------------------------------------------------
    def active(self, since_minute: int, floor: int) -> Iterator[tuple[Cluster, int]]:
        """Clusters with at least ``floor`` authors counted since ``since_minute``."""
        since = since_minute * MINUTE
        for cluster in self.clusters.values():
            if cluster.last_seen >= since:
                count = cluster.count(since_minute)
                if count >= floor:
                    yield cluster, count

    def similar(self, features: Mapping[str, float], threshold: float) -> Iterator[Cluster]:
        """Clusters whose unit centroid has a cosine of at least ``threshold`` with the unit
        vector ``features`` (found through the index)."""
        seen: set[int] = set()
        for feature in features:
            for cluster_id in self.postings.get(feature, ()):
                if cluster_id not in seen:
                    seen.add(cluster_id)
                    cluster = self.clusters[cluster_id]
                    if cluster.cosine(features) >= threshold:
                        yield cluster

    def groups(
        self, now: float, *, window_seconds: int, floor: int, merge_similarity: float, limit: int
    ) -> list[TopicGroup]:
        """The clusters active in the last ``window_seconds`` (``floor`` authors or more),
        joined into groups of similar clusters (centroid cosine ≥ ``merge_similarity``),
        the busiest first, at most ``limit``. A group's counts are those of every cluster
        within the clustering similarity of its centroid, quiet ones too: what was said the
        same way before counts in its baseline, whichever cluster it joined then (a
        cluster formed in the first minutes after a start may not be like today's). Every
        cluster counts in one group at most."""
        since_minute = int((now - window_seconds) // MINUTE)
        active = sorted(self.active(since_minute, floor), key=lambda item: -item[1])
        taken: set[int] = set()
        groups: list[TopicGroup] = []
        for seed, _ in active:
            if seed.id in taken or len(groups) >= limit:
                continue
            features = seed.unit(GROUP_FEATURES)
            members = [seed]
            taken.add(seed.id)
            for cluster in self.similar(features, merge_similarity):
                if cluster.id not in taken:
                    taken.add(cluster.id)
                    members.append(cluster)
            # Unit centroids weighted by their recent counts: the busy clusters lead.
            features = unit_sum(
                ((max(1, c.count(since_minute)), c.unit(GROUP_FEATURES)) for c in members),
                GROUP_FEATURES,
            )
            counted = list(members)
            for cluster in self.similar(features, self.similarity):
                if cluster.id not in taken:
                    taken.add(cluster.id)
                    counted.append(cluster)
            groups.append(self._group(members, counted, features, since_minute))
        return groups

    def _group(
        self,
        members: list[Cluster],
        counted: list[Cluster],
        features: dict[str, float],
        since_minute: int,
    ) -> TopicGroup:
        minutes: dict[int, list[int]] = {}
        for cluster in counted:
            for minute, counts in cluster.minutes.items():
                total = minutes.setdefault(minute, [0, 0, 0])
                for i, value in enumerate(counts):
                    total[i] += value
        recent = _recent(members, since_minute)
        # The words of every text counted, not only of the group's own clusters: a problem
        # whose texts formed several small clusters (the order they came in decides) is
        # counted whole, and must be explained by the words of all of them — its own
        # clusters' few texts may share one word only, too few to name it.
        terms: Counter[str] = Counter()
        counted_recent = _recent(counted, since_minute) if len(counted) > len(members) else recent
        for member in counted_recent:
            terms.update(member.terms)
        return TopicGroup(
            features=features,
            minutes={str(m): c for m, c in sorted(minutes.items())},
            first_seen=min(c.first_seen for c in members),
            last_seen=max(c.last_seen for c in members),
            terms=dict(terms.most_common(GROUP_TERMS)),
            texts=len(counted_recent),
            samples=[
                GroupSample(
                    m.event_id, m.text, m.priority, m.source, m.channel, m.event_time, m.negative
                )
                for m in islice(recent, GROUP_SAMPLES)
            ],
            channels=dict(Counter(m.channel for m in recent if m.channel)),
            categories=dict(Counter(m.category for m in recent)),
            sources=dict(Counter(m.source for m in recent)),
            event_ids=[m.event_id for m in recent[:GROUP_EVENT_IDS]],
        )


def _recent(clusters: Iterable[Cluster], since_minute: int) -> list[Member]:
    """The clusters' texts from ``since_minute`` on, the newest first."""
    return sorted(
        (m for c in clusters for m in c.members if m.event_time >= since_minute * MINUTE),
        key=lambda m: -m.event_time,
    )
