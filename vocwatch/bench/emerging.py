"""``vocwatch eval-emerging``: how well emerging topics are found, on real background.

Background: real Chinese reviews read where they lie (``--data``, by default
``../shared/data``: the e-commerce reviews of ``online_shopping_10_cats.zip``, the
restaurant sentences of ``absa_zhang_restaurant/``, the cosmetics reviews of
``zhijiang2019_cosmetics/``, the review sentences of ``senticnet_reviews/`` and the long
reviews of ``asap_samples/``), shuffled per run and played as a stream of ``--rate`` texts
a second, each from its own customer. Incidents: the project's ``data/emerging/incidents.yaml``
(novel problems told by many customers in their own words); each injection takes ``size``
of an incident's texts, from different customers, spread over two to five minutes.

Everything runs in simulated time through the worker's own code: the texts are analysed
by the real analyzer, and the clustering and decisions are
:class:`alerts.emerging_monitor.EmergingMonitor` with the packaged defaults (or the
``VOCWATCH_EMERGING_*`` variables set), its batches every 0.25 s and its steps every
``VOCWATCH_EVALUATION_SECONDS``, with ``--workers`` monitors sharing one store (each a
share of the texts, as Kafka partitions give them) — only Redis and Kafka are not there.

Two scenarios:

* **steady**: ``--runs`` runs of ``--hours`` of background each, an incident every
  ``--gap`` minutes from the tenth minute on, sizes cycling through ``--sizes``;
* **cold start**: ``--cold-runs`` runs in which the service starts with the background
  and an incident of 20 texts begins three minutes later (every incident in turn).

An alert belongs to an incident when most of the recent texts of its topic are that
incident's; else it is a false alert. Reported: recall per size (an incident of at least
20 texts must be found: target ≥ 0.9), false alerts per hour of background (≤ 1),
detection delay after the 20th text (median ≤ 60 s), and for the cold start the share
alerted within two minutes of the 20th text; the terms each alert named.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import statistics
import sys
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alerts.emerging import KnownTopic, WorkerReport
from alerts.emerging_clusters import TopicText
from alerts.emerging_monitor import Decision, EmergingConfig, EmergingMonitor
from alerts.explain import KeyActivity, content_terms
from vocwatch.settings import Settings

PROJECT = Path(__file__).resolve().parents[2]
INCIDENTS = PROJECT / "data" / "emerging" / "incidents.yaml"
BACKGROUNDS = ("reviews", "project")  # or the path of a JSON-lines file
MAX_BACKGROUND_TEXTS = 1_000_000  # of a file: an even sample beyond
BATCH_SECONDS = 0.25
COLD_START_SECONDS = 180.0
COLD_DEADLINE_SECONDS = 120.0
COLD_RUN_SECONDS = 900.0
TARGET_SIZE = 20  # the targets are for incidents of this many texts or more
BACKGROUND_CHANNEL = "app"  # reviews are app and web feedback
COMPLAINT_CHANNELS = ("hotline", "app", "web", "wechat")
PLATFORMS = ("weibo", "douyin", "xiaohongshu")
# The channel an incident text of each source is analysed for (its polarity cut-offs).
ANALYSIS_CHANNEL = {"complaint": "app", "call": "call", "social": "social"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("../shared/data"),
        help="folder of the background corpora (default: ../shared/data)",
    )
    parser.add_argument("--incidents", type=Path, default=INCIDENTS)
    parser.add_argument(
        "--background",
        default="reviews",
        help="reviews: the corpora's reviews (default); project: the project's labelled "
        "customer-service texts of fourteen industries (tickets, calls, posts); or a JSON-lines "
        "file of your own traffic, one object with a 'text' per line",
    )
    parser.add_argument("--rate", type=float, default=5.0, help="background texts a second")
    parser.add_argument("--hours", type=float, default=2.0, help="background per steady run")
    parser.add_argument("--runs", type=int, default=3, help="steady runs (seeds 1…)")
    parser.add_argument("--cold-runs", type=int, default=11, help="cold-start runs")
    parser.add_argument("--gap", type=float, default=10.0, help="minutes between incidents")
    parser.add_argument(
        "--sizes",
        default="10,15,20,30,40",
        help="texts per injected incident, cycled (default: %(default)s)",
    )
    parser.add_argument("--workers", type=int, default=1, help="monitors sharing the texts")
    parser.add_argument("--json", action="store_true", help="print only the JSON figures")


def run(args: argparse.Namespace) -> int:
    say = (lambda *_: None) if args.json else _say
    settings = Settings.from_env({k: v for k, v in _environ().items() if k.startswith("VOCWATCH_")})
    figures = evaluate(
        background_path=args.data,
        background_kind=args.background,
        incidents_path=args.incidents,
        settings=settings,
        rate=args.rate,
        hours=args.hours,
        runs=args.runs,
        cold_runs=args.cold_runs,
        gap_minutes=args.gap,
        sizes=tuple(int(s) for s in args.sizes.split(",")),
        workers=args.workers,
        say=say,
    )
    if not args.json:
        _print_report(figures)
    print(json.dumps(figures["summary"], ensure_ascii=False))
    return 0


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    sources: dict[str, float]
    texts: tuple[str, ...]


def load_incidents(path: Path) -> list[Incident]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Incident(i["id"], i["title"], dict(i["sources"]), tuple(i["texts"]))
        for i in data["incidents"]
    ]


def background_texts(folder: Path, kind: str = "reviews") -> Iterator[tuple[str, str]]:
    """(corpus, text) of every background text, read where it lies. Reviews: the
    e-commerce reviews are required, the other corpora are read when present. Project:
    the labelled texts of ``data/labelled`` (their references to corpus rows read in
    ``folder``), by industry. Anything else: the path of a JSON-lines file with a ``text``
    per line (as ``vocwatch adapt --texts`` reads it; a ConfigError names a bad line)."""
    if kind == "project":
        from classifiers.train.corpora import LABELLED, labelled

        for example in labelled(LABELLED, folder):
            yield f"project:{example.domain}", example.text
        return
    if kind not in BACKGROUNDS:  # a JSON-lines file of the user's own traffic
        from classifiers.train.adapt import read_texts

        path = Path(kind)
        texts, _, _ = read_texts(path, limit=MAX_BACKGROUND_TEXTS)
        yield from ((path.name, text) for text in texts)
        return
    if not (folder / SHOPPING).exists():
        raise FileNotFoundError(f"{folder / SHOPPING}: the background reviews (--data FOLDER)")
    for corpus, read in _CORPORA:
        for text in read(folder):
            yield corpus, text


SHOPPING = "online_shopping_10_cats.zip"


def _shopping(folder: Path) -> Iterator[str]:
    from classifiers.train.corpora import shopping

    return (example.text for example in shopping(folder))


def _restaurant(folder: Path) -> Iterator[str]:
    """Sentences as space-separated characters, then ``####`` and their annotations."""
    for name in ("train", "dev", "test"):
        path = folder / "absa_zhang_restaurant" / f"{name}.txt"
        lines = path.read_text(encoding="utf-8-sig").splitlines() if path.exists() else []
        yield from filter(None, (line.split("####", 1)[0].replace(" ", "") for line in lines))


