"""``vocwatch corrections export FILE`` and ``count`` against a real Redis-compatible server
(valkey): the corrections the API stored come out as LABELS lines that read back as the same
corrections; a Redis that cannot be reached, or a FILE that cannot be written, is a clean
error that leaves no half file behind."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from classifiers.corrections import Correction, parse_correction, parse_label_line
from streams.corrections_store import RedisCorrections
from vocwatch.cli import main
from vocwatch.dev import embedded

pytestmark = pytest.mark.integration
AT = 1_800_000_000.0
BODIES = [
    {"text": "快递三天没到", "category": "logistics", "channel": "app", "source": "alert:f-1"},
    {"text": "微博上都在骂", "sentiment": "negative", "channel": "social", "by": "王五"},
    {"text": "退款还没到账", "categories": ["after_sales", "price"], "sentiment": "neutral"},
]


def seed(redis_url: str, prefix: str) -> list[Correction]:
    async def add() -> list[Correction]:
        client = aioredis.Redis.from_url(redis_url)
        store = RedisCorrections(client, prefix=prefix)
        try:
            return [
                await store.add(parse_correction(body, at=AT + i)) for i, body in enumerate(BODIES)
            ]
        finally:
            await client.aclose()

    return asyncio.run(add())


@pytest.fixture
def stored(redis_url: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> list[Correction]:
    monkeypatch.setenv("VOCWATCH_REDIS_URL", redis_url)
    monkeypatch.setenv("VOCWATCH_APP_ID", unique)
    return seed(redis_url, unique)


def test_export_writes_the_labels_file_and_says_how_many(
    stored: list[Correction], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text("an older export\n")
    assert main(["corrections", "export", str(labels)]) == 0
    lines = labels.read_text(encoding="utf-8").splitlines()
    assert [parse_label_line(line) for line in lines] == stored  # oldest first
    assert json.loads(lines[0]) == {
        "text": "快递三天没到",
        "category": "logistics",
        "channel": "app",
        "at": "2027-01-15T08:00:00+00:00",
        "source": "alert:f-1",
    }
    assert "微博上都在骂" in lines[1]  # Chinese as is, not \\u escapes
    captured = capsys.readouterr()
    assert "3 corrections written to" in captured.err and captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.jsonl"]  # no partial file


def test_export_to_stdout_and_count(
    stored: list[Correction], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["corrections", "export", "-"]) == 0
    captured = capsys.readouterr()
    assert [parse_label_line(line) for line in captured.out.splitlines()] == stored
    assert "3 corrections written to -" in captured.err
    assert main(["corrections", "count"]) == 0
    assert capsys.readouterr().out == "3\n"


def test_an_unreachable_redis_is_a_clean_error_and_the_old_file_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"redis://:secret@127.0.0.1:{embedded.free_port()}/0"  # nothing listens there
    monkeypatch.setenv("VOCWATCH_REDIS_URL", url)
    labels = tmp_path / "labels.jsonl"
    labels.write_text("an older export\n")
    assert main(["corrections", "export", str(labels)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vocwatch: cannot read the corrections from Redis at redis://***@127")
    assert "secret" not in err and "Traceback" not in err
    assert labels.read_text() == "an older export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.jsonl"]
    assert main(["corrections", "count"]) == 2


def test_a_file_that_cannot_be_written_is_a_clean_error(
    stored: list[Correction], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["corrections", "export", str(tmp_path / "missing" / "labels.jsonl")]) == 2
    assert "cannot write" in capsys.readouterr().err
