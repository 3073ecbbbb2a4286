"""Emerging topics (新问题): the problems no rule names yet, found by clustering the stream.

Two calls from the worker:

* :meth:`EmergingMonitor.observe` — after every batch, with the batch's new texts of the
  configured polarities (negative and neutral by default): each is vectorised
  (:mod:`alerts.emerging_features`) and clustered (:mod:`alerts.emerging_clusters`), in
  memory, with no I/O. It never raises: an error is logged and counted, the stream goes on.
* :meth:`EmergingMonitor.step` — on the worker's timer: the worker publishes its report
  (texts per minute, groups of similar active clusters) to Redis; the one worker that
  claims the step reads every worker's report, merges the groups (the same topic on two
  workers' partitions is one topic), judges each (:mod:`alerts.emerging`), gives the ones
  that emerge a stable id (a known topic continues under its id while it lasts) and hands
  each topic with an id to the alert engine as a :class:`~alerts.engine.Subject`: one
  lifecycle, store, routing, silences and sinks for every alert. It also keeps the watch
  list of the busiest groups for ``GET /api/emerging``.

An alert's record has ``kind: "emerging_topic"``, ``key: {"topic": <id>}``, the common
fields (``count`` is authors in the window, ``terms`` its words and phrases against all
recent traffic, ``samples`` three masked texts that say different things, ``channels``,
``baseline.expected``, ``severity`` = growth) and in ``details``: ``topic_id``, ``growth``,
``baseline_count``, ``categories``, ``sources``, ``first_text_at`` and ``last_text_at``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerts.contacts import SAMPLE_CHARS
from alerts.emerging import (
    Assessment,
    Combined,
    EmergencePolicy,
    KnownTopic,
    TopicGroup,
    WorkerReport,
    assess,
    combine,
    continued,
    diverse_samples,
    gather_known,
    join_rising,
    likeness,
    match_known,
    new_topic,
)
from alerts.emerging_clusters import MINUTE, TopicClusters, TopicText
from alerts.emerging_features import TopicVectorizer
from alerts.emerging_prior import EmergingPrior
from alerts.emerging_store import EmergingStore
from alerts.engine import AlertEngine, Subject
from alerts.evaluate import Evaluation
from alerts.explain import KeyActivity
from alerts.lifecycle import Alert, Sample, Term, Window, fingerprint
from alerts.rules import Rule, WindowCounts
from vocwatch.metrics import Metrics
from vocwatch.vocabulary import AlertKind, AlertStatus, Measure, Priority

log = logging.getLogger(__name__)

RULE_NAME = "emerging_topic"
DESCRIPTION = (
    "新问题：此前没有的一类相似投诉正在增多 (emerging topic: similar complaints, new and rising)"
)
HALF_LIFE_SECONDS = 1800.0  # of a text's weight in its cluster's centroid
REPORT_FLOOR = 3  # clusters with fewer authors in the window are not reported
MAX_GROUPS = 30  # reported by a worker per step, the busiest first
WATCH_SIZE = 10  # groups in the watch list, with at least WATCH_FLOOR authors
WATCH_FLOOR = 3
# A new topic needs this many words or phrases that explain it (alerts.explain): one
# common word that happens to be frequent for a while (不怎么样, 自动) is not a topic.
MIN_TERMS = 2
QUIET_GRACE = 0.2  # of the window: how long a known topic may go unseen before it is judged
# An emerging group this alike (alerts.emerging.likeness) to a known topic is that topic
# still finding its words, not a new one.
NEAR_KNOWN = 0.3


@dataclass(frozen=True)
class EmergingConfig:
    """The monitor's settings (from :class:`vocwatch.settings.Settings`)."""

    polarities: frozenset[str]
    policy: EmergencePolicy
    similarity: float
    max_clusters: int
    priority: Priority
    step_seconds: float

    @classmethod
    def from_settings(cls, settings: Any) -> EmergingConfig:
        return cls(
            polarities=frozenset(settings.emerging_polarities),
            policy=EmergencePolicy(
                window_seconds=settings.emerging_window_seconds,
                baseline_seconds=settings.emerging_baseline_seconds,
                min_count=settings.emerging_min_count,
                min_growth=settings.emerging_min_growth,
                p_value=settings.emerging_p_value,
            ),
            similarity=settings.emerging_similarity,
            max_clusters=settings.emerging_max_clusters,
            priority=Priority(settings.emerging_priority),
            step_seconds=settings.evaluation_seconds,
        )

    def rule(self) -> Rule:
        """The rule emerging-topic alerts are named by: routes and silences match
        ``rule: emerging_topic``; reminders every hour; no ``for:``."""
        return Rule(
            name=RULE_NAME,
            description=DESCRIPTION,
            key=(),
            where={},
            window_seconds=self.policy.window_seconds,
            measure=Measure.COUNT,
            threshold=float(self.policy.min_count),
            min_count=self.policy.min_count,
            resolve_ratio=self.policy.resolve_ratio,
            priority=self.priority,
        )