def _csv_column(path: Path, column: str) -> Iterator[str]:
    if path.exists():
        with path.open(encoding="utf-8-sig", newline="") as file:
            yield from (row[column] for row in csv.DictReader(file) if row[column])


def _cosmetics(folder: Path) -> Iterator[str]:
    return _csv_column(folder / "zhijiang2019_cosmetics" / "Train_reviews.csv", "Reviews")


def _senticnet(folder: Path) -> Iterator[str]:
    path = folder / "senticnet_reviews" / "chinese-review-datasets.zip"
    if not path.exists():
        return
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            if name.endswith("_sentence.txt") and not name.startswith("__MACOSX"):
                lines = archive.read(name).decode("utf-8").splitlines()
                yield from (line.strip() for line in lines if line.strip())


def _asap(folder: Path) -> Iterator[str]:
    for name in ("train", "dev", "test"):
        yield from _csv_column(folder / "asap_samples" / f"{name}_sample.csv", "reviewbody")


_CORPORA = (
    ("online_shopping_10_cats", _shopping),
    ("absa_zhang_restaurant", _restaurant),
    ("zhijiang2019_cosmetics", _cosmetics),
    ("senticnet_reviews", _senticnet),
    ("asap_samples", _asap),
)


@dataclass(frozen=True)
class Analysed:
    text: str
    tokens: tuple[str, ...]
    polarity: str
    priority: Any
    negative: bool
    category: str


