"""streams.analysis: a batch of messages decoded, analysed together and encoded, bad ones
rejected in place (the analysis process: test_analysis_process.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from alerts.contacts import Contact
from alerts.observation import Observation, survey_code
from classifiers.analyze import Analyzer
from streams import analysis
from streams.analysis import (
    WORKER_FIELDS,
    Rejected,
    Scored,
    analyze_batch,
    build_analyzer,
    build_phrases,
)
from streams.events import decode
from vocwatch.dev.demo import DemoTraffic
from vocwatch.settings import Settings

SETTINGS = Settings(analysis_processes=1)
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return build_analyzer(SETTINGS)


def complaint(i: int, text: str, channel: str = "app") -> bytes:
    message = {"id": f"c{i}", "customer_id": "u", "channel": channel, "text": text}
    return json.dumps({**message, "created_at": NOW}, ensure_ascii=False).encode()


MIXED: list[bytes | None] = [
    complaint(1, "快递三天没到，客服也不理人"),
    b"{not json",
    complaint(2, "请问周末客服几点上班？", "wechat"),
    None,
    complaint(3, "电话13812345678，APP一直闪退"),
    json.dumps({"id": "x", "customer_id": "u", "channel": "fax", "text": "t"}).encode(),
    complaint(4, "很好用，好评！"),
]


def batch(analyzer: Analyzer, values: Sequence[bytes | None]) -> list[Scored | Rejected]:
    return analyze_batch(
        analyzer, "complaint", values, max_bytes=SETTINGS.max_message_bytes, now=NOW
    )


def test_a_batch_keeps_its_order_and_rejects_bad_messages_in_place(analyzer: Analyzer) -> None:
    results = batch(analyzer, MIXED)
    assert [type(r).__name__ for r in results] == [
        "Scored",
        "Rejected",
        "Scored",
        "Rejected",
        "Scored",
        "Rejected",
        "Scored",
    ]
    analyzed = [r for r in results if isinstance(r, Scored)]
    assert [r.id for r in analyzed] == ["c1", "c2", "c3", "c4"]
    assert [r.reason for r in results if isinstance(r, Rejected)] == [
        "not_json",
        "not_json",
        "unknown_enum",
    ]
    # each analysed as it is alone
    for result, value in zip(analyzed, [MIXED[0], MIXED[2], MIXED[4], MIXED[6]], strict=True):
        event = decode("complaint", value, max_bytes=SETTINGS.max_message_bytes)
        alone = analyzer.analyze(event.text, event.signals, channel=event.channel)
        assert result == Scored.of(event, alone, result.record)


def test_the_phrases_of_a_customer_are_matched_with_the_analysis(analyzer: Analyzer) -> None:
    """The analysis process matches the churn and escalation phrases (which the customer
    stage would otherwise match on the event loop), in the masked text, as the stage's own
    matcher does; a social post without a customer carries none."""
    phrases = build_phrases(SETTINGS)
    post = {"id": "p1", "platform": "weibo", "text": "再不解决我就销户", "created_at": NOW}
    post.update(author="a", reach=10)
    values = [
        complaint(1, "再不解决我就销户，我要去消协投诉"),
        complaint(2, "我不会销户的，只是问问"),
        complaint(3, "很好用，好评！"),
    ]
    results = analyze_batch(
        analyzer,
        "complaint",
        values,
        max_bytes=SETTINGS.max_message_bytes,
        now=NOW,
        phrases=phrases,
    )
    scored = [r for r in results if isinstance(r, Scored)]
    assert len(scored) == 3
    for result in scored:
        expected = (phrases.churn_threats(result.text), phrases.escalations(result.text))
        assert result.phrases == expected
    assert scored[0].phrases is not None and scored[0].phrases[0] == ("销户",)
    assert scored[1].phrases == ((), ())  # negated
    social = analyze_batch(
        analyzer,
        "social",
        [json.dumps(post, ensure_ascii=False).encode()],
        max_bytes=SETTINGS.max_message_bytes,
        now=NOW,
        phrases=phrases,
    )
    assert all(isinstance(r, Rejected) or r.phrases is None for r in social)
    plain = batch(analyzer, values)  # without the lists: left to the customer stage
    assert all(isinstance(r, Scored) and r.phrases is None for r in plain)


def test_a_slim_result_holds_plain_values_only() -> None:
    """What crosses from the analysis process is strings, numbers, booleans, bytes and
    containers of them: no enum member, no dataclass (rebuilt through its class on the
    worker's side, which is what made receiving results slow)."""
    traffic = DemoTraffic(seed=3, run="slim")
    values: dict[str, list[bytes | None]] = {}
    for _ in range(400):
        source, _, value = traffic.background(NOW)
        values.setdefault(source, []).append(value)
    assert set(values) == {"complaint", "call", "social", "survey"}
    analyzer = build_analyzer(SETTINGS)

    def plain(value: object) -> bool:
        if type(value) in (str, int, float, bool, bytes, type(None)):
            return True
        if type(value) in (tuple, list) and isinstance(value, tuple | list):
            return all(plain(item) for item in value)
        if type(value) is dict and isinstance(value, dict):
            return all(plain(k) and plain(v) for k, v in value.items())
        return False

    for source, batch_values in values.items():
        results = analyze_batch(
            analyzer, source, batch_values, max_bytes=SETTINGS.max_message_bytes, now=NOW
        )
        slim = [r for r in results if isinstance(r, Scored)]
        assert slim, source
        for result in slim:
            assert all(plain(value) for value in result), result
            assert set(result.fields) <= set(WORKER_FIELDS)
            record = json.loads(result.record)
            assert (result.id, result.source, result.priority) == (
                record["id"],
                record["source"],
                record["priority"],
            )
            assert result.categories[0] == record["category"]


def observation(event: Scored) -> Observation:
    """The event as the worker's windows would see it, built from its values."""
    call, fields = event.source == "call", event.fields
    return Observation(
        event.id,
        event.event_time,
        event.negative,
        event.priority == "P1",
        sentiment=event.sentiment,
        reach_negative=float(event.reach) if event.negative else 0.0,
        call=call,
        first_contact=call and bool(fields["resolved_first_contact"]),
        wait_seconds=float(fields["wait_seconds"] or 0.0) if call else 0.0,
        survey=survey_code(fields["kind"], fields["score"]) if event.source == "survey" else "0",
    )


def test_the_window_observation_and_the_contact_are_built_with_the_analysis() -> None:
    """What the worker would otherwise build per event on its event loop comes back built:
    the event packed for the window script, the same as the worker's own Observation of it,
    and, for an event with its customer's phrases, its contact's JSON, the same as the
    customer stage's contact encodes to. Every source of the demo's traffic; a post
    without a customer, or an event analysed without the phrase lists, has no contact."""
    traffic = DemoTraffic(seed=5, run="packed")
    values: dict[str, list[bytes | None]] = {}
    for _ in range(400):
        source, _, value = traffic.background(NOW)
        values.setdefault(source, []).append(value)
    analyzer = build_analyzer(SETTINGS)
    phrases = build_phrases(SETTINGS)
    seen = {"call": 0, "survey": 0, "contacts": 0, "without": 0}
    for source, batch_values in values.items():
        results = analyze_batch(
            analyzer,
            source,
            batch_values,
            max_bytes=SETTINGS.max_message_bytes,
            now=NOW,
            phrases=phrases,
        )
        for result in (r for r in results if isinstance(r, Scored)):
            assert result.packed == observation(result).packed
            seen[source] = seen.get(source, 0) + 1
            if result.customer_id is None:
                assert result.contact is None
                seen["without"] += 1
                continue
            assert result.phrases is not None
            rebuilt = analysis.contact_of(result, *result.phrases)
            assert result.contact == rebuilt.to_json()
            assert Contact.from_json(result.contact) == rebuilt
            seen["contacts"] += 1
        plain = analyze_batch(
            analyzer, source, batch_values, max_bytes=SETTINGS.max_message_bytes, now=NOW
        )
        assert all(isinstance(r, Rejected) or r.contact is None for r in plain)
    # the packing of each kind was exercised: calls (wait, first contact), surveys
    assert seen["call"] and seen["survey"] and seen["contacts"] and seen["without"]
    call = next(
        r
        for r in analyze_batch(
            analyzer, "call", values["call"], max_bytes=SETTINGS.max_message_bytes, now=NOW
        )
        if isinstance(r, Scored)
    )
    time, _, _, _, _, is_call, *_, event_id = call.packed.decode().split(" ")
    assert (float(time), is_call, event_id) == (call.event_time, "1", call.id)


def test_the_scored_records_are_encoded_and_masked(analyzer: Analyzer) -> None:
    results = batch(analyzer, MIXED)
    records = [json.loads(r.record) for r in results if isinstance(r, Scored)]
    assert [record["id"] for record in records] == ["c1", "c2", "c3", "c4"]
    assert {record["sentiment"]["model"] for record in records} == {analyzer.model_name}
    assert records[2]["text"] == "电话[PHONE],APP一直闪退"
    assert "13812345678" not in json.dumps(records, ensure_ascii=False)
    assert [record["sentiment"]["polarity"] for record in records] == [
        "negative",
        "neutral",
        "negative",
        "positive",
    ]


def test_a_text_that_breaks_the_batch_is_the_only_one_lost(
    analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    original = analyzer.analyze_batch
    calls: list[int] = []

    def fragile(texts: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(texts))
        if any("boom" in text for text in texts):
            raise RuntimeError("classifier bug")
        return original(texts, *args, **kwargs)

    values = [complaint(1, "快递没到"), complaint(2, "boom"), b"{", complaint(3, "客服不理人")]
    expected = batch(analyzer, [values[0], values[2], values[3]])
    monkeypatch.setattr(analyzer, "analyze_batch", fragile)
    results = batch(analyzer, values)
    assert calls == [3, 1, 1, 1]  # the batch, then each text alone
    assert results[1] == Rejected("processing_error", "analysis failed")
    assert [results[0], results[2], results[3]] == expected  # records included
    assert "classifier bug" in caplog.text  # the traceback is logged for the operator


def test_a_record_that_cannot_be_encoded_is_rejected_in_place(
    analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.records import scored_record as original

    def scored_record(event: Any, *args: Any, **kwargs: Any) -> Any:
        if event.id == "c2":
            raise TypeError("not serializable")
        return original(event, *args, **kwargs)

    monkeypatch.setattr("streams.analysis.scored_record", scored_record)
    results = batch(analyzer, [complaint(1, "a"), complaint(2, "b"), complaint(3, "c")])
    assert [type(r).__name__ for r in results] == ["Scored", "Rejected", "Scored"]
    assert results[1] == Rejected("processing_error", "TypeError in encoding")


def test_a_batch_longer_than_a_chunk_is_analysed_in_pieces_in_order(
    analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = batch(analyzer, MIXED * 3)
    monkeypatch.setattr(analysis, "CHUNK", 4)
    pieces: list[int] = []
    analyse = analysis._analyses

    def counted(analyzer: Analyzer, source: str, events: Any) -> Any:
        pieces.append(len(events))
        return analyse(analyzer, source, events)

    monkeypatch.setattr(analysis, "_analyses", counted)
    assert batch(analyzer, MIXED * 3) == whole
    assert max(pieces) <= 4 and len(pieces) >= 5  # 21 messages, 12 of them valid


def test_an_empty_batch() -> None:
    assert batch(build_analyzer(SETTINGS), []) == []


def test_a_broken_model_folder_stops_the_analysis_before_it_starts(tmp_path: Path) -> None:
    from vocwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a folder of models"):
        build_analyzer(Settings(model_dir=tmp_path / "missing"))