@dataclass(frozen=True)
class Decision:
    """One topic at one step: its id (None: not a topic yet), its merged group (None: no
    group continues it now), and the judgement."""

    topic: KnownTopic | None
    group: TopicGroup | None
    assessment: Assessment


class EmergingMonitor:
    def __init__(
        self,
        config: EmergingConfig,
        store: EmergingStore,
        metrics: Metrics,
        *,
        engine: AlertEngine | None = None,
        activity: KeyActivity | None = None,
        prior: EmergingPrior | None = None,
        worker: str | None = None,
    ) -> None:
        """``engine``: where topics become alerts (none: decisions only, as the evaluation
        harness runs it); ``activity``: the background the topics' words are ranked
        against (by default the engine's)."""
        self.config = config
        self.store = store
        self.metrics = metrics
        self.engine = engine
        self.activity = activity or (engine.activity if engine else KeyActivity())
        self.worker = worker or uuid.uuid4().hex[:12]
        self.rule = config.rule()
        self.vectorizer = TopicVectorizer(prior or EmergingPrior.load())
        policy = config.policy
        self.clusters = TopicClusters(
            similarity=config.similarity,
            half_life_seconds=HALF_LIFE_SECONDS,
            window_seconds=policy.window_seconds,
            retain_seconds=policy.window_seconds + policy.baseline_seconds + MINUTE,
            max_clusters=config.max_clusters,
        )

    def wants(self, polarity: str) -> bool:
        return polarity in self.config.polarities

    # --- the hot path ------------------------------------------------------------------
    def observe(self, texts: Iterable[TopicText]) -> None:
        """Cluster a batch's new texts. Never raises."""
        clustered = empty = 0
        folded = self.clusters.folded
        try:
            texts = list(texts)
            vectors = self.vectorizer.vectors([(t.tokens, t.event_time) for t in texts])
            add = self.clusters.add
            for text, topic_vector in zip(texts, vectors, strict=True):
                if topic_vector is None:
                    empty += 1
                else:
                    add(text, topic_vector)
                    clustered += 1
        except Exception:  # the stream must go on; the detection is best effort
            log.exception("emerging-topic clustering failed on a batch")
            self.metrics.emerging_errors.labels("observe").inc()
        folded = self.clusters.folded - folded
        texts_metric = self.metrics.emerging_texts
        texts_metric.labels("clustered").inc(clustered - folded)
        texts_metric.labels("near_duplicate").inc(folded)
        texts_metric.labels("no_content").inc(empty)

    # --- the timer ---------------------------------------------------------------------
    async def step(self, now: float) -> list[Alert]:
        """Report; if this worker takes the step, decide and advance the topics' alerts.
        Returns the alert records emitted."""
        started = time.perf_counter()
        try:
            decisions = await self.decide(now)
            if not decisions or self.engine is None:
                return []
            return await self._advance(decisions, now)
        finally:
            self.metrics.emerging_step_seconds.observe(time.perf_counter() - started)

    def report(self, now: float) -> WorkerReport | None:
        clusters = self.clusters
        if clusters.started is None:
            return None
        groups = clusters.groups(
            now,
            window_seconds=self.config.policy.window_seconds,
            floor=REPORT_FLOOR,
            merge_similarity=self.config.policy.merge_similarity,
            limit=MAX_GROUPS,
        )
        totals = {str(m): n for m, n in clusters.totals.items()}
        return WorkerReport(self.worker, clusters.started, totals, groups)

    async def decide(self, now: float) -> list[Decision] | None:
        """Publish this worker's report; None if another worker takes this step, else the
        decisions on every group and known topic."""
        report = self.report(now)
        if report is not None:
            await self.store.publish(report, now)
        if not await self.store.claim_step(int(now // self.config.step_seconds)):
            return None
        policy = self.config.policy
        combined = combine(await self.store.reports(now), policy.merge_similarity)
        known = await self.store.known()
        decisions = self._decisions(combined, known, now) if combined else []
        matched = {d.topic.id for d in decisions if d.topic is not None}
        quiet = [t for t in known if t.id not in matched]
        for topic in quiet:
            # A topic's group can miss a step (its cluster counted in a busier group, or
            # below the report's limit): unseen for less than QUIET_GRACE of the window, a
            # topic is not judged, and its alert stays as it is.
            if now - topic.last_seen >= policy.window_seconds * QUIET_GRACE:
                decisions.append(Decision(topic, None, _nothing(now, policy)))
        await self.store.remember([d.topic for d in decisions if d.group and d.topic])
        await self.store.forget(t.id for t in quiet if now - t.last_seen > policy.baseline_seconds)
        await self.store.save_watch(self._watch(decisions, now))
        return decisions

    def _decisions(
        self, combined: Combined, known: Sequence[KnownTopic], now: float
    ) -> list[Decision]:
        policy = self.config.policy
        groups = join_rising(combined.groups, combined.totals, combined.started, now, policy)
        groups = gather_known(groups, known, policy.merge_similarity)
        matches = match_known(groups, known, policy.merge_similarity)
        decisions = []
        for index, group in enumerate(groups):
            assessment = assess(group, combined.totals, combined.started, now, policy)
            topic = matches.get(index)
            if topic is not None:
                topic = continued(topic, group, now)
            elif assessment.emerging and self._new(group, assessment, known):
                topic = new_topic(group, now)
            decisions.append(Decision(topic, group, assessment))
        return decisions

    def _new(self, group: TopicGroup, assessment: Assessment, known: Sequence[KnownTopic]) -> bool:
        """Whether an emerging group no known topic continues is a new topic: not a known
        topic still finding its words, and explained by at least :data:`MIN_TERMS` terms."""
        if any(likeness(group, topic) >= NEAR_KNOWN for topic in known):
            return False
        return len(self.terms(group, assessment.window_start)) >= MIN_TERMS

    async def _advance(self, decisions: Sequence[Decision], now: float) -> list[Alert]:
        assert self.engine is not None  # noqa: S101 — step() checks
        tracked = [d for d in decisions if d.topic is not None]
        keys = {d.topic.id: _key(d.topic.id) for d in tracked if d.topic}
        current = await self.engine.store.get_many(
            [fingerprint(self.rule.name, key) for key in keys.values()]
        )
        emitted = []
        for decision in tracked:
            assert decision.topic is not None  # noqa: S101 — tracked
            subject = self.subject(decision, now)
            alert = await self.engine.advance_subject(
                subject, now, current.get(subject.fingerprint)
            )
            if alert is not None:
                emitted.append(alert)
        return emitted

    def subject(self, decision: Decision, now: float) -> Subject:
        """What the engine needs of one topic at this step."""
        assert decision.topic is not None  # noqa: S101 — only topics with an id
        topic, group, a = decision.topic, decision.group, decision.assessment
        evaluation = Evaluation(
            WindowCounts(count=a.count, negative=a.negative, p1=a.p1),
            float(a.count),
            a.emerging,
            a.holds,
            a.growth,
            a.expected,
            None,
        )
        window = Window(a.window_start, now)
        if group is None:
            return Subject(self.rule, _key(topic.id), AlertKind.EMERGING_TOPIC, evaluation, window)
        top_category = _most(group.categories)
        facts = {"topic": topic.id, "category": top_category, "source": _most(group.sources)}
        return Subject(
            self.rule,
            _key(topic.id),
            AlertKind.EMERGING_TOPIC,
            evaluation,
            window,
            samples=tuple(
                Sample(
                    s.event_id,
                    s.text[:SAMPLE_CHARS],
                    s.priority,
                    s.event_time,
                    s.negative,
                    s.source,
                    s.channel,
                )
                for s in diverse_samples(group.samples)
            ),
            terms=self.terms(group, a.window_start),
            channels=tuple(sorted(group.channels)),
            details={
                "topic_id": topic.id,
                "growth": a.growth,
                "baseline_count": a.baseline,
                "categories": _ranked(group.categories, "category"),
                "sources": _ranked(group.sources, "source"),
                "first_text_at": _iso(group.first_seen),
                "last_text_at": _iso(group.last_seen),
            },
            route_facts={k: v for k, v in facts.items() if v},
        )

    def terms(self, group: TopicGroup, since: float) -> tuple[Term, ...]:
        """The group's words and phrases over-represented against all recent traffic
        (:meth:`alerts.explain.KeyActivity.rank`)."""
        return self.activity.rank(group.terms, group.texts, since)

    def _watch(self, decisions: Sequence[Decision], now: float) -> list[dict[str, Any]]:
        """The busiest groups of this step, as the API shows them."""
        busy = sorted(
            (d for d in decisions if d.group and d.assessment.count >= WATCH_FLOOR),
            key=lambda d: (-d.assessment.emerging, -d.assessment.count),
        )[:WATCH_SIZE]
        watch = []
        for decision in busy:
            group, a = decision.group, decision.assessment
            assert group is not None  # noqa: S101 — filtered above
            watch.append(
                {
                    "topic_id": decision.topic.id if decision.topic else None,
                    "emerging": a.emerging,
                    "count": a.count,
                    "baseline_count": a.baseline,
                    "expected": a.expected,
                    "growth": a.growth,
                    "terms": [
                        {"term": t.term, "count": t.count, "lift": t.lift}
                        for t in self.terms(group, a.window_start)
                    ],
                    "samples": [
                        {"id": s.event_id, "text": s.text[:SAMPLE_CHARS], "channel": s.channel}
                        for s in diverse_samples(group.samples)
                    ],
                    "categories": _ranked(group.categories, "category"),
                    "channels": sorted(group.channels),
                    "first_text_at": _iso(group.first_seen),
                    "last_text_at": _iso(group.last_seen),
                    "updated_at": _iso(now),
                }
            )
        return watch

    async def topics(self, limit: int = 50) -> dict[str, Any]:
        """``GET /api/emerging``: the emerging-topic alerts (active, then recently
        resolved) and the watch list."""
        if self.engine is None:
            return {"topics": [], "watch": await self.store.watch()}
        read = await self.engine.store.active()
        active = await read.alerts(s for s in read.summaries if s.kind == AlertKind.EMERGING_TOPIC)
        resolved = [a for a in await self.engine.store.history() if _is_topic(a)]
        active.sort(key=lambda a: (a.status != AlertStatus.FIRING, -a.first_seen))
        alerts = [*active, *resolved][:limit]
        return {"topics": [a.to_record() for a in alerts], "watch": await self.store.watch()}


def _is_topic(alert: Alert) -> bool:
    return alert.kind == AlertKind.EMERGING_TOPIC


def _key(topic: str) -> str:
    """The incident key of a topic's alert: ``topic=<id>``."""
    return f"topic={topic}"


def _nothing(now: float, policy: EmergencePolicy) -> Assessment:
    """The judgement of a known topic no group continues now."""
    return assess(None, {}, now - 2 * policy.window_seconds, now, policy)


def _most(counts: Mapping[str, int]) -> str:
    return min(counts, key=lambda k: (-counts[k], k)) if counts else ""


def _ranked(counts: Mapping[str, int], name: str) -> list[dict[str, Any]]:
    return [
        {name: key, "count": count}
        for key, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
