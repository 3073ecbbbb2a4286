"""``vocwatch bench``: throughput, detection latency and memory of one worker, on the
embedded stack, with the two parts of its ceiling measured in the same run.

Phases, on one broker and one Redis started for the run (topics of one partition, which
is all one worker needs; ``VOCWATCH_PARTITIONS`` overrides it):

1. **backlog** — N demo events (mixed sources, realistic texts, about 1 in 60 broken) are
   produced before anything consumes them;
2. **pass-through** — a Faust agent that only consumes and acknowledges (no work) reads
   the backlog: ``passthrough_per_s``;
3. **scoring** — the text analysis alone (normalize, mask, tokenize, sentiment, category,
   priority) in a tight loop over the backlog's texts: ``scoring_per_s``;
4. **worker** — the real ``vocwatch worker`` processes the backlog: ``events_per_s`` from
   its first counted batch to the moment every message is accounted for (valid, duplicate,
   late or dead-lettered); the serial ceiling is ``1 / (1/passthrough + 1/scoring)``;
5. **latency** — background traffic at ``--rate`` events/s with ``--incidents`` bursts,
   each in its own region; detection latency is the alert's ``first_seen`` minus the event
   time of the burst event that crossed the threshold; then the **latency curve**: the same
   at 25 %, 50 % and 75 % of the ``events_per_s`` this run measured (``--curve-seconds``
   each, the worker caught up before each), so that headroom shows as latency against
   load;
6. **checks** — Redis windows hold each valid event exactly once (``duplicates``,
   ``lost``), and the worker's peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from streams.topics import ensure_topics
from vocwatch.bench.load import LoadProducer
from vocwatch.dev import embedded
from vocwatch.dev.demo import DemoTraffic
from vocwatch.memory import settle_heap
from vocwatch.processes import child_options, descendants, die_with_parent
from vocwatch.settings import DEFAULT_RULES_FILE, Settings

RULES = """
rules:
  - name: bench_incident
    key: [region]
    where: {{source: [complaint]}}
    window: 1m
    measure: count
    threshold: {threshold}
    min_count: {threshold}
    priority: P2
  - name: bench_volume
    description: never fires; keeps an hour of windows so counts can be checked
    key: [source]
    window: 1h
    measure: count
    threshold: 1000000000
    priority: P3
