"""docs/guarantees.md names real tests: every `path::test` it cites exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")


def test_every_cited_test_exists() -> None:
    cited = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", DOC)
    assert len(cited) >= 10
    for path, name in cited:
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        names = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        assert name in names, f"{path}::{name} is cited in docs/guarantees.md but missing"
