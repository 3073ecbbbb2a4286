"""vocwatch.bench.emerging: how the evaluation scores the alerts of its runs (which
incident an alert found, its delay after the 20th text, false and repeated alerts) and
reports them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from vocwatch.bench.emerging import (
    AlertSeen,
    Injection,
    RunResult,
    _figures,
    _print_report,
    background_texts,
)
from vocwatch.errors import ConfigError
from vocwatch.settings import Settings


def injection(index: int, name: str, size: int, start: float) -> Injection:
    return Injection(index, name, size, start, [start + 5.0 * n for n in range(size)])


def alert(at: float, label: int | None, terms: list[str]) -> AlertSeen:
    return AlertSeen(f"topic-{at}", at, label, 20, terms, ["样例"])


def test_alerts_are_scored_against_the_incidents_they_belong_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    mould = injection(0, "bottle_cap_mould", 20, 600.0)  # 20th text at 695 s
    small = injection(1, "power_bank_swelling", 10, 1800.0)
    scam = injection(2, "brand_scam_calls", 30, 3000.0)  # 20th text at 3,095 s
    steady = RunResult(
        3600.0,
        [mould, small, scam],
        [
            alert(680.0, 0, ["瓶盖", "发霉"]),
            alert(3150.0, 2, ["冒充", "客服"]),
            alert(3400.0, 2, ["冒充", "骗子"]),  # the same incident, again
            alert(2000.0, None, ["衣服", "质量"]),  # background: a false alert
        ],
        texts=18_000,
        observe_seconds=1.8,
    )
    cold_start = RunResult(900.0, [injection(0, "hotel_bedbugs", 20, 180.0)])  # none found
    figures = _figures([steady], [cold_start], Settings(), 5.0, 1, Counter(shopping=1), 100)

    summary = figures["summary"]
    assert summary["recall_20_plus"] == 1.0 and summary["incidents_20_plus"] == 2
    assert summary["recall_by_size"] == {"10": "0/1", "20": "1/1", "30": "1/1"}
    assert summary["delay_median_s"] == pytest.approx((-15.0 + 55.0) / 2)
    assert summary["delay_max_s"] == 55.0
    assert summary["false_alerts"] == 1 and summary["false_alerts_per_hour"] == 1.0
    assert summary["duplicate_alerts"] == 1
    assert summary["cold_start_in_time"] == 0.0
    assert summary["observe_us_per_text"] == 100.0

    _print_report(figures)
    report = capsys.readouterr().out
    assert "✓ brand_scam_calls" in report and "冒充 · 客服 (2 alerts)" in report
    assert "✗ power_bank_swelling" in report
    assert "瓶盖 · 发霉\n" in report  # found once: no count
    assert "'terms': ['衣服', '质量']" in report
    assert "cold ✗ hotel_bedbugs" in report


def test_the_project_background_is_the_labelled_texts_by_industry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from classifiers.train import corpora

    labelled = tmp_path / "labelled"
    labelled.mkdir()
    header = "id,channel,corpus,ref,text,categories,polarity\n"
    (labelled / "food.csv").write_text(
        header + "food-1,app,,,外卖送到全洒了,logistics,negative\n", encoding="utf-8"
    )
    (labelled / "banking.csv").write_text(
        header + "banking-1,call,,,客户来电询问还款日,other,neutral\n", encoding="utf-8"
    )
    monkeypatch.setattr(corpora, "LABELLED", labelled)
    texts = sorted(background_texts(tmp_path / "no-corpora", "project"))
    assert texts == [("project:banking", "客户来电询问还款日"), ("project:food", "外卖送到全洒了")]
    with pytest.raises(FileNotFoundError, match="background reviews"):
        list(background_texts(tmp_path / "no-corpora", "reviews"))


def test_a_background_of_ones_own_traffic_is_read_from_json_lines(tmp_path: Path) -> None:
    traffic = tmp_path / "week.jsonl"
    lines = '{"text": "快递三天没到", "channel": "app"}\n\n{"text": "客服电话打不通"}\n'
    traffic.write_text(lines, encoding="utf-8")
    texts = list(background_texts(tmp_path / "no-corpora", str(traffic)))
    assert texts == [("week.jsonl", "快递三天没到"), ("week.jsonl", "客服电话打不通")]
    traffic.write_text('{"text": "快递三天没到"}\n{"body": "没有 text"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="'text'") as raised:
        list(background_texts(tmp_path / "no-corpora", str(traffic)))
    assert "week.jsonl:2" in str(raised.value)
