"""The documentation is executable: its examples run, and its catalogues match the code.

- every ```json complaint / call / social block of docs/events.md decodes;
- every ```json invalid-<source> block is rejected with the reason in the comment above it;
- the ```yaml rules block of docs/alerts.md is a valid rules file;
- every metric of vocwatch.metrics and every VOCWATCH_ variable is documented.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from alerts.lifecycle import Alert
from alerts.rules import WindowCounts, parse_rules
from streams.events import SOURCES, decode
from streams.records import RawMessage, dead_letter_record
from vocwatch.errors import InvalidEvent
from vocwatch.metrics import catalogue
from vocwatch.settings import ENVIRONMENT, PREFIX, Settings
from vocwatch.vocabulary import AlertStatus, Measure, Priority

DOCS = Path(__file__).resolve().parents[2] / "docs"

_FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_REASON = re.compile(r"^<!--\s*reason:\s*(?P<reason>[a-z_]+)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    info: str
    body: str
    line: int  # 1-based line of the opening fence
    comment: str  # the line just above the fence ("" at the top of the file)

    @property
    def where(self) -> str:
        return f"line {self.line} ({self.info!r})"


def fenced_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        comment = lines[line - 2].strip() if line > 1 else ""
        blocks.append(Block(match.group("info").strip(), match.group("body"), line, comment))
    return blocks


def blocks_with(path: Path, info: str) -> list[Block]:
    return [b for b in fenced_blocks(path.read_text(encoding="utf-8")) if b.info == info]


EVENTS = DOCS / "events.md"
VALID = [(source, block) for source in SOURCES for block in blocks_with(EVENTS, f"json {source}")]
INVALID = [
    (source, block) for source in SOURCES for block in blocks_with(EVENTS, f"json invalid-{source}")
]
MAX_BYTES = Settings().max_message_bytes


# --- the fence parser itself ----------------------------------------------------------


def test_fenced_blocks_finds_info_body_and_comment() -> None:
    text = (
        "intro\n\n<!-- reason: not_json -->\n```json invalid-call\n{x\n```\n"
        "\n```yaml rules\na: 1\n```\n"
    )
    blocks = fenced_blocks(text)
    assert [(b.info, b.body, b.line, b.comment) for b in blocks] == [
        ("json invalid-call", "{x\n", 4, "<!-- reason: not_json -->"),
        ("yaml rules", "a: 1\n", 8, ""),
    ]


# --- docs/events.md -------------------------------------------------------------------


def test_events_doc_has_an_example_of_every_source() -> None:
    documented = {source for source, _ in VALID}
    assert documented == set(SOURCES), f"no example for {set(SOURCES) - documented}"


@pytest.mark.parametrize(("source", "block"), VALID, ids=[f"{s}@{b.line}" for s, b in VALID])
def test_event_example_decodes(source: str, block: Block) -> None:
    raw = block.body.encode("utf-8")
    json.loads(raw)  # a plain JSON object, no comments or ellipses
    event = decode(source, raw, max_bytes=MAX_BYTES)
    assert event.source == source
    assert event.id and event.text


def test_events_doc_has_invalid_examples() -> None:
    assert INVALID, "docs/events.md shows no ```json invalid-<source> example"


@pytest.mark.parametrize(("source", "block"), INVALID, ids=[f"{s}@{b.line}" for s, b in INVALID])
def test_invalid_event_example_is_rejected_with_its_reason(source: str, block: Block) -> None:
    match = _REASON.match(block.comment)
    assert match, (
        f"{block.where}: the line above must be '<!-- reason: <code> -->', found {block.comment!r}"
    )
    reason = match.group("reason")
    assert reason in InvalidEvent.REASONS, f"{block.where}: {reason!r} is not a reason code"
    with pytest.raises(InvalidEvent) as caught:
        decode(source, block.body.encode("utf-8"), max_bytes=MAX_BYTES)
    assert caught.value.reason == reason, f"{block.where}: {caught.value}"


def test_events_doc_lists_every_dead_letter_reason() -> None:
    text = EVENTS.read_text(encoding="utf-8")
    missing = sorted(r for r in InvalidEvent.REASONS if f"| `{r}` |" not in text)
    assert not missing, f"reason codes missing from the table in docs/events.md: {missing}"


def test_events_doc_names_the_input_topics() -> None:
    text = EVENTS.read_text(encoding="utf-8")
    topics = Settings().all_topics
    assert all(f"`{topic}`" in text for topic in topics), topics


def test_dead_letter_example_has_the_record_fields() -> None:
    examples = [json.loads(b.body) for b in blocks_with(EVENTS, "json")]
    dead_letters = [e for e in examples if "dead_lettered_at" in e]
    assert len(dead_letters) == 1
    record = dead_letter_record(RawMessage(b"{", "t", 0, 1, 1.0), "call", "not_json", "x", now=2.0)
    assert set(dead_letters[0]) == set(record)
    assert set(dead_letters[0]["origin"]) == set(record["origin"])


@pytest.mark.parametrize("page", ["events.md", "alerts.md", "metrics.md"])
def test_plain_json_examples_parse(page: str) -> None:
    blocks = blocks_with(DOCS / page, "json")
    assert blocks, f"docs/{page} has no ```json example"
    for block in blocks:
        assert isinstance(json.loads(block.body), dict), block.where


# --- docs/alerts.md -------------------------------------------------------------------


def test_alerts_doc_rules_example_is_a_valid_rules_file() -> None:
    blocks = blocks_with(DOCS / "alerts.md", "yaml rules")
    assert len(blocks) == 1, "docs/alerts.md must have exactly one ```yaml rules block"
    rules = parse_rules(yaml.safe_load(blocks[0].body), source="docs/alerts.md")
    assert rules
    text = (DOCS / "alerts.md").read_text(encoding="utf-8")
    undocumented = [r.name for r in rules if f"`{r.name}`" not in text.replace(blocks[0].body, "")]
    assert not undocumented, f"rules in the example without an explanation: {undocumented}"


def test_alerts_doc_rules_example_is_the_packaged_default() -> None:
    block = blocks_with(DOCS / "alerts.md", "yaml rules")[0]
    packaged = yaml.safe_load(Settings().rules_file.read_text(encoding="utf-8"))
    assert yaml.safe_load(block.body) == packaged, "the default rules in docs/alerts.md are stale"


def test_alert_record_example_has_the_record_fields() -> None:
    # tests/docs/test_alerts_doc.py also compares every nested field and every value.
    examples = [json.loads(b.body) for b in blocks_with(DOCS / "alerts.md", "json")]
    assert len(examples) == 1
    alert = Alert(
        id="f-1",
        fingerprint="f",
        rule="r",
        description="",
        priority=Priority.P2,
        status=AlertStatus.FIRING,
        key="channel=app",
        window_seconds=300,
        window_start=0.0,
        window_end=1.0,
        measure=Measure.COUNT,
        value=1.0,
        threshold=1.0,
        expected=None,
        deviation=None,
        severity=1.0,
        min_count=1,
        counts=WindowCounts(1, 0, 0),
        first_seen=1.0,
        last_seen=1.0,
        updated_at=1.0,
    )
    record = alert.to_record()
    assert set(examples[0]) == set(record)
    assert set(examples[0]["window"]) == set(record["window"])


# --- docs/metrics.md ------------------------------------------------------------------


def exposed_metric_names() -> list[str]:
    registry, _ = catalogue()
    # client_python reports a counter's family name without _total; /metrics shows it with.
    return [f"{m.name}_total" if m.type == "counter" else m.name for m in registry.collect()]


def test_every_metric_is_in_the_catalogue() -> None:
    names = exposed_metric_names()
    assert len(names) >= 10, names
    assert all(n.startswith(("vocwatch_", "process_", "python_")) for n in names), names
    assert "process_resident_memory_bytes" in names
    assert "vocwatch_analysis_process_resident_memory_bytes" in names
    text = (DOCS / "metrics.md").read_text(encoding="utf-8")
    missing = [n for n in names if not re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", text)]
    assert not missing, f"metrics missing from docs/metrics.md: {missing}"


# --- docs/deploy.md -------------------------------------------------------------------


def test_every_environment_variable_is_documented() -> None:
    text = (DOCS / "deploy.md").read_text(encoding="utf-8")
    variables = [PREFIX + field.upper() for field in ENVIRONMENT]
    assert variables
    missing = [v for v in variables if not re.search(rf"`{v}`", text)]
    assert not missing, f"variables missing from docs/deploy.md: {missing}"
