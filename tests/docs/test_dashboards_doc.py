"""docs/metrics.md describes every Grafana dashboard: each dashboard, each panel by its
title, and each panel's query exactly as the dashboard runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
METRICS_DOC = ROOT / "docs" / "metrics.md"


def dashboards_section() -> str:
    text = METRICS_DOC.read_text(encoding="utf-8")
    assert "\n## Dashboards\n" in text, "docs/metrics.md has no '## Dashboards' section"
    section = text.split("\n## Dashboards\n", 1)[1]
    return section.split("\n## ", 1)[0]


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return dashboard


def test_there_are_dashboards_to_document() -> None:
    assert len(DASHBOARDS) == 3


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_dashboard_and_panel_title_is_documented(path: Path) -> None:
    section = dashboards_section()
    board = load(path)
    assert f"### {board['title']}" in section, board["title"]
    assert path.name in section
    missing = [p["title"] for p in board["panels"] if f"**{p['title']}**" not in section]
    assert not missing, f"panels of {path.name} not in docs/metrics.md: {missing}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_query_is_documented_as_it_runs(path: Path) -> None:
    section = dashboards_section()
    missing = [
        f"{panel['title']}: {target['expr']}"
        for panel in load(path)["panels"]
        for target in panel["targets"]
        if target["expr"] not in section
    ]
    assert not missing, "queries not in docs/metrics.md (or changed):\n" + "\n".join(missing)
