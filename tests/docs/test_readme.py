"""README's examples must be what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vocwatch.cli import main

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def found(pattern: str, flags: int = 0) -> str:
    """The first group of ``pattern``'s first match in README."""
    match = re.search(pattern, README, flags)
    assert match, f"README has nothing like {pattern!r}"
    return match.group(1)


def test_classify_example_is_what_the_command_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("VOCWATCH_PRIORITY_FILE", "VOCWATCH_POLARITY_FILE"):
        monkeypatch.delenv(name, raising=False)  # the packaged policies, as README shows
    text = found(r'vocwatch classify --text "([^"]+)"')
    shown = json.loads(found(r"```json\n(.*?)```", re.S))
    assert main(["classify", "--text", text]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert shown == printed, "README's classify example is stale: paste what the command prints"


def test_the_two_commands_are_the_ones_ci_runs() -> None:
    commands = re.findall(r"```sh\n((?:apt-get update && .*?)?python3 -m venv .*?)\n```", README)
    assert len(commands) == 2
    run, test = commands
    assert run.endswith("vocwatch dev --demo")
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci
