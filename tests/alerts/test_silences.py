"""alerts.silences: a silence from an API body (validated field by field), which alerts it
matches, and when it is active."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alerts.evaluate import evaluate
from alerts.lifecycle import Alert, Window, advance, fingerprint
from alerts.rules import WindowCounts, parse_rules
from alerts.silences import MATCHERS, MAX_SILENCE_SECONDS, MAX_TEXT, Silence, new_silence

T0 = 1_800_000_000.0
KEY = "channel=app,category=%E7%89%A9%E6%B5%81"  # category=物流
(RULE,) = parse_rules(
    {
        "rules": [
            {
                "name": "negative_burst",
                "key": ["channel", "category"],
                "window": "5m",
                "measure": "negative_count",
                "threshold": 5,
                "priority": "P2",
            }
        ]
    }
)


def alert(key: str = KEY) -> Alert:
    counts = WindowCounts(count=9, negative=9)
    fired, _ = advance(
        RULE, key, Window(T0 - 300, T0), evaluate(RULE, counts, now=T0), T0, None, update_seconds=30
    )
    assert fired is not None
    return fired


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "matchers": {"rule": "negative_burst", "category": "物流"},
        "duration_seconds": 3600,
        "created_by": "张三",
        "comment": "已知故障",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def test_new_silence() -> None:
    silence = new_silence(body(), T0)
    assert silence.matchers == {"rule": "negative_burst", "category": "物流"}
    assert (silence.starts_at, silence.ends_at) == (T0, T0 + 3600)
    assert (silence.created_by, silence.comment) == ("张三", "已知故障")
    assert len(silence.id) == 12
    assert new_silence(body(), T0).id != silence.id


def test_new_silence_trims_texts_and_comment_is_optional() -> None:
    silence = new_silence(body(created_by="  李四 ", comment=...), T0)
    assert (silence.created_by, silence.comment) == ("李四", "")


def test_longest_silence() -> None:
    silence = new_silence(body(duration_seconds=MAX_SILENCE_SECONDS), T0)
    assert silence.ends_at == T0 + 7 * 86400
    assert new_silence(body(duration_seconds=0.5), T0).ends_at == T0 + 0.5


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (["matchers"], "body"),
        ("x", "body"),
        (None, "body"),
        (body(matchers=...), "matchers"),
        (body(matchers={}), "matchers"),
        (body(matchers=["rule"]), "matchers"),
        (body(matchers={"city": "北京"}), "matchers"),
        (body(matchers={"rule": ""}), "matchers"),
        (body(matchers={"rule": 5}), "matchers"),
        (body(matchers={"rule": "x" * (MAX_TEXT + 1)}), "matchers"),
        (body(duration_seconds=...), "duration_seconds"),
        (body(duration_seconds=0), "duration_seconds"),
        (body(duration_seconds=-60), "duration_seconds"),
        (body(duration_seconds=MAX_SILENCE_SECONDS + 1), "duration_seconds"),
        (body(duration_seconds="3600"), "duration_seconds"),
        (body(duration_seconds=True), "duration_seconds"),
        (body(created_by=...), "created_by"),
        (body(created_by="  "), "created_by"),
        (body(created_by=7), "created_by"),
        (body(created_by="x" * (MAX_TEXT + 1)), "created_by"),
        (body(comment=5), "comment"),
        (body(comment="x" * (MAX_TEXT + 1)), "comment"),
    ],
)
def test_invalid_silence_names_the_field(data: Any, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        new_silence(data, T0)


def test_unknown_matcher_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as info:
        new_silence(body(matchers={"city": "北京", "rule": "x"}), T0)
    assert "city" in str(info.value)
    assert all(m in str(info.value) for m in MATCHERS)


# --- matching --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matchers", "matches"),
    [
        ({"rule": "negative_burst"}, True),
        ({"rule": "negative_burst", "category": "物流"}, True),  # decoded key values
        ({"channel": "app", "priority": "P2"}, True),
        ({"fingerprint": fingerprint("negative_burst", KEY)}, True),
        ({"rule": "other"}, False),
        ({"rule": "negative_burst", "category": "售后"}, False),
        ({"priority": "P1"}, False),
        ({"region": "北京"}, False),  # not in the key: no match
        ({"fingerprint": fingerprint("negative_burst", "channel=web")}, False),
    ],
)
def test_matches(matchers: dict[str, str], matches: bool) -> None:
    silence = Silence("s1", matchers, T0, T0 + 60, "张三")
    assert silence.matches(alert()) is matches


def test_active_from_start_until_end() -> None:
    silence = new_silence(body(duration_seconds=600), T0)
    assert not silence.active(T0 - 0.001)
    assert silence.active(T0)
    assert silence.active(T0 + 599.9)
    assert not silence.active(T0 + 600)


def test_json_round_trip() -> None:
    silence = new_silence(body(), T0)
    data = json.loads(json.dumps(silence.to_json(), ensure_ascii=False))
    assert data == {
        "id": silence.id,
        "matchers": {"rule": "negative_burst", "category": "物流"},
        "starts_at": T0,
        "ends_at": T0 + 3600,
        "created_by": "张三",
        "comment": "已知故障",
    }
    assert Silence.from_json(data) == silence
    assert Silence.from_json({k: v for k, v in data.items() if k != "comment"}).comment == ""