"""
TUNING = (
    "VOCWATCH_ANALYSIS_PROCESSES",
    "VOCWATCH_BATCH_SIZE",
    "VOCWATCH_BATCH_SECONDS",
    "VOCWATCH_FETCH_WAIT_SECONDS",
    "VOCWATCH_FETCH_MIN_BYTES",
    "VOCWATCH_PARTITIONS",  # of the topics the run creates
    "VOCWATCH_EVENT_LOOP",
    "VOCWATCH_EMERGING",  # false: the cost of emerging-topic detection, by difference
)
#: partitions of each topic the run creates (VOCWATCH_PARTITIONS overrides it)
BENCH_PARTITIONS = 1
PHASES = ("backlog", "latency")  # the phases --profile can record
CURVE = (0.25, 0.5, 0.75)  # points of the latency curve, as fractions of measured capacity
ACCOUNTED = (
    "vocwatch_events_valid_total",
    "vocwatch_events_duplicate_total",
    "vocwatch_events_late_total",
    "vocwatch_events_dead_lettered_total",
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=50_000, help="backlog size")
    parser.add_argument(
        "--rate",
        type=float,
        default=3000.0,
        help="events/s of background traffic in the latency phase",
    )
    parser.add_argument("--incidents", type=int, default=10)
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=60.0,
        help="seconds of the latency phase (a backlog that builds shows after about 30 s)",
    )
    parser.add_argument("--threshold", type=int, default=20, help="events that make an incident")
    parser.add_argument(
        "--curve-seconds",
        type=float,
        default=15.0,
        help="seconds of each point of the latency curve (25/50/75 %% of the measured "
        "capacity); 0: no curve",
    )
    parser.add_argument(
        "--curve-incidents", type=int, default=5, help="bursts at each point of the curve"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON figures")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record the worker and its analysis process with py-spy during "
        "the phase --profile-phase names (raw collapsed stacks in DIR)",
    )
    parser.add_argument(
        "--profile-phase",
        choices=PHASES,
        default="backlog",
        help="the phase --profile records: the backlog drain (default) or the latency "
        "phase at --rate, where batches are small and the worker's state grows",
    )


def run(args: argparse.Namespace) -> int:
    figures = bench(
        events=args.events,
        rate=args.rate,
        incidents=args.incidents,
        latency_seconds=args.latency_seconds,
        threshold=args.threshold,
        profile=args.profile,
        profile_phase=args.profile_phase,
        curve_seconds=args.curve_seconds,
        curve_incidents=args.curve_incidents,
        say=(lambda *_: None) if args.json else _say,
    )
    # Always, --json or not (stderr): the figure that tells how fast this machine is today.
    _say(
        f"this machine scores {figures['scoring_per_s']:,.0f} texts/s serially (one process): "
        "compare runs of different days by their ratios to it"
    )
    print(json.dumps(figures, ensure_ascii=False))
    return 0


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench(
    *,
    events: int,
    rate: float,
    incidents: int,
    latency_seconds: float,
    threshold: int,
    profile: Path | None = None,
    profile_phase: str = "backlog",
    curve_seconds: float = 0.0,
    curve_incidents: int = 5,
    say: Any = _say,
) -> dict[str, Any]:
    """The figures of one run (the module's docstring). ``curve_seconds`` > 0 adds the
    latency curve at :data:`CURVE` of the measured capacity."""

    work = Path(tempfile.mkdtemp(prefix="vocwatch-bench-"))
    (work / "rules.yaml").write_text(rules_file(threshold), encoding="utf-8")
    with embedded.broker() as kafka, embedded.redis_server() as redis:
        env = {
            "VOCWATCH_BROKER_URL": f"kafka://127.0.0.1:{kafka.port}",
            "VOCWATCH_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "VOCWATCH_WEB_PORT": str(embedded.free_port()),
            "VOCWATCH_RULES_FILE": str(work / "rules.yaml"),
            "VOCWATCH_ALERTS_OUT": str(work / "alerts.jsonl"),
            "VOCWATCH_DATA_DIR": str(work / "data"),
            "VOCWATCH_LOG_LEVEL": "warning",
            # One worker reads every partition of a topic, so more partitions give it
            # nothing; but the embedded broker lists every record batch of every partition
            # it is asked for on each fetch, and four partitions store four times as many
            # batches (docs/performance.md, "Minutes at 3,000 events a second").
            "VOCWATCH_PARTITIONS": str(BENCH_PARTITIONS),
            # Tuning under test may come from the caller's environment.
            **{k: v for k, v in os.environ.items() if k in TUNING},
        }
        settings = Settings.from_env(env)
        ensure_topics(settings)
        producer = LoadProducer(settings.bootstrap_servers)
        traffic = DemoTraffic(seed=11)
        say(f"producing a backlog of {events} events …")
        backlog = [traffic.background(time.time()) for _ in range(events)]
        for source, key, value in backlog:
            producer.send(settings.input_topics[source], key=key, value=value)
        producer.flush()
        valid = _valid_ids(backlog)

        say("pass-through agent …")
        passthrough = _passthrough(env, events, work)
        say("scoring loop …")
        scoring = _scoring(backlog)
        say("worker on the backlog …")
        with _worker(env, work) as (process, base_url):
            with _profiled(process.pid, profile if profile_phase == "backlog" else None):
                first, last, cpu = _drain(base_url, events, process)
            counted = counted_events(settings)  # the backlog only, before more traffic arrives
            say("latency under load …")
            before = _cpu_seconds(process.pid)
            lag_before = lag_buckets(_metrics_page(base_url) or "")
            with _profiled(process.pid, profile if profile_phase == "latency" else None):
                latencies, sent = _latency(
                    producer,
                    traffic,
                    settings,
                    work / "alerts.jsonl",
                    rate=rate,
                    incidents=incidents,
                    seconds=latency_seconds,
                )
            _caught_up(base_url, events + sent, process)
            after = _cpu_seconds(process.pid)
            lag = lag_delta(lag_before, lag_buckets(_metrics_page(base_url) or ""))
            live_cpu = (after[0] - before[0], after[1] - before[1])
            live_sent = sent  # the curve's traffic is added to sent below
            curve = []
            capacity = events / max(last - first, 1e-9)
            for fraction in CURVE if curve_seconds > 0 else ():
                _caught_up(base_url, events + sent, process)
                load = round(capacity * fraction, 1)
                say(f"latency at {fraction:.0%} of capacity ({load:,.0f} events/s) …")
                point, more = _latency(
                    producer,
                    traffic,
                    settings,
                    work / "alerts.jsonl",
                    rate=load,
                    incidents=curve_incidents,
                    seconds=curve_seconds,
                    label=f"curve{int(fraction * 100)}",
                )
                sent += more
                curve.append(
                    {
                        "load_fraction": fraction,
                        "load_per_s": load,
                        "latency_p50_s": _quantile(point, 0.5),
                        "latency_p99_s": _quantile(point, 0.99),
                        "latency_incidents": len(point),
                        "latency_expected": curve_incidents,
                    }
                )
            event_loop = _health(base_url).get("event_loop", "asyncio")
            rss_mb = _peak_rss_mb(process.pid)
            children_mb = sum(_peak_rss_mb(child) for child in descendants(process.pid))
        producer.close()
    events_per_s = events / max(last - first, 1e-9)
    ceiling = 1 / (1 / passthrough + 1 / scoring)
    expected = sum(len(ids) for ids in valid.values())
    return {
        "events": events,
        "events_per_s": round(events_per_s, 1),
        "passthrough_per_s": round(passthrough, 1),
        "scoring_per_s": round(scoring, 1),
        "ceiling_per_s": round(ceiling, 1),
        "ratio": round(events_per_s / ceiling, 3),
        "latency_p50_s": _quantile(latencies, 0.5),
        "latency_p99_s": _quantile(latencies, 0.99),
        "latency_incidents": len(latencies),
        "latency_expected": incidents,
        "latencies_s": [round(value, 3) for value in latencies],  # in the order sent
        "load_per_s": rate,
        "analysis_processes": settings.analysis_processes,
        "batch_size": settings.batch_size,
        "partitions": settings.partitions,
        "peak_rss_mb": round(rss_mb, 1),
        "analysis_rss_mb": round(children_mb, 1),  # the analysis process(es)
        "duplicates": max(0, counted - expected),
        "lost": max(0, expected - counted),
        "valid_events": expected,
        "latency_curve": curve,
        # CPU per event while draining the backlog: less sensitive than events_per_s to
        # other work on the machine, so two commits compare on a busy day too.
        "worker_cpu_us_per_event": round(cpu[0] / events * 1e6, 1),
        "analysis_cpu_us_per_event": round(cpu[1] / events * 1e6, 1),
        # The same in the latency phase (live traffic at --rate, small batches, state that
        # grows), to the moment the worker has caught up with it.
        "live_worker_cpu_us_per_event": round(live_cpu[0] / max(live_sent, 1) * 1e6, 1),
        "live_analysis_cpu_us_per_event": round(live_cpu[1] / max(live_sent, 1) * 1e6, 1),
        # How late the worker's event loop woke its 0.25-s task in the latency phase: the
        # p99 (within its histogram bucket) and the wake-ups over half a second late.
        "live_loop_lag_p99_s": bucket_quantile(lag, 0.99),
        "live_loop_lag_over_half_s": late_after(lag, 0.5),
        "event_loop": event_loop,
    }


def rules_file(threshold: int) -> str:
    """The benchmark's rules, with the packaged ``customers:`` and ``kpis:`` sections: the
    worker keeps every customer's history, risk and KPI sums as in service."""
    packaged = yaml.safe_load(DEFAULT_RULES_FILE.read_text(encoding="utf-8"))
    sections = {name: packaged[name] for name in ("customers", "kpis")}
    return RULES.format(threshold=threshold) + yaml.safe_dump(sections, allow_unicode=True)


def _valid_ids(messages: list[tuple[str, bytes, bytes]]) -> dict[str, set[str]]:
    from streams.events import decode
    from vocwatch.errors import InvalidEvent

    ids: dict[str, set[str]] = {}
    for source, _, value in messages:
        try:
            event = decode(source, value, max_bytes=Settings().max_message_bytes)
        except InvalidEvent:
            continue
        ids.setdefault(source, set()).add(event.id)
    return ids


def _passthrough(env: dict[str, str], expected: int, work: Path) -> float:
    result = work / "passthrough.json"
    child_env = {
        **os.environ,
        **env,
        "VOCWATCH_APP_ID": "bench-passthrough",
        "BENCH_EXPECTED": str(expected),
        "BENCH_RESULT": str(result),
        "VOCWATCH_WEB_PORT": str(embedded.free_port()),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "vocwatch.bench.harness"],
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **child_options(),
    )
    try:
        embedded.wait_until(
            result.exists, timeout=600, what="the pass-through agent", process=process
        )
    finally:
        embedded.stop_process(process)
    times = json.loads(result.read_text())
    return float(expected / max(times["last"] - times["first"], 1e-9))