def analyse(analyzer: Any, text: str, channel: str) -> Analysed:
    a = analyzer.analyze(text, channel=channel)
    return Analysed(a.text, a.tokens, a.polarity, a.priority.level, a.negative, a.category)


# --- the simulation ---------------------------------------------------------------------------


class MemoryStore:
    """:class:`alerts.emerging_store.EmergingStore` in memory: what Redis holds for the
    workers, with the reports passed through JSON as they would be."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._reports: dict[str, tuple[float, str]] = {}
        self._step = -1
        self._known: dict[str, KnownTopic] = {}
        self._watch: list[dict[str, Any]] = []

    async def publish(self, report: WorkerReport, now: float) -> None:
        self._reports[report.worker] = (now, json.dumps(report.to_json(), ensure_ascii=False))

    async def reports(self, now: float) -> list[WorkerReport]:
        return [
            WorkerReport.from_json(json.loads(raw))
            for at, raw in self._reports.values()
            if now - at <= self.ttl
        ]

    async def claim_step(self, step: int) -> bool:
        if step > self._step:
            self._step = step
            return True
        return False

    async def known(self) -> list[KnownTopic]:
        return list(self._known.values())

    async def remember(self, topics: Sequence[KnownTopic]) -> None:
        self._known.update((t.id, t) for t in topics)

    async def forget(self, ids: Any) -> None:
        for topic in ids:
            self._known.pop(topic, None)

    async def save_watch(self, groups: Sequence[dict[str, Any]]) -> None:
        self._watch = list(groups)

    async def watch(self) -> list[dict[str, Any]]:
        return self._watch


@dataclass
class Injection:
    index: int
    incident: str
    size: int
    start: float
    times: list[float]

    @property
    def reference(self) -> float:
        """The moment the targets count from: the 20th text (the last if fewer)."""
        return self.times[min(TARGET_SIZE, self.size) - 1]


@dataclass
class AlertSeen:
    topic: str
    at: float
    label: int | None  # the injection it belongs to; None: background (a false alert)
    count: int
    terms: list[str]
    samples: list[str]


@dataclass
class RunResult:
    seconds: float
    injections: list[Injection]
    alerts: list[AlertSeen] = field(default_factory=list)
    observe_seconds: float = 0.0
    texts: int = 0


@dataclass(frozen=True)
class Streamed:
    at: float
    text: TopicText
    polarity: str
    label: int | None  # the injection; None: background


@dataclass(frozen=True)
class Stream:
    """A run's texts in time order."""

    events: list[Streamed]
    injections: list[Injection]
    seconds: float


def build_stream(
    rng: random.Random,
    background: Sequence[Analysed],
    incidents: Sequence[Incident],
    incident_texts: dict[tuple[str, int, str], Analysed],
    *,
    rate: float,
    seconds: float,
    schedule: Sequence[tuple[float, str, int]],
    run: int,
) -> Stream:
    """Background at ``rate`` (Poisson arrivals) for ``seconds``; the scheduled incidents
    ((start, incident id, size)) each over two to five minutes."""
    order = list(range(len(background)))
    rng.shuffle(order)
    events: list[Streamed] = []
    at, index = rng.expovariate(rate), 0
    while at < seconds:
        a = background[order[index % len(order)]]
        text = _topic_text(f"bg{run}-{index}", at, "complaint", BACKGROUND_CHANNEL, a)
        events.append(Streamed(at, text, a.polarity, None))
        index += 1
        at += rng.expovariate(rate)
    by_id = {i.id: i for i in incidents}
    injections = []
    for number, (start, incident_id, size) in enumerate(schedule):
        incident = by_id[incident_id]
        picks = list(range(len(incident.texts)))
        rng.shuffle(picks)
        duration = rng.uniform(120.0, 300.0)
        times = sorted(start + rng.uniform(0.0, duration) for _ in range(size))
        for k, moment in enumerate(times):
            pick = picks[k % len(picks)]
            source = rng.choices(list(incident.sources), weights=list(incident.sources.values()))[0]
            a = incident_texts[(incident_id, pick, ANALYSIS_CHANNEL[source])]
            text = _topic_text(f"in{run}-{number}-{k}", moment, source, _channel(rng, source), a)
            events.append(Streamed(moment, text, a.polarity, number))
        injections.append(Injection(number, incident_id, size, start, times))
    events.sort(key=lambda e: e.at)
    return Stream(events, injections, seconds)


