"""data/emerging/*.yaml: the incidents the emerging-topic evaluation injects — the tuned set
and the held-out sets written by someone who had seen neither the detector nor the others —
load as the harness reads them, and no incident or text is in two of them (a held-out set
that shares texts with the tuned one would not be held out)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from vocwatch.bench.emerging import ANALYSIS_CHANNEL, INCIDENTS, load_incidents

FOLDER = INCIDENTS.parent
FILES = sorted(FOLDER.glob("*.yaml"))
MIN_TEXTS = 30  # the harness injects up to 40; fewer than 30 would repeat many texts


def test_the_tuned_set_and_at_least_one_held_out_set_are_there() -> None:
    names = {path.name for path in FILES}
    assert INCIDENTS.name in names
    assert any(name.startswith("heldout") for name in names)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_incident_loads_with_enough_distinct_one_line_texts(path: Path) -> None:
    incidents = load_incidents(path)
    assert len(incidents) >= 10
    for incident in incidents:
        assert incident.title.strip(), incident.id
        assert incident.sources and set(incident.sources) <= set(ANALYSIS_CHANNEL), incident.id
        assert all(weight > 0 for weight in incident.sources.values()), incident.id
        assert len(incident.texts) >= MIN_TEXTS, incident.id
        assert len(set(incident.texts)) == len(incident.texts), incident.id
        for text in incident.texts:
            assert isinstance(text, str) and text.strip() and "\n" not in text, (incident.id, text)


def test_no_incident_or_text_is_in_two_sets() -> None:
    ids: Counter[str] = Counter()
    texts: Counter[str] = Counter()
    for path in FILES:
        for incident in load_incidents(path):
            ids[incident.id] += 1
            texts.update(set(incident.texts))
    assert [i for i, n in ids.items() if n > 1] == []
    assert [t for t, n in texts.items() if n > 1] == []