def _scoring(messages: list[tuple[str, bytes, bytes]], limit: int = 20_000) -> float:
    """Messages per second through the analysis process's work — decode, analyse in
    batches of 1,000, encode the scored records — in this process, with the analysis
    process's garbage-collector settings."""
    from streams.analysis import analyze_batch, build_analyzer

    settings = Settings()
    analyzer = build_analyzer(settings)
    by_source: dict[str, list[bytes]] = {}
    for source, _, value in messages[:limit]:
        by_source.setdefault(source, []).append(value)
    threshold = gc.get_threshold()
    settle_heap()  # as in the analysis process: like for like
    try:
        started = time.perf_counter()
        for source, values in by_source.items():
            for start in range(0, len(values), settings.batch_size):
                analyze_batch(
                    analyzer,
                    source,
                    values[start : start + settings.batch_size],
                    max_bytes=settings.max_message_bytes,
                    now=time.time(),
                )
        return min(limit, len(messages)) / (time.perf_counter() - started)
    finally:  # this process goes on (a test, the CLI): as it was
        gc.unfreeze()
        gc.set_threshold(*threshold)


@contextmanager
def _worker(env: dict[str, str], work: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    process = embedded.start_worker(env, work / "worker.log")
    try:
        yield process, f"http://127.0.0.1:{env['VOCWATCH_WEB_PORT']}"
    finally:
        embedded.stop_process(process)


@contextmanager
def _profiled(pid: int, directory: Path | None) -> Iterator[None]:
    """py-spy (``pip install -e '.[bench]'``) samples the process and its children while
    the block runs; one file of collapsed stacks per process in ``directory``."""
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    spy = shutil.which(
        "py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if spy is None:
        raise RuntimeError("--profile needs py-spy: pip install -e '.[bench]'")
    time.sleep(3)  # the analysis process is spawned at start-up
    # --gil: only samples of the thread holding the GIL, i.e. where the CPU time goes.
    recorders = [
        subprocess.Popen(  # noqa: S603 — argv is built here, not from input
            [
                spy,
                "record",
                "--pid",
                str(p),
                "--rate",
                "100",
                "--format",
                "raw",
                "--nonblocking",
                "--gil",
                "--output",
                str(directory / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGINT),  # SIGINT: py-spy writes what it has
        )
        for name, p in [("worker", pid)] + [(f"child-{c}", c) for c in descendants(pid)]
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder in recorders:
            recorder.wait(30)


def _drain(
    base_url: str, expected: int, process: subprocess.Popen[bytes]
) -> tuple[float, float, tuple[float, float]]:
    """From the first counted batch to every message accounted for: the two times, and the
    CPU seconds the worker and its analysis process used in between. The CPU is counted
    from the last poll *before* the first batch was accounted: the analysis process works
    a batch or more ahead of the accounting, and a small backlog can be analysed whole
    before the first batch is counted (it then measured 0 µs). A backlog accounted for
    whole between two polls is timed from the poll before (it measured 0 s, and then
    billions of events a second)."""
    first = None
    cpu_first = cpu_before = _cpu_seconds(process.pid)
    idle_at = time.monotonic()  # the last poll that found nothing accounted
    while True:
        done = _accounted(base_url)
        now = time.monotonic()
        if done and first is None:
            first, cpu_first = now, cpu_before
        elif first is None:
            cpu_before, idle_at = _cpu_seconds(process.pid), now
        if done >= expected and first is not None:
            if first == now:  # all of it between two polls: from the one before (a bound)
                first = idle_at
            cpu_last = _cpu_seconds(process.pid)
            return first, now, (cpu_last[0] - cpu_first[0], cpu_last[1] - cpu_first[1])
        if process.poll() is not None:
            raise RuntimeError("the worker exited during the benchmark")
        # Each poll is a /metrics scrape the worker serves (about 3 ms): five a second keep
        # the measurement out of the measured (Prometheus scrapes every 15 s).
        time.sleep(0.2)


def _accounted(base_url: str) -> float:
    """Messages the worker has accounted for (0 while its page cannot be read)."""
    text = _metrics_page(base_url)
    return 0.0 if text is None else sum(_summed(text, name) for name in ACCOUNTED)


def metric_total(base_url: str, name: str) -> float:
    """The sum of a metric's labelled samples on the worker's /metrics; -1 while the page
    cannot be read (the worker is starting)."""
    text = _metrics_page(base_url)
    return -1.0 if text is None else _summed(text, name)


def _metrics_page(base_url: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as reply:  # noqa: S310
            return str(reply.read().decode())
    except OSError:
        return None


def _summed(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}{{[^}}]*}} (\S+)$", text, re.M))


LOOP_LAG = "vocwatch_event_loop_lag_seconds_bucket"


def lag_buckets(text: str) -> dict[float, float]:
    """The event-loop lag histogram of a /metrics page: upper bound → cumulative count."""
    found = re.findall(rf'^{LOOP_LAG}{{le="([^"]+)"}} (\S+)$', text, re.M)
    return {float(le): float(count) for le, count in found}


def lag_delta(before: Mapping[float, float], after: Mapping[float, float]) -> dict[float, float]:
    """The cumulative counts observed between two reads."""
    return {le: count - before.get(le, 0.0) for le, count in after.items()}


def bucket_quantile(buckets: Mapping[float, float], q: float) -> float | None:
    """The ``q`` quantile of cumulative ``buckets``, interpolated within its bucket as
    Prometheus' ``histogram_quantile`` does; the largest finite bound when it falls in the
    last one; None without observations."""
    bounds = sorted(buckets)
    total = buckets.get(math.inf, 0.0) if bounds else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            share = (rank - below) / (count - below) if count > below else 0.0
            return round(lower + (bound - lower) * share, 3)
        lower, below = bound, count
    return lower


def late_after(buckets: Mapping[float, float], seconds: float) -> int:
    """Observations above ``seconds``, which must be one of the bucket bounds."""
    if not buckets:
        return 0
    return int(buckets.get(math.inf, 0.0) - buckets.get(seconds, 0.0))


def _latency(
    producer: LoadProducer,
    traffic: DemoTraffic,
    settings: Settings,
    alerts_out: Path,
    *,
    rate: float,
    incidents: int,
    seconds: float,
    label: str = "incident",
) -> tuple[list[float], int]:
    """Detection latencies of ``incidents`` bursts sent over ``seconds`` of background
    traffic at ``rate`` events/s (each burst in a region of its own, named from
    ``label``); and how many messages were sent."""
    crossing: dict[str, float] = {}
    sent = 0
    started = last = time.monotonic()
    owed = 0.0  # background events due but not sent yet
    next_incident = 0
    while last - started < seconds:
        time.sleep(0.01)
        now_mono, now = time.monotonic(), time.time()
        owed += rate * (now_mono - last)
        last = now_mono
        for _ in range(int(owed)):
            source, key, value = traffic.background(now)
            producer.send(settings.input_topics[source], key=key, value=value)
        sent += int(owed)
        owed -= int(owed)
        due = (now_mono - started) / seconds * incidents
        if next_incident < incidents and due >= next_incident:
            region = f"{label}-{next_incident}"
            burst = [
                traffic.incident(time.time(), "app", region=region)
                for _ in range(_threshold(settings) + 3)
            ]
            crossing[region] = time.time()
            for source, key, value in burst:
                producer.send(settings.input_topics[source], key=key, value=value)
            sent += len(burst)
            next_incident += 1
    producer.flush()
    deadline = time.monotonic() + 30
    found: dict[str, float] = {}
    while time.monotonic() < deadline and not crossing.keys() <= found.keys():
        found = _first_alerts(alerts_out)
        time.sleep(0.5)
    return [found[r] - t for r, t in crossing.items() if r in found], sent


def _caught_up(
    base_url: str, expected: int, process: subprocess.Popen[bytes], timeout: float = 120
) -> None:
    """Wait until the worker has accounted for every message sent so far: each point of the
    curve starts from an empty backlog."""
    deadline = time.monotonic() + timeout
    while _accounted(base_url) < expected and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the worker exited during the benchmark")
        time.sleep(0.2)


def _health(base_url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=5) as reply:  # noqa: S310
            body: dict[str, Any] = json.load(reply)
            return body
    except OSError:  # 503 (degraded) included: nothing to read then
        return {}


def _threshold(settings: Settings) -> int:
    from alerts.rules import load_rules

    rule = next(r for r in load_rules(settings.rules_file) if r.name == "bench_incident")
    assert rule.threshold is not None  # noqa: S101 — the bench's own rule is a threshold rule
    return int(rule.threshold)


def _first_alerts(path: Path) -> dict[str, float]:
    from datetime import datetime

    found: dict[str, float] = {}
    if not path.exists():
        return found
    # Only whole lines: the worker may be writing the last one as it is read.
    for line in path.read_text(encoding="utf-8").split("\n")[:-1]:
        record = json.loads(line)
        region = record["key"].get("region", "")
        if record["rule"] == "bench_incident" and region not in found:
            found[region] = datetime.fromisoformat(record["first_seen"]).timestamp()
    return found


def counted_events(settings: Settings, span: int = 3600) -> int:
    """Valid events the Redis windows hold over the last ``span`` seconds, all sources."""
    import asyncio

    from alerts.rules import window_key
    from alerts.windows import RedisWindowStore
    from streams.app import redis_client_for

    async def read() -> int:
        client = redis_client_for(settings)
        try:
            store = RedisWindowStore(
                client, prefix=settings.app_id, bucket_seconds=settings.bucket_seconds, spans=[span]
            )
            keys = [window_key({"source": s}) for s in settings.input_topics]
            states = await store.read(keys, time.time())
            return sum(s.totals[span].count for s in states.values())
        finally:
            await client.aclose()

    return asyncio.run(read())


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) used so far by the process and by its descendants."""

    def used(p: int) -> float:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    return used(pid), sum(used(child) for child in descendants(pid))


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 3)


def _passthrough_main() -> None:
    """A Faust app whose agents only consume and acknowledge: the cost of Faust itself."""
    import faust

    from streams.app import faust_worker
    from vocwatch.loops import install_event_loop

    settings = Settings.from_env({k: v for k, v in os.environ.items() if k.startswith("VOCWATCH_")})
    install_event_loop(settings.event_loop)  # as in the worker: like for like
    expected, result = int(os.environ["BENCH_EXPECTED"]), Path(os.environ["BENCH_RESULT"])
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        value_serializer="raw",
        store="memory://",
        datadir=str(settings.data_dir) + "-passthrough",
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=10.0,
        broker_rebalance_timeout=10.0,
        web_port=settings.web_port,
        web_host="127.0.0.1",
        autodiscover=False,
    )
    seen = {"count": 0, "first": 0.0}

    async def consume(stream: Any) -> None:
        async for _ in stream:
            if not seen["count"]:
                seen["first"] = time.monotonic()
            seen["count"] += 1
            if seen["count"] == expected:
                result.write_text(json.dumps({"first": seen["first"], "last": time.monotonic()}))

    for source, topic in settings.input_topics.items():
        app.agent(app.topic(topic, value_serializer="raw"), name=f"pass.{source}")(consume)

    async def settle() -> None:  # as in the worker: like for like
        settle_heap()

    app.task(settle)
    faust_worker(app, "error").execute_from_commandline()


if __name__ == "__main__":
    _passthrough_main()