def _channel(rng: random.Random, source: str) -> str:
    if source == "social":
        return rng.choice(PLATFORMS)
    if source == "call":
        return "call"
    return rng.choice(COMPLAINT_CHANNELS)


def _topic_text(event_id: str, at: float, source: str, channel: str, a: Analysed) -> TopicText:
    return TopicText(
        event_id,
        f"author-{event_id}",
        at,
        source,
        channel,
        a.text,
        a.tokens,
        a.priority,
        a.negative,
        a.category,
    )


class Simulation:
    """``workers`` monitors sharing one store, fed a stream in batches, stepped on their
    timer; the alerts they raise, as the lifecycle would (a topic alerts when it emerges
    and it has no open alert; the alert closes when it no longer holds)."""

    def __init__(self, stream: Stream, settings: Settings, workers: int) -> None:
        from prometheus_client import CollectorRegistry

        from vocwatch.metrics import Metrics

        config = EmergingConfig.from_settings(settings)
        store = MemoryStore(3 * settings.evaluation_seconds + 5)
        metrics = Metrics.create(CollectorRegistry())
        self.activity = KeyActivity()
        self.monitors = [
            EmergingMonitor(config, store, metrics, activity=self.activity, worker=f"w{i}")
            for i in range(workers)
        ]
        self.stream = stream
        self.step_seconds = settings.evaluation_seconds
        self.polarities = config.polarities
        self.result = RunResult(stream.seconds, stream.injections)
        self.labels = {e.text.event_id: e.label for e in stream.events}
        self.open: set[str] = set()
        self.batches: list[list[TopicText]] = [[] for _ in self.monitors]

    async def run(self) -> RunResult:
        next_step, batch_end = self.step_seconds, BATCH_SECONDS
        for event in self.stream.events:
            while event.at >= batch_end:
                self.flush()
                batch_end += BATCH_SECONDS
                while batch_end > next_step:
                    await self.decide(next_step)
                    next_step += self.step_seconds
            text = event.text
            self.activity.add_event(content_terms(text.tokens, text.text), event.at)
            if event.polarity in self.polarities:
                worker = zlib.crc32(text.event_id.encode()) % len(self.monitors)
                self.batches[worker].append(text)
        self.flush()
        return self.result

    def flush(self) -> None:
        started = time.perf_counter()
        for monitor, texts in zip(self.monitors, self.batches, strict=True):
            if texts:
                monitor.observe(texts)
                self.result.texts += len(texts)
                texts.clear()
        self.result.observe_seconds += time.perf_counter() - started

    async def decide(self, now: float) -> None:
        for monitor in self.monitors:
            decisions = await monitor.decide(now)
            for decision in decisions or ():
                if decision.topic is not None and decision.group is not None:
                    self.track(monitor, decision, now)
                elif decision.topic is not None:
                    self.open.discard(decision.topic.id)  # no group continues it: over

    def track(self, monitor: EmergingMonitor, decision: Decision, now: float) -> None:
        assert decision.topic is not None and decision.group is not None  # noqa: S101
        topic, a, group = decision.topic.id, decision.assessment, decision.group
        if topic in self.open:
            if not a.holds:
                self.open.discard(topic)
            return
        if not a.emerging:
            return
        self.open.add(topic)
        votes = Counter(self.labels.get(i) for i in group.event_ids)
        label, votes_for = votes.most_common(1)[0]
        self.result.alerts.append(
            AlertSeen(
                topic,
                now,
                label if votes_for * 2 > sum(votes.values()) else None,
                a.count,
                [t.term for t in monitor.terms(group, a.window_start)],
                [s.text for s in monitor.subject(decision, now).samples],
            )
        )


# --- the evaluation ---------------------------------------------------------------------------


