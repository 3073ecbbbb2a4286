"""The live emerging test's timing replayed through one monitor: the order of an incident's
texts that left it unalerted (2026-12-07, docs/alerts.md) now alerts both topics."""

from __future__ import annotations

import asyncio

import pytest

from classifiers.analyze import Analyzer
from vocwatch.bench import emerging_replay
from vocwatch.bench.emerging import analyse


@pytest.fixture(scope="module")
def texts() -> dict[str, list[object]]:
    analyzer = Analyzer()
    return {
        "bg": [analyse(analyzer, t, "app") for t in emerging_replay.background(240)],
        **{
            name: [analyse(analyzer, t, "app") for t in emerging_replay.incident(name)]
            for name in (emerging_replay.FIRST, "hotel_bedbugs")
        },
    }


@pytest.mark.parametrize(("offset", "split"), [(42.0, None), (36.0, 10), (0.0, None)])
def test_an_incident_whose_texts_form_several_clusters_still_alerts(
    texts: dict[str, list[object]], offset: float, split: int | None
) -> None:
    """Shuffled with seed 1, the bedbug texts form several clusters; before the fix their
    group was emerging but explained by one word, and never alerted (offsets 36 and 42 of
    the minute); the texts in the order written alert either way."""
    order = 1 if offset else 0
    missed = asyncio.run(emerging_replay.replay(texts, "hotel_bedbugs", offset, split, order))
    assert missed is None
