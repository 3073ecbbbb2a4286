"""docs/classifiers.md runs: its cleaning and masking examples are what the code does, its
polarity file is the packaged one, and its ``vocwatch classify`` example prints what it
shows. (Only the sections "Cleaning and privacy", "Polarity cut-offs" and "Command line".)
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from classifiers.normalize import normalize
from classifiers.pii import mask_pii
from classifiers.polarity import CHANNELS, DEFAULT_POLARITY_FILE, PolarityPolicy
from tests.docs.test_docs import fenced_blocks
from vocwatch.cli import main
from vocwatch.errors import ConfigError

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
        "default": {"negative_below": 0.4, "positive_from": 0.6},
        "channels": {"call": {"negative_below": 0.7}},
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