def evaluate(
    *,
    background_path: Path,
    incidents_path: Path,
    background_kind: str = "reviews",
    settings: Settings,
    rate: float,
    hours: float,
    runs: int,
    cold_runs: int,
    gap_minutes: float,
    sizes: Sequence[int],
    workers: int,
    say: Any = _say,
) -> dict[str, Any]:
    from classifiers.analyze import Analyzer

    incidents = load_incidents(incidents_path)
    analyzer = Analyzer()
    say("analysing the background texts …")
    started = time.perf_counter()
    corpora, background = load_background(background_path, analyzer, background_kind)
    incident_texts = analyse_incidents(incidents, analyzer)
    say(f"  {len(background)} texts in {time.perf_counter() - started:.0f} s")
    steady: list[RunResult] = []
    cold: list[RunResult] = []
    for run in range(1, runs + 1):
        rng = random.Random(run)
        seconds = hours * 3600
        ids = [i.id for i in incidents]
        rng.shuffle(ids)
        schedule = [
            (600.0 + k * gap_minutes * 60, ids[k % len(ids)], sizes[k % len(sizes)])
            for k in range(int((seconds - 900) // (gap_minutes * 60)) + 1)
        ]
        stream = build_stream(
            rng,
            background,
            incidents,
            incident_texts,
            rate=rate,
            seconds=seconds,
            schedule=schedule,
            run=run,
        )
        say(f"steady run {run}: {len(stream.events)} texts, {len(schedule)} incidents …")
        steady.append(asyncio.run(Simulation(stream, settings, workers).run()))
    for run in range(1, cold_runs + 1):
        rng = random.Random(1000 + run)
        incident = incidents[(run - 1) % len(incidents)].id
        stream = build_stream(
            rng,
            background,
            incidents,
            incident_texts,
            rate=rate,
            seconds=COLD_RUN_SECONDS,
            schedule=[(COLD_START_SECONDS, incident, TARGET_SIZE)],
            run=1000 + run,
        )
        cold.append(asyncio.run(Simulation(stream, settings, workers).run()))
    say(f"cold-start runs: {cold_runs}")
    return _figures(steady, cold, settings, rate, workers, corpora, len(background))


def load_background(
    folder: Path, analyzer: Any, kind: str = "reviews"
) -> tuple[Counter[str], list[Analysed]]:
    """The background texts, analysed as app feedback, and how many of each corpus."""
    corpora: Counter[str] = Counter()
    background = []
    for corpus, text in background_texts(folder, kind):
        corpora[corpus] += 1
        background.append(analyse(analyzer, text, BACKGROUND_CHANNEL))
    return corpora, background


def analyse_incidents(
    incidents: Sequence[Incident], analyzer: Any
) -> dict[tuple[str, int, str], Analysed]:
    """Every incident text analysed for each channel an incident text may come through."""
    return {
        (incident.id, k, channel): analyse(analyzer, text, channel)
        for incident in incidents
        for k, text in enumerate(incident.texts)
        for channel in set(ANALYSIS_CHANNEL.values())
    }


@dataclass(frozen=True)
class IncidentRow:
    run: int
    incident: str
    size: int
    detected: bool
    delay_s: float | None  # first alert after the 20th text (the last, if fewer)
    alerts: int
    terms: list[str]


@dataclass(frozen=True)
class ColdRow:
    incident: str
    detected: bool
    delay_s: float | None
    in_time: bool
    false_alerts: list[dict[str, Any]]


def _incident_rows(
    steady: Sequence[RunResult],
) -> tuple[list[IncidentRow], list[dict[str, Any]]]:
    rows, false_alerts = [], []
    for run, result in enumerate(steady, 1):
        found: dict[int, list[AlertSeen]] = {}
        for alert in result.alerts:
            if alert.label is None:
                false_alerts.append({"run": run, **_alert_json(alert)})
            else:
                found.setdefault(alert.label, []).append(alert)
        for injection in result.injections:
            alerts = found.get(injection.index, [])
            delay = _delay(alerts, injection)
            rows.append(
                IncidentRow(
                    run,
                    injection.incident,
                    injection.size,
                    delay is not None,
                    delay,
                    len(alerts),
                    alerts[0].terms if alerts else [],
                )
            )
    return rows, false_alerts


def _cold_rows(cold: Sequence[RunResult]) -> list[ColdRow]:
    rows = []
    for result in cold:
        injection = result.injections[0]
        delay = _delay([a for a in result.alerts if a.label == injection.index], injection)
        rows.append(
            ColdRow(
                injection.incident,
                delay is not None,
                delay,
                delay is not None and delay <= COLD_DEADLINE_SECONDS,
                [_alert_json(a) for a in result.alerts if a.label is None],
            )
        )
    return rows


def _delay(alerts: Sequence[AlertSeen], injection: Injection) -> float | None:
    first = min((a.at for a in alerts), default=None)
    return None if first is None else round(first - injection.reference, 1)


def _figures(
    steady: Sequence[RunResult],
    cold: Sequence[RunResult],
    settings: Settings,
    rate: float,
    workers: int,
    corpora: Counter[str],
    texts: int,
) -> dict[str, Any]:
    rows, false_alerts = _incident_rows(steady)
    cold_rows = _cold_rows(cold)
    hours = sum(r.seconds for r in steady) / 3600
    big = [r for r in rows if r.size >= TARGET_SIZE]
    delays = [r.delay_s for r in big if r.delay_s is not None]
    by_size = {
        str(size): f"{sum(r.detected for r in rows if r.size == size)}/"
        f"{sum(1 for r in rows if r.size == size)}"
        for size in sorted({r.size for r in rows})
    }
    texts_seen = sum(r.texts for r in steady)
    observe = sum(r.observe_seconds for r in steady)
    summary = {
        "recall_20_plus": _ratio(sum(r.detected for r in big), len(big)),
        "incidents_20_plus": len(big),
        "recall_by_size": by_size,
        "false_alerts_per_hour": round(len(false_alerts) / hours, 3) if hours else None,
        "false_alerts": len(false_alerts),
        "background_hours": round(hours, 2),
        "delay_median_s": round(statistics.median(delays), 1) if delays else None,
        "delay_max_s": max(delays) if delays else None,
        "duplicate_alerts": sum(max(0, r.alerts - 1) for r in rows),
        "cold_start_in_time": _ratio(sum(r.in_time for r in cold_rows), len(cold_rows)),
        "cold_start_runs": len(cold_rows),
        "cold_start_false_alerts": sum(len(r.false_alerts) for r in cold_rows),
        "rate_per_s": rate,
        "workers": workers,
        "observe_us_per_text": round(observe / texts_seen * 1e6, 1) if texts_seen else None,
        "background_texts": texts,
    }
    return {
        "summary": summary,
        "incidents": [asdict(r) for r in rows],
        "false_alerts": false_alerts,
        "cold_start": [asdict(r) for r in cold_rows],
        "corpora": dict(corpora),
        "settings": {name: getattr(settings, name) for name in REPORTED_SETTINGS},
    }


REPORTED_SETTINGS = (
    "emerging_polarities",
    "emerging_window_seconds",
    "emerging_baseline_seconds",
    "emerging_min_count",
    "emerging_min_growth",
    "emerging_p_value",
    "emerging_similarity",
    "emerging_max_clusters",
    "evaluation_seconds",
)


def _alert_json(alert: AlertSeen) -> dict[str, Any]:
    return {
        "at_s": round(alert.at),
        "count": alert.count,
        "terms": alert.terms,
        "samples": alert.samples,
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def _print_report(figures: dict[str, Any]) -> None:
    s = figures["summary"]
    lines = [
        f"background: {s['background_texts']} texts ({', '.join(figures['corpora'])})",
        f"steady: {s['background_hours']} h at {s['rate_per_s']} texts/s, {s['workers']} worker(s)",
        f"  recall, incidents of ≥ {TARGET_SIZE} texts: {s['recall_20_plus']} "
        f"of {s['incidents_20_plus']}; by size {s['recall_by_size']}",
        f"  delay after the 20th text: median {s['delay_median_s']} s, max {s['delay_max_s']} s",
        f"  false alerts: {s['false_alerts']} ({s['false_alerts_per_hour']} an hour); "
        f"one incident, several alerts: {s['duplicate_alerts']}",
        f"cold start: {s['cold_start_in_time']} of {s['cold_start_runs']} alerted within "
        f"{COLD_DEADLINE_SECONDS:.0f} s of the 20th text; false alerts "
        f"{s['cold_start_false_alerts']}",
        "incidents (✓ found, delay after the 20th text, the alert's terms):",
    ]
    for row in figures["incidents"]:
        mark = "✓" if row["detected"] else "✗"
        terms = " · ".join(row["terms"][:5])
        delay = "" if row["delay_s"] is None else f"{row['delay_s']:+.0f} s"
        several = f" ({row['alerts']} alerts)" if row["alerts"] > 1 else ""
        lines.append(
            f"  {mark} {row['incident']:<24} {row['size']:>3} texts  {delay:>7}  {terms}{several}"
        )
    lines += [f"  false alert: {alert}" for alert in figures["false_alerts"]]
    for row in figures["cold_start"]:
        mark = "✓" if row["in_time"] else "✗"
        lines.append(f"  cold {mark} {row['incident']:<24} delay {row['delay_s']}")
        lines += [f"    false alert: {alert}" for alert in row["false_alerts"]]
    print("\n".join(lines))
