"""docs/classifiers.md runs: its cleaning and masking examples are what the code does, its
polarity file is the packaged one, its ``vocwatch classify`` example prints what it shows,
and its corrections (纠正) are what the API answers and the export writes. (Only the
sections "Cleaning and privacy", "Polarity cut-offs", "Command line" and "Corrections".)
"""

from __future__ import annotations

import io
import json
import re
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from classifiers.corrections import (
    MAX_NOTE_CHARS,
    MAX_TEXT_CHARS,
    merge,
    parse_correction,
    parse_label_line,
)
from classifiers.normalize import normalize
from classifiers.pii import mask_pii
from classifiers.polarity import CHANNELS, DEFAULT_POLARITY_FILE, PolarityPolicy
from tests.docs.test_docs import fenced_blocks
from vocwatch.cli import main
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Category, Channel, Polarity

PAGE = Path(__file__).resolve().parents[2] / "docs" / "classifiers.md"
TEXT = PAGE.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The body of ``## title``, up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", TEXT, re.M | re.S)
    assert match, f"docs/classifiers.md has no '## {title}' section"
    return match.group(1)


def table_after(text: str, header: str) -> list[list[str]]:
    """Rows (cells stripped) of the Markdown table whose header row contains ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|") and header in line)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    assert rows, f"empty table under {header!r}"
    return rows


def code(cell: str) -> str:
    assert cell.startswith("`") and cell.endswith("`"), cell
    return cell[1:-1]


CLEANING = section("Cleaning and privacy")
POLARITY = section("Polarity cut-offs")
COMMAND = section("Command line")
CORRECTIONS = section("Corrections (纠正)")


@pytest.mark.parametrize("row", table_after(CLEANING, "after `normalize`"), ids=lambda r: r[0])
def test_normalization_examples(row: list[str]) -> None:
    text, expected = map(code, row)
    assert normalize(text) == expected


@pytest.mark.parametrize("row", table_after(CLEANING, "after `mask_pii`"), ids=lambda r: r[0])
def test_masking_examples(row: list[str]) -> None:
    text, expected = map(code, row)
    assert mask_pii(text).text == expected


def test_masking_examples_cover_every_kind_and_numbers_that_stay() -> None:
    rows = [list(map(code, row)) for row in table_after(CLEANING, "after `mask_pii`")]
    masked = "".join(after for _, after in rows)
    assert all(token in masked for token in ("[PHONE]", "[ID]", "[CARD]", "[EMAIL]"))
    assert sum(before == after for before, after in rows) >= 5


def test_the_kinds_table_names_every_kind() -> None:
    from classifiers.pii import TOKENS

    rows = table_after(CLEANING, "| kind | token |")
    assert {code(r[0]): code(r[1]) for r in rows} == TOKENS


def test_polarity_block_is_the_packaged_file() -> None:
    blocks = [b for b in fenced_blocks(POLARITY) if b.info == "yaml polarity"]
    assert len(blocks) == 1
    packaged = DEFAULT_POLARITY_FILE.read_text(encoding="utf-8")
    assert blocks[0].body == packaged, "the polarity file in docs/classifiers.md is stale"
    assert (
        PolarityPolicy.parse(yaml.safe_load(blocks[0].body), source="doc") == PolarityPolicy.load()
    )


def test_polarity_table_is_the_packaged_policy() -> None:
    policy = PolarityPolicy.load()
    seen = []
    for cell, negative_from, positive_from in table_after(POLARITY, "| channel |"):
        channels = [c.strip() for c in cell.replace("(the default)", "").split(",")]
        seen += channels
        for channel in channels:
            cutoffs = policy.cutoffs(channel)
            assert (cutoffs.negative_from, cutoffs.positive_from) == (
                float(negative_from),
                float(positive_from),
            ), channel
    assert sorted(seen) == sorted(CHANNELS)


def test_documented_config_error_is_the_real_message() -> None:
    shown = re.search(r"`(vocwatch: polarity\.yaml: [^`]+)`", POLARITY)
    assert shown
    data = {
        "default": {"negative_from": 0.5, "positive_from": 0.5},
        "channels": {"call": {"negative_from": 1.5}},
    }
    with pytest.raises(ConfigError) as caught:
        PolarityPolicy.parse(data, source="polarity.yaml")
    assert f"vocwatch: {caught.value}" == shown.group(1)


def test_classify_example_prints_what_the_page_shows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("VOCWATCH_PRIORITY_FILE", "VOCWATCH_POLARITY_FILE"):
        monkeypatch.delenv(name, raising=False)
    blocks = {b.info: b.body for b in fenced_blocks(COMMAND)}
    stdin = blocks["jsonl classify-input"].encode("utf-8")
    shown = [json.loads(line) for line in blocks["jsonl classify-output"].splitlines()]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    assert main(["classify"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == shown, (
        "the classify example in docs/classifiers.md is stale: paste "
        "what `vocwatch classify < complaints.jsonl` prints"
    )


def test_field_table_lists_every_output_field() -> None:
    blocks = {b.info: b.body for b in fenced_blocks(COMMAND)}
    fields = {
        key for line in blocks["jsonl classify-output"].splitlines() for key in json.loads(line)
    }
    documented = {code(row[0]) for row in table_after(COMMAND, "| field | meaning |")}
    assert documented == fields


def _figure(cell: str) -> float | None:
    cell = cell.strip("*")
    return None if cell in ("—", "") else float(cell)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def test_sentiment_table_is_the_shipped_models_validation() -> None:
    from classifiers.sentiment import load_model

    validation = load_model().meta["validation"]
    rows = {r[0]: r for r in table_after(section("Sentiment"), "| held-out domain | binary, dev")}
    for domain, figures in validation["dev"]["domains"].items():
        row, test = rows[domain], validation["test"]["domains"][domain]
        assert _figure(row[1]) == _rounded(figures["binary_accuracy"]), domain
        assert _figure(row[3]) == _rounded(figures["three_way_accuracy"]), domain
        assert _figure(row[5]) == _rounded(test["binary_accuracy"]), domain
    mean = rows["**mean**"]
    assert _figure(mean[1]) == _rounded(validation["dev"]["mean_binary_accuracy"])
    assert _figure(mean[5]) == _rounded(validation["test"]["mean_binary_accuracy"])


def test_category_table_is_the_shipped_models_validation() -> None:
    from classifiers.category import load_model

    validation = load_model().meta["validation"]
    rows = {
        r[0]: r for r in table_after(section("Issue categories"), "| held-out domain | texts (dev)")
    }
    for domain, figures in validation["dev"]["domains"].items():
        row, test = rows[domain], validation["test"]["domains"][domain]
        assert int(row[1]) == figures["texts"], domain
        assert _figure(row[2]) == _rounded(figures["top_in_gold"]), domain
        assert _figure(row[8]) == _rounded(test["top_in_gold"]), domain
    mean = rows["**mean**"]
    assert _figure(mean[2]) == _rounded(validation["dev"]["mean_top_in_gold"])
    assert _figure(mean[8]) == _rounded(validation["test"]["mean_top_in_gold"])


# --- corrections ------------------------------------------------------------------------


def correction_blocks() -> dict[str, str]:
    return {b.info: b.body for b in fenced_blocks(CORRECTIONS)}


def test_the_correction_answer_is_what_the_api_answers_for_the_request() -> None:
    blocks = correction_blocks()
    request = json.loads(blocks["json correction-request"])
    shown = json.loads(blocks["json correction"])
    at = datetime.fromisoformat(shown["at"]).timestamp()
    correction = parse_correction(request, at=at)
    assert {**correction.to_json(), "key": correction.key} == shown
    assert f"at {shown['at']}" in CORRECTIONS  # the comment above the request says when


def test_the_export_example_is_what_the_export_writes() -> None:
    blocks = correction_blocks()
    first = parse_correction(json.loads(blocks["json correction-request"]), at=1765000000.0)
    lines = blocks["jsonl labels-export"].splitlines()
    # the first line: the correction above, and 情感不对 of its text five minutes later
    later = parse_correction({"text": first.text, "sentiment": "negative"}, at=1765000300.0)
    assert merge(first, later).to_line() == lines[0]
    for line in lines:
        assert parse_label_line(line).to_line() == line  # exactly as the export writes it


def test_the_hand_written_labels_parse() -> None:
    lines = correction_blocks()["jsonl labels"].splitlines()
    labels = [parse_label_line(line) for line in lines]
    assert [c.sentiment for c in labels] == [Polarity.POSITIVE, Polarity.NEUTRAL, Polarity.NEGATIVE]
    assert labels[2].categories == (Category.TECHNICAL,)


def test_the_correction_field_table_is_the_codes() -> None:
    rows = {code(row[0]): row[-1] for row in table_after(CORRECTIONS, "| field | required |")}
    assert set(rows) == {"text", "category", "categories", "sentiment", "channel", "source", "by"}
    assert all(f"`{c.value}`" in rows["category"] for c in Category)
    assert all(f"`{p.value}`" in rows["sentiment"] for p in Polarity)
    assert all(f"`{c.value}`" in rows["channel"] for c in Channel)
    assert f"{MAX_TEXT_CHARS:,} characters" in rows["text"]
    assert f"at most {MAX_NOTE_CHARS} characters" in rows["by"]


def test_the_documented_bound_and_keys_are_the_codes() -> None:
    from streams.corrections_store import MAX_CORRECTIONS, RedisCorrections

    assert f"**{MAX_CORRECTIONS:,}**" in CORRECTIONS
    store = RedisCorrections(None, prefix="<app_id>")
    assert f"`{store.key}`" in CORRECTIONS and f"`{store.order_key}`" in CORRECTIONS
