"""The ``vocwatch`` command line.

vocwatch dev [--demo] [--exit-after S] [--alerts-out FILE]   embedded stack + worker
vocwatch worker [--alerts-out FILE]                          the worker alone
vocwatch demo [--seconds S]                                  demo traffic to a broker
vocwatch topics                                              create the topics
vocwatch classify [--text TEXT [--channel C]]                analyse texts: JSON lines
                                                             on stdin, or one --text
vocwatch rules check FILE                                    validate a rules file
vocwatch corrections export FILE|-                           the corrections kept in Redis
                                                             as a LABELS file (JSON lines)
vocwatch corrections count                                   how many texts have one
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import select
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from classifiers.pii import redact
from classifiers.polarity import CHANNELS
from vocwatch.errors import StackError, VocwatchError
from vocwatch.processes import StopRequested, stop_on_signals
from vocwatch.settings import Settings

if TYPE_CHECKING:
    from classifiers.analyze import Analysis, Analyzer
    from streams.corrections_store import RedisCorrections

log = logging.getLogger("vocwatch")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("kafka", "aiokafka"):  # connection-level chatter, not ours to show
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # dev, demo and bench stop cleanly on SIGTERM and SIGINT (vocwatch/processes.py); the
    # worker's own Faust worker handles both signals the same way itself.
    stoppable = stop_on_signals() if args.stoppable else contextlib.nullcontext()
    try:
        with stoppable:
            code: int = args.run(args)
        return code
    except VocwatchError as exc:
        print(f"vocwatch: {exc}", file=sys.stderr)
        return 2
    except StopRequested as stop:
        log.info("vocwatch %s: %s; everything it started is stopped", args.command, stop)
        return 0
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vocwatch",
        description="Real-time voice-of-customer monitor for Chinese customer service.",
    )
    parser.set_defaults(stoppable=False)
    commands = parser.add_subparsers(required=True, metavar="COMMAND", dest="command")

    dev = commands.add_parser("dev", help="run broker, Redis and a worker locally")
    dev.add_argument("--demo", action="store_true", help="feed synthetic traffic with an incident")
    dev.add_argument("--exit-after", type=float, metavar="SECONDS", help="stop after this long")
    dev.add_argument(
        "--alerts-out",
        type=Path,
        metavar="FILE",
        help="write every alert record to FILE (JSON lines)",
    )
    dev.add_argument("--web-port", type=int, help="HTTP port (default: a free one)")
    dev.set_defaults(run=_dev, stoppable=True)

    worker = commands.add_parser(
        "worker", help="run the Faust worker against VOCWATCH_BROKER_URL and VOCWATCH_REDIS_URL"
    )
    worker.add_argument("--alerts-out", type=Path, metavar="FILE")
    worker.set_defaults(run=_worker)

    demo = commands.add_parser("demo", help="produce demo traffic to VOCWATCH_BROKER_URL")
    demo.add_argument("--seconds", type=float, default=120.0)
    demo.set_defaults(run=_demo, stoppable=True)

    topics = commands.add_parser("topics", help="create vocwatch's topics if missing")
    topics.set_defaults(run=_topics)

    classify = commands.add_parser(
        "classify",
        help="analyse texts: JSON lines {text, channel} on stdin, or --text",
        description='Read JSON lines {"text": …, "channel": …} on stdin and write one '
        'JSON line of analysis per input line, in order; a bad line gets an "error" line '
        "and the run goes on. With --text, analyse that one text.",
    )
    classify.add_argument("--text", help="analyse this text instead of reading stdin")
    classify.add_argument(
        "--model-dir",
        type=Path,
        metavar="DIR",
        help="use the models of DIR (sentiment.npz, categories.npz: a retrained pair) "
        "instead of the shipped ones",
    )
    classify.add_argument(
        "--channel",
        choices=CHANNELS,
        help="channel of --text, for its polarity cut-offs (default: none)",
    )
    classify.set_defaults(run=_classify)

    for name, module, summary, stoppable in TOOLS:
        tool = commands.add_parser(name, help=summary)
        importlib.import_module(module).configure(tool)
        tool.set_defaults(run=_tool(module), stoppable=stoppable)

    rules = commands.add_parser("rules", help="alert rules")
    rules_commands = rules.add_subparsers(required=True, metavar="ACTION")
    check = rules_commands.add_parser("check", help="validate a rules file")
    check.add_argument("file", type=Path)
    check.set_defaults(run=_rules_check)

    corrections = commands.add_parser(
        "corrections", help="corrections (纠正) of categories and sentiments kept in Redis"
    )
    corrections_commands = corrections.add_subparsers(required=True, metavar="ACTION")
    export = corrections_commands.add_parser(
        "export",
        help="write them as the LABELS file of vocwatch adapt --labels (JSON lines)",
        description="Write every correction kept in Redis (VOCWATCH_REDIS_URL, "
        "VOCWATCH_APP_ID) as one JSON line, oldest first; say how many on stderr.",
    )
    export.add_argument(
        "file", metavar="FILE", help="the file to write (replaced), or - for stdout"
    )
    export.set_defaults(run=_corrections_export)
    count = corrections_commands.add_parser("count", help="how many texts have a correction")
    count.set_defaults(run=_corrections_count)
    return parser


#: (command, module, help, stops cleanly on signals): the offline text-model tools in
#: classifiers/train/ and the benchmark, each a module with configure(parser) and run(args).
TOOLS = (
    ("train-sentiment", "classifiers.train.sentiment", "train the sentiment model", False),
    (
        "eval-sentiment",
        "classifiers.train.sentiment_eval",
        "evaluate sentiment on a labelled CSV (label,text)",
        False,
    ),
    ("train-categories", "classifiers.train.categories", "train the category model", False),
    (
        "adapt",
        "classifiers.train.adapt",
        "adapt the text models to your own texts and corrections",
        False,
    ),
    (
        "eval-adapt",
        "classifiers.train.adapt_eval",
        "leave-one-domain-out figures before and after adapting",
        False,
    ),
    (
        "eval-categories",
        "classifiers.train.categories_eval",
        "leave-one-domain-out table of the category model",
        False,
    ),
    (
        "build-word-table",
        "classifiers.train.teacher",
        "distil the offline teacher's knowledge of words into the word table",
        False,
    ),
    (
        "build-teacher-head",
        "classifiers.train.sentence_teacher",
        "train the offline teacher's sentiment head that adapt asks about the user's texts",
        False,
    ),
    (
        "bench",
        "vocwatch.bench.harness",
        "throughput, detection latency and memory of one worker",
        True,
    ),
    (
        "train-emerging-prior",
        "vocwatch.bench.emerging_prior",
        "rebuild the emerging-topic features' prior from the project's labelled texts",
        False,
    ),
    (
        "eval-emerging",
        "vocwatch.bench.emerging",
        "evaluate emerging-topic detection: incidents injected into real background reviews",
        True,
    ),
    (
        "bench-emerging",
        "vocwatch.bench.emerging_cost",
        "CPU cost of the emerging-topic clustering per event, on real background reviews",
        False,
    ),
    (
        "bench-stages",
        "vocwatch.bench.stages",
        "CPU of the worker's own stages per event (count and finish), on the demo's traffic",
        False,
    ),
    (
        "bench-alert-step",
        "vocwatch.bench.alert_step",
        "time of the alert timer's step with thousands of open customer alerts",
        False,
    ),
    (
        "eval-customers",
        "vocwatch.evaluation.customer_risk",
        "precision and recall of customer_risk alerts on customer journeys",
        True,
    ),
)


def _tool(module: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        code: int = importlib.import_module(module).run(args)
        return code

    return run


def _settings(**overrides: object) -> Settings:
    return Settings.from_env(os.environ, **overrides)


def _worker(args: argparse.Namespace) -> int:
    from alerts.config import load_alerting
    from streams.app import create_service, faust_worker
    from streams.topics import ensure_topics
    from vocwatch.loops import install_event_loop

    overrides = {"alerts_out": args.alerts_out} if args.alerts_out else {}
    settings = _settings(**overrides)
    # Before anything creates a loop: what is made on one must not be used on another.
    event_loop = install_event_loop(settings.event_loop)
    # An invalid file stops us before anything starts.
    alerting = load_alerting(settings.rules_file)
    ensure_topics(settings)
    service = create_service(settings, alerting=alerting)
    log.info(
        "worker: broker %s, redis %s, http://%s:%d/metrics, event loop %s",
        settings.broker_url,
        _redact(settings.redis_url),
        settings.web_host,
        settings.web_port,
        event_loop,
    )
    service.app.task(_settle_heap)
    faust_worker(service.app, settings.log_level).execute_from_commandline()
    return 0


async def _settle_heap() -> None:
    """Once the app has started, what exists lives as long as the worker (vocwatch/memory.py)."""
    from vocwatch.memory import settle_heap

    settle_heap()


def _dev(args: argparse.Namespace) -> int:
    from vocwatch.dev.stack import DevStack

    with DevStack(os.environ, web_port=args.web_port, alerts_out=args.alerts_out) as stack:
        return stack.run(demo_traffic=args.demo, exit_after=args.exit_after)


def _demo(args: argparse.Namespace) -> int:
    import threading

    from vocwatch.dev import demo

    stop = threading.Event()
    timer = threading.Timer(args.seconds, stop.set)
    timer.start()
    try:
        demo.run(_settings(), stop=stop)
    finally:
        timer.cancel()
    return 0


def _topics(args: argparse.Namespace) -> int:
    from streams.topics import ensure_topics

    created = ensure_topics(_settings())
    print(json.dumps({"created": created}))
    return 0


def _classify(args: argparse.Namespace) -> int:
    from classifiers.analyze import Analyzer, Models
    from classifiers.polarity import PolarityPolicy
    from classifiers.priority import PriorityPolicy

    settings = _settings()
    model_dir = args.model_dir or settings.model_dir
    analyzer = Analyzer(
        Models.load_from(model_dir) if model_dir else None,
        policy=PriorityPolicy.load(settings.priority_file),
        polarity=PolarityPolicy.load(settings.polarity_file),
        sentiment_model=settings.sentiment_model,
    )
    if args.text is not None:
        records: Iterable[dict[str, Any]] = _classified_batch(
            analyzer, [(None, args.text, args.channel)]
        )
    else:
        stream = getattr(sys.stdin, "buffer", None)
        lines = sys.stdin if stream is None else _bounded_lines(stream, settings.max_message_bytes)
        records = _classified_lines(
            analyzer, lines, settings.max_message_bytes, more=_more_input(sys.stdin)
        )
    try:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def _bounded_lines(stream: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """The lines of ``stream``; None for a line longer than ``limit`` bytes, which is
    skipped a chunk at a time rather than held in memory."""
    while line := stream.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(limit + 1)
        yield None


#: Lines analysed together (one feature matrix): what is read is answered at the latest
#: when this many lines are in, or the input ends.
CLASSIFY_BATCH = 1000


def _classified_lines(
    analyzer: Analyzer,
    lines: Iterable[bytes | str | None],
    limit: int,
    *,
    more: Callable[[], bool] = lambda: True,
) -> Iterator[dict[str, Any]]:
    """One record per non-blank input line, in order, each with its 1-based line number.
    Lines are answered in batches of up to CLASSIFY_BATCH, and as soon as ``more`` says
    no further input is waiting: a caller that writes a line and waits gets its answer."""
    pending: list[tuple[int, Any, str | None] | dict[str, Any]] = []
    for number, raw in enumerate(lines, start=1):
        request = _request(number, raw, limit)
        if request is not None:
            pending.append(request)
        if pending and (len(pending) >= CLASSIFY_BATCH or not more()):
            yield from _answered(analyzer, pending)
            pending = []
    yield from _answered(analyzer, pending)


def _more_input(stream: Any) -> Callable[[], bool]:
    """Whether more input is waiting on ``stream`` right now (a file always has: read on;
    a pipe from a slow writer has not: answer what was read)."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's StringIO)
        return lambda: True

    def more() -> bool:
        readable, _, _ = select.select([descriptor], [], [], 0)
        return bool(readable)

    return more


def _request(
    number: int, raw: bytes | str | None, limit: int
) -> tuple[int, Any, str | None] | dict[str, Any] | None:
    """A line as (line number, text, channel) to analyse, an error record, or None for a
    blank line."""
    if raw is None:
        return {
            "line": number,
            "error": f"line is longer than {limit} bytes (VOCWATCH_MAX_MESSAGE_BYTES)",
        }
    try:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        return {"line": number, "error": f"not UTF-8 at byte {exc.start}"}
    if number == 1:
        line = line.removeprefix("\ufeff")
    if not line.strip():
        return None
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        return {"line": number, "error": f"not JSON: {str(exc)[:80]}"}
    if not isinstance(data, dict):
        return {"line": number, "error": f"expected a JSON object, got {type(data).__name__}"}
    text, channel = data.get("text"), data.get("channel")
    if channel is not None and not isinstance(channel, str):
        return {
            "line": number,
            "error": f"field 'channel' must be a string, got {type(channel).__name__}",
        }
    if channel is not None and channel not in CHANNELS:
        return {
            "line": number,
            "error": f"field 'channel' is {redact(channel)[:40]!r}; "
            f"expected one of {', '.join(CHANNELS)}",
        }
    return (number, text, channel)


def _answered(
    analyzer: Analyzer, pending: list[tuple[int, Any, str | None] | dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """The records of ``pending`` in order: its requests analysed as one batch."""
    requests = [p for p in pending if isinstance(p, tuple)]
    answers = iter(_classified_batch(analyzer, requests))
    for item in pending:
        if isinstance(item, dict):
            yield item
        else:
            yield {"line": item[0], **next(answers)}


def _classified_batch(
    analyzer: Analyzer, requests: Sequence[tuple[int | None, Any, str | None]]
) -> list[dict[str, Any]]:
    """The analysis of each (line, text, channel) as a JSON-ready record, or an error
    record; the valid texts are analysed as one batch."""
    records: list[dict[str, Any] | None] = [None] * len(requests)
    valid: list[tuple[int, str, str | None]] = []
    for index, (_, text, channel) in enumerate(requests):
        problem = _problem(text)
        if problem:
            records[index] = {"error": problem}
        else:
            valid.append((index, text, channel))
    texts = [t for _, t, _ in valid]
    channels = [c for _, _, c in valid]
    for (index, _, channel), answer in zip(
        valid, _analyses(analyzer, texts, channels), strict=True
    ):
        records[index] = {"error": answer} if isinstance(answer, str) else _record(answer, channel)
    return [r for r in records if r is not None]


def _analyses(
    analyzer: Analyzer, texts: list[str], channels: list[str | None]
) -> list[Analysis | str]:
    """The analyses of ``texts`` as one batch; if the batch fails (a classifier bug on an odd
    text, which must not end the run), one by one, so that only the text that fails gets
    an error: its message."""
    try:
        return list(analyzer.analyze_batch(texts, None, channels))
    except Exception:
        log.exception("classify: analysis of a batch of %d texts failed; one by one", len(texts))
    answers: list[Analysis | str] = []
    for text, channel in zip(texts, channels, strict=True):
        try:
            answers.append(analyzer.analyze_batch([text], None, [channel])[0])
        except Exception as exc:
            log.exception("classify: analysis failed")
            answers.append(f"analysis failed: {type(exc).__name__}")
    return answers


def _problem(text: Any) -> str | None:
    if text is None:
        return "field 'text' is required"
    if not isinstance(text, str):
        return f"field 'text' must be a string, got {type(text).__name__}"
    if not text.strip():
        return "field 'text' is empty"
    return None


def _record(a: Analysis, channel: str | None) -> dict[str, Any]:
    if not a.text:
        return {"error": "field 'text' is empty after cleaning (only invisible characters)"}
    negative, neutral, positive = a.probabilities
    return {
        "channel": channel,
        "masked_text": a.text,
        "sentiment": a.sentiment,
        "polarity": a.polarity,
        "probabilities": {"negative": negative, "neutral": neutral, "positive": positive},
        "category": a.category,
        "categories": [{"code": c.code, "score": c.score} for c in a.categories],
        "priority": a.priority.level,
        "reasons": list(a.priority.reasons),
        "pii_masked": list(a.pii),
    }


def _rules_check(args: argparse.Namespace) -> int:
    from alerts.config import load_alerting
    from alerts.routing import describe

    alerting = load_alerting(args.file)
    rules = alerting.rules
    print(f"{args.file}: {len(rules)} rules OK ({', '.join(r.name for r in rules)})")
    print(f"sinks: {', '.join(f'{n} ({s.type})' for n, s in alerting.sinks.items()) or 'none'}")
    for line in describe(alerting.router):
        print(f"route: {line}")
    if alerting.customers is not None:
        risk, detractor = alerting.customers.risk, alerting.customers.detractor
        print(
            f"customers: customer_risk from score {risk.threshold:g} (resolved below "
            f"{risk.resolve_below:g}) on {len(risk.points)} signals; detractor follow-ups "
            f"due in {detractor.due_seconds / 3600:g} h"
        )
    if alerting.kpis:
        targets = ", ".join(
            f"{t.kpi} {'≥' if t.kpi.higher_is_better else '≤'} {t.target:g}"
            for t in alerting.kpis.values()
        )
        print(f"kpis: {targets}")
    env = os.environ
    unset = sorted({v for s in alerting.sinks.values() for v in s.env_vars if not env.get(v)})
    if unset:
        print(f"not set here (those sinks would be disabled): {', '.join(unset)}")
    return 0


def _corrections_export(args: argparse.Namespace) -> int:
    """The corrections as a LABELS file: written beside FILE, then moved onto it, so that a
    failed export leaves no half file (and an earlier FILE as it was)."""
    from streams.corrections_store import export_labels

    settings = _settings()
    if args.file == "-":
        written = _on_corrections(settings, lambda store: export_labels(store, sys.stdout.write))
        sys.stdout.flush()
    else:
        path = Path(args.file)
        partial = path.with_name(f".{path.name}.partial")
        try:
            with partial.open("w", encoding="utf-8") as out:
                written = _on_corrections(settings, lambda store: export_labels(store, out.write))
            partial.replace(path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            print(f"vocwatch: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    print(
        f"vocwatch corrections export: {written} corrections written to {args.file}",
        file=sys.stderr,
    )
    return 0


def _corrections_count(args: argparse.Namespace) -> int:
    print(_on_corrections(_settings(), lambda store: store.count()))
    return 0


def _on_corrections(settings: Settings, use: Callable[[RedisCorrections], Awaitable[int]]) -> int:
    """``use`` the corrections store of ``settings``' Redis; a StackError naming the URL
    (password hidden) when Redis cannot be reached."""
    import asyncio

    from redis.exceptions import RedisError

    from streams.app import redis_client_for
    from streams.corrections_store import RedisCorrections

    async def run() -> int:
        client = redis_client_for(settings)
        try:
            return await use(RedisCorrections(client, prefix=settings.app_id))
        except RedisError as exc:
            raise StackError(
                f"cannot read the corrections from Redis at {_redact(settings.redis_url)} "
                f"(VOCWATCH_REDIS_URL): {exc}"
            ) from exc
        finally:
            await client.aclose()

    return asyncio.run(run())


def _redact(url: str) -> str:
    """Hide a password in a URL before logging it."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


if __name__ == "__main__":
    sys.exit(main())
