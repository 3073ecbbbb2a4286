"""Emerging topics, end to end: a real ``vocwatch worker`` reads complaints from a real broker
(Tansu), clusters them, keeps its reports and topics in real Redis (valkey) and writes its
alerts to a file sink.

Ordinary complaints of the project's labelled sets come first, spread over the last minute
and a half; then two new problems of the evaluation's incidents (data/emerging/incidents.yaml),
20 customers each (the issue's size of a topic), one after the other.
Each must raise exactly one ``emerging_topic`` alert (one alert id, one topic id, its
samples the topic's own texts, masked), and the ordinary complaints none.

The service started a minute and a half before the incidents: a cold start. This test is
about the path (broker, worker, Redis, sink; one alert per topic, masked samples), not
about how many incidents the detector finds: that is the evaluation's
(``vocwatch eval-emerging``, docs/alerts.md), which names the incidents a cold start
misses. Until 2026-12-07 the second incident here was one of them, ``brand_scam_calls``
(every customer tells a different scam script): it went unreported in one run of four with
16 texts and one of fourteen with 20. It is now ``hotel_bedbugs``, a problem told, like the
mould, in a few shared words (臭虫, 虫子, 床). That one failed in CI too, once: its texts,
in the order one partition's came before another's, formed several clusters, and the group
that counted them all was explained by its own clusters' words only — one word, too few
for a new topic. Fixed in alerts/emerging_clusters.py (docs/alerts.md, "A problem counted
whole is explained whole"); when a topic is not alerted, the failure now shows what the
monitor was watching.
"""

from __future__ import annotations

import csv
import functools
import random
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import eventually
from tests.workers import LiveWorker, WorkerFactory

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
INCIDENTS = ("bottle_cap_mould", "hotel_bedbugs")
PER_INCIDENT = 20
PHONE = "13912345678"


def _background(count: int) -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "data" / "labelled").glob("*.csv"))[:4]:
        with path.open(encoding="utf-8") as file:
            texts += [row["text"] for row in csv.DictReader(file) if row["text"]]
    random.Random(7).shuffle(texts)
    return texts[:count]


def _incident_texts(name: str) -> list[str]:
    data = yaml.safe_load((ROOT / "data" / "emerging" / "incidents.yaml").read_text("utf-8"))
    texts: list[str] = next(i["texts"] for i in data["incidents"] if i["id"] == name)
    return texts[:PER_INCIDENT]


def _complaint(event_id: str, text: str, at: float) -> dict[str, Any]:
    return {
        "id": event_id,
        "customer_id": f"cust-{event_id}",
        "channel": "app",
        "text": text,
        "created_at": at,
    }


def _topic_records(worker: LiveWorker) -> list[dict[str, Any]]:
    return [r for r in worker.alerts() if r.get("kind") == "emerging_topic"]


def _incident_of(record: dict[str, Any], tag: str) -> str | None:
    """The incident most of an alert's samples are texts of (None: background)."""
    votes: dict[str | None, int] = defaultdict(int)
    for sample in record["samples"]:
        match = re.fullmatch(rf"{tag}-(\w+)-\d+", sample["id"])
        votes[match.group(1) if match else None] += 1
    return max(votes, key=lambda k: votes[k]) if votes else None


def _alerted(worker: LiveWorker, tag: str, name: str) -> bool:
    return any(_incident_of(r, tag) == name for r in _topic_records(worker))


def _watching(worker: LiveWorker) -> str:
    """The groups the monitor judged at its last step (its watch list), in short."""
    watch = worker.api("GET", "/api/emerging").get("watch", [])
    return "watched: " + "; ".join(
        f"{g['count']} texts, growth {g['growth']}, emerging {g['emerging']}, topic "
        f"{g['topic_id']}, terms {[t['term'] for t in g['terms']][:5]}, "
        f"samples {[s['id'] for s in g['samples']]}"
        for g in watch
    )


@pytest.fixture
def worker(worker_factory: WorkerFactory) -> LiveWorker:
    # A one-minute window (baseline ten), so that the test's minutes are an hour's worth;
    # the first batch waits for the analysis process to load its models: not a stall.
    return worker_factory(
        name="emerging",
        VOCWATCH_EMERGING_WINDOW_SECONDS="60",
        VOCWATCH_EMERGING_BASELINE_SECONDS="600",
        VOCWATCH_STALL_SECONDS="300",
    )


def test_each_injected_topic_raises_exactly_one_emerging_alert(worker: LiveWorker) -> None:
    tag = f"t{random.randrange(16**6):06x}"
    start = time.time()
    background = _background(240)
    for n, text in enumerate(background):
        at = start - 90 + 90 * n / len(background)
        worker.send("complaint", _complaint(f"{tag}-bg{n}", text, at))
    worker.flush()
    eventually(
        lambda: worker.metric("vocwatch_emerging_texts_total", outcome="clustered") > 100,
        timeout=120,
        what="the background clustered",
    )
    time.sleep(3)  # a few steps judge the background alone
    assert _topic_records(worker) == [], "ordinary complaints raised an emerging topic"

    for name in INCIDENTS:
        texts = _incident_texts(name)
        for n, text in enumerate(texts):
            tail = f"，电话{PHONE}" if n == 0 else ""  # masked before it reaches an alert
            # its own customers, a few seconds apart, as the problem spreads
            at = time.time() - 5 + 5 * n / len(texts)
            worker.send("complaint", _complaint(f"{tag}-{name}-{n}", text + tail, at))
        worker.flush()
        try:
            eventually(functools.partial(_alerted, worker, tag, name), timeout=90, what=name)
        except AssertionError:  # what the monitor was watching, to tell why
            pytest.fail(f"no emerging_topic alert for {name} within 90 s; {_watching(worker)}")
    time.sleep(8)  # later steps: updates of the same alerts, no new ones

    records = _topic_records(worker)
    by_alert: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_alert[record["id"]].append(record)
    incidents = {aid: _incident_of(rs[0], tag) for aid, rs in by_alert.items()}
    assert sorted(map(str, incidents.values())) == sorted(INCIDENTS), [
        (i, [t["term"] for t in by_alert[a][0]["terms"]]) for a, i in incidents.items()
    ]
    for alert_id, history in by_alert.items():
        first = history[0]
        assert first["notification"] == "new" and first["status"] == "firing"
        assert first["rule"] == "emerging_topic" and first["key"] == {"topic": first["topic_id"]}
        assert {r["topic_id"] for r in history} == {first["topic_id"]}, alert_id
        assert first["count"] >= 10 and len(first["terms"]) >= 2
        assert all(PHONE not in s["text"] for r in history for s in r["samples"])
    assert len({rs[0]["topic_id"] for rs in by_alert.values()}) == len(INCIDENTS)
