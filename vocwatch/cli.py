"""The ``vocwatch`` command line.

vocwatch dev [--demo] [--exit-after S] [--alerts-out FILE]   embedded stack + worker
vocwatch worker [--alerts-out FILE]                          the worker alone
vocwatch demo [--seconds S]                                  demo traffic to a broker
vocwatch topics                                              create the topics
vocwatch classify [--text TEXT [--channel C]]                analyse texts: JSON lines
                                                             on stdin, or one --text
vocwatch rules check FILE                                    validate a rules file
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from classifiers.pii import redact
from classifiers.polarity import CHANNELS
from vocwatch.errors import VocwatchError
from vocwatch.processes import StopRequested, stop_on_signals
from vocwatch.settings import Settings

if TYPE_CHECKING:
    from classifiers.analyze import Analyzer

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
    ("eval-categories", "classifiers.train.categories_eval", "evaluate the category model", False),
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

    overrides = {"alerts_out": args.alerts_out} if args.alerts_out else {}
    settings = _settings(**overrides)
    # An invalid file stops us before anything starts.
    alerting = load_alerting(settings.rules_file)
    ensure_topics(settings)
    service = create_service(settings, alerting=alerting)
    log.info(
        "worker: broker %s, redis %s, http://%s:%d/metrics",
        settings.broker_url,
        _redact(settings.redis_url),
        settings.web_host,
        settings.web_port,
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
    from classifiers.analyze import Analyzer
    from classifiers.polarity import PolarityPolicy
    from classifiers.priority import PriorityPolicy

    settings = _settings()
    analyzer = Analyzer(
        policy=PriorityPolicy.load(settings.priority_file),
        polarity=PolarityPolicy.load(settings.polarity_file),
    )
    if args.text is not None:
        records: Iterable[dict[str, Any]] = [_classified(analyzer, args.text, args.channel)]
    else:
        stream = getattr(sys.stdin, "buffer", None)
        lines = sys.stdin if stream is None else _bounded_lines(stream, settings.max_message_bytes)
        records = _classified_lines(analyzer, lines, settings.max_message_bytes)
    try:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


class _BadInput(ValueError):
    """One classify input that cannot be analysed; its message is the error line's."""


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


def _classified_lines(
    analyzer: Analyzer, lines: Iterable[bytes | str | None], limit: int
) -> Iterator[dict[str, Any]]:
    """One record per non-blank input line, in order, each with its 1-based line number."""
    for number, raw in enumerate(lines, start=1):
        if raw is None:
            yield {
                "line": number,
                "error": f"line is longer than {limit} bytes (VOCWATCH_MAX_MESSAGE_BYTES)",
            }
            continue
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as exc:
            yield {"line": number, "error": f"not UTF-8 at byte {exc.start}"}
            continue
        if number == 1:
            line = line.removeprefix("\ufeff")
        if line.strip():
            yield {"line": number, **_classified_line(analyzer, line)}


def _classified_line(analyzer: Analyzer, line: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        return {"error": f"not JSON: {str(exc)[:80]}"}
    if not isinstance(data, dict):
        return {"error": f"expected a JSON object, got {type(data).__name__}"}
    text, channel = data.get("text"), data.get("channel")
    if channel is not None and not isinstance(channel, str):
        return {"error": f"field 'channel' must be a string, got {type(channel).__name__}"}
    if channel is not None and channel not in CHANNELS:
        return {
            "error": f"field 'channel' is {redact(channel)[:40]!r}; expected one of "
            f"{', '.join(CHANNELS)}"
        }
    return _classified(analyzer, text, channel)


def _classified(analyzer: Analyzer, text: Any, channel: str | None) -> dict[str, Any]:
    """The analysis of one text as a JSON-ready record, or an error record."""
    try:
        return _classification(analyzer, text, channel)
    except _BadInput as exc:
        return {"error": str(exc)}
    except Exception as exc:  # a classifier bug on an odd text must not end the run
        log.exception("classify: analysis failed")
        return {"error": f"analysis failed: {type(exc).__name__}"}


def _classification(analyzer: Analyzer, text: Any, channel: str | None) -> dict[str, Any]:
    if text is None:
        raise _BadInput("field 'text' is required")
    if not isinstance(text, str):
        raise _BadInput(f"field 'text' must be a string, got {type(text).__name__}")
    if not text.strip():
        raise _BadInput("field 'text' is empty")
    a = analyzer.analyze(text, channel=channel)
    if not a.text:
        raise _BadInput("field 'text' is empty after cleaning (only invisible characters)")
    return {
        "channel": channel,
        "masked_text": a.text,
        "sentiment": a.sentiment,
        "polarity": a.polarity,
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
    env = os.environ
    unset = sorted({v for s in alerting.sinks.values() for v in s.env_vars if not env.get(v)})
    if unset:
        print(f"not set here (those sinks would be disabled): {', '.join(unset)}")
    return 0


def _redact(url: str) -> str:
    """Hide a password in a URL before logging it."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


if __name__ == "__main__":
    sys.exit(main())
