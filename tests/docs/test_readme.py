"""README's examples must be what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path

from classifiers.analyze import Analyzer

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_classify_example_matches_the_analysis() -> None:
    text = re.search(r'vocwatch classify "([^"]+)"', README).group(1)
    shown = re.search(r"```json\n(.*?)```", README, re.S).group(1)
    analysis = Analyzer().analyze(text)
    expected = {
        "text": analysis.text,
        "polarity": analysis.polarity,
        "categories": [{"code": c.code, "score": c.score} for c in analysis.categories],
        "priority": analysis.priority.level,
        "reasons": list(analysis.priority.reasons),
    }
    for field, value in expected.items():
        assert f'"{field}": {json.dumps(value, ensure_ascii=False)}' in " ".join(
            shown.split()), field
    assert f'"sentiment": {analysis.sentiment}' in shown


def test_the_two_commands_are_the_ones_ci_runs() -> None:
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)
    assert len(commands) == 2
    run, test = commands
    assert run.endswith("vocwatch dev --demo")
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci
