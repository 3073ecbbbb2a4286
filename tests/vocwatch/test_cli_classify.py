"""``vocwatch classify``: JSON lines in, one JSON line out per input, in order (the lines are
analysed in batches); bad lines get an ``error`` line and the run goes on; ``--text`` for one
text; ``--model-dir`` (or ``VOCWATCH_MODEL_DIR``) for a folder of models."""

from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import classifiers.analyze
import vocwatch.cli
from classifiers.analyze import Analyzer
from classifiers.polarity import CHANNELS, POLARITIES
from tests.classifiers.fixed_models import write_model_dir
from vocwatch.cli import main

VOCWATCH = Path(sys.executable).with_name("vocwatch")
FIELDS = {
    "channel",
    "masked_text",
    "sentiment",
    "polarity",
    "probabilities",
    "category",
    "categories",
    "priority",
    "reasons",
    "pii_masked",
}


@functools.cache
def analyzer() -> Analyzer:
    return Analyzer()


def jsonl(*items: Any) -> bytes:
    """Input lines: objects are dumped as JSON, strings and bytes are taken as they are."""
    lines = [
        i
        if isinstance(i, bytes)
        else (i if isinstance(i, str) else json.dumps(i, ensure_ascii=False)).encode()
        for i in items
    ]
    return b"\n".join(lines) + b"\n"


class Run:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def __call__(self, stdin: bytes = b"", *args: str) -> tuple[int, list[dict[str, Any]], str]:
        self.monkeypatch.setattr(
            sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        )
        code = main(["classify", *args])
        out, err = self.capsys.readouterr()
        assert out == "" or out.endswith("\n")
        return code, [json.loads(line) for line in out.splitlines()], err


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    for name in (
        "VOCWATCH_PRIORITY_FILE",
        "VOCWATCH_POLARITY_FILE",
        "VOCWATCH_MODEL_DIR",
        "VOCWATCH_SENTIMENT_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)
    return Run(monkeypatch, capsys)


def expected(text: str, channel: str | None = None) -> dict[str, Any]:
    a = analyzer().analyze(text, channel=channel)
    negative, neutral, positive = a.probabilities
    return {
        "channel": channel,
        "masked_text": a.text,
        "sentiment": a.sentiment,
        "polarity": a.polarity,
        "probabilities": {"negative": negative, "neutral": neutral, "positive": positive},
        "category": a.category,
        "categories": [{"code": c.code, "score": c.score} for c in a.categories],
        "priority": a.priority.level,
        "reasons": list(a.priority.reasons),
        "pii_masked": list(a.pii),
    }


TEXTS = [
    ("快递三天没到，客服也不理人", "app"),
    ("APP一直闪退，重复扣费99元，再不处理我就打12315！", None),
    ("很好用，物流也快，好评！", "social"),
    ("客户来电反映宽带断网两天，已登记报修", "call"),
]


def test_one_line_per_input_in_order_with_the_analysis(run: Run) -> None:
    code, lines, _ = run(
        jsonl(*({"text": t, "channel": c} if c else {"text": t} for t, c in TEXTS))
    )
    assert code == 0
    assert [line["line"] for line in lines] == [1, 2, 3, 4]
    for line, (text, channel) in zip(lines, TEXTS, strict=True):
        assert set(line) == FIELDS | {"line"}
        assert {k: v for k, v in line.items() if k != "line"} == expected(text, channel)


def test_field_types(run: Run) -> None:
    _, [line], _ = run(jsonl({"text": "客服态度太差了，问了三遍都在敷衍", "channel": "hotline"}))
    assert isinstance(line["sentiment"], float) and 0.0 <= line["sentiment"] <= 1.0
    assert line["polarity"] in POLARITIES
    probabilities = line["probabilities"]
    assert list(probabilities) == ["negative", "neutral", "positive"]
    assert all(isinstance(p, float) and 0.0 <= p <= 1.0 for p in probabilities.values())
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=2e-4)
    assert line["sentiment"] == pytest.approx(
        probabilities["positive"] + probabilities["neutral"] / 2, abs=2e-4
    )
    assert line["category"] == line["categories"][0]["code"]
    assert all(set(c) == {"code", "score"} and 0 < c["score"] <= 1 for c in line["categories"])
    assert line["priority"] in ("P1", "P2", "P3")
    assert line["reasons"] and all(isinstance(r, str) for r in line["reasons"])
    assert line["channel"] == "hotline"


def test_personal_data_never_reaches_the_output(run: Run) -> None:
    text = "电话13812345678，邮箱zhang.san@example.com，身份证11010519491231002X"
    _, [line], _ = run(jsonl({"text": text}))
    assert line["masked_text"] == "电话[PHONE],邮箱[EMAIL],身份证[ID]"
    assert line["pii_masked"] == ["email", "id_card", "phone"]
    out = json.dumps(line, ensure_ascii=False)
    for secret in ("13812345678", "zhang.san", "11010519491231002X"):
        assert secret not in out


BAD_LINES = [
    (b"not json", "not JSON"),
    (b'{"text": "unterminated', "not JSON"),
    (b"[" * 100_000, "not JSON"),  # nested too deep for the parser
    (b'["text"]', "expected a JSON object, got list"),
    (b'"just a string"', "expected a JSON object, got str"),
    (b"null", "expected a JSON object, got NoneType"),
    (b"42", "expected a JSON object, got int"),
    (b"{}", "field 'text' is required"),
    (b'{"text": null}', "field 'text' is required"),
    (b'{"text": ""}', "field 'text' is empty"),
    (b'{"text": "  \\t "}', "field 'text' is empty"),
    (b'{"text": 5}', "field 'text' must be a string, got int"),
    (b'{"text": ["a"]}', "field 'text' must be a string, got list"),
    (b'{"text": {"zh": "a"}}', "field 'text' must be a string, got dict"),
    (b'{"text": "\\u200b\\u0000"}', "field 'text' is empty after cleaning"),
    (b'{"text": "ok", "channel": "fax"}', "field 'channel' is 'fax'; expected one of"),
    (b'{"text": "ok", "channel": "APP"}', "field 'channel' is 'APP'"),
    (b'{"text": "ok", "channel": 3}', "field 'channel' must be a string, got int"),
    (b'{"text": "ok", "channel": "13812345678"}', "field 'channel' is '[PHONE]'"),
    (b'{"text": "\xe5\xbf"}', "not UTF-8 at byte 10"),  # half a 快
]


@pytest.mark.parametrize(("raw", "error"), BAD_LINES, ids=[str(i) for i in range(len(BAD_LINES))])
def test_a_bad_line_gets_an_error_line_and_the_run_goes_on(
    run: Run, raw: bytes, error: str
) -> None:
    code, lines, _ = run(jsonl({"text": "快递没到"}, raw, {"text": "客服不理人"}))
    assert code == 0
    assert len(lines) == 3
    assert lines[1]["line"] == 2
    assert set(lines[1]) == {"line", "error"}
    assert lines[1]["error"].startswith(error), lines[1]["error"]
    assert lines[0]["masked_text"] == "快递没到"
    assert lines[2]["masked_text"] == "客服不理人"


def test_many_errors_and_results_interleaved_keep_their_order(run: Run) -> None:
    items = [{"text": f"订单{i}号快递没到"} if i % 3 else b"oops" for i in range(30)]
    code, lines, _ = run(jsonl(*items))
    assert code == 0
    assert [line["line"] for line in lines] == list(range(1, 31))
    for i, line in enumerate(lines):
        assert ("error" in line) == (i % 3 == 0)
        if i % 3:
            assert line["masked_text"] == f"订单{i}号快递没到"


def test_blank_lines_are_skipped_and_line_numbers_count_them(run: Run) -> None:
    _, lines, _ = run(b'\n{"text": "a1"}\n   \n\r\n{"text": "b2"}\r\n')
    assert [(line["line"], line["masked_text"]) for line in lines] == [(2, "a1"), (5, "b2")]


def test_empty_stdin_prints_nothing(run: Run) -> None:
    assert run(b"") == (0, [], "")


def test_a_byte_order_mark_on_the_first_line_is_accepted(run: Run) -> None:
    _, [line], _ = run(b"\xef\xbb\xbf" + '{"text": "快递没到"}\n'.encode())
    assert line["masked_text"] == "快递没到"


def test_last_line_without_newline_is_read(run: Run) -> None:
    _, lines, _ = run(b'{"text": "a"}\n{"text": "b"}')
    assert [line["masked_text"] for line in lines] == ["a", "b"]


def test_unknown_fields_are_ignored(run: Run) -> None:
    _, [line], _ = run(jsonl({"id": "c-1", "text": "快递没到", "product": "X"}))
    assert "error" not in line
    assert "id" not in line


def test_a_huge_text_is_analysed_on_its_first_characters(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOCWATCH_MAX_MESSAGE_BYTES", str(10 * 2**20))
    code, [line], _ = run(jsonl({"text": "快递没到！" * 200_000}))  # 3 MB
    assert code == 0
    assert len(line["masked_text"]) <= 20_000
    code, [line], _ = run(b"", "--text", "快递没到！" * 200_000)
    assert len(line["masked_text"]) <= 20_000


def test_a_line_over_the_message_limit_is_an_error_line(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOCWATCH_MAX_MESSAGE_BYTES", "100")
    long = json.dumps({"text": "快" * 400}, ensure_ascii=False)  # 1,200+ bytes
    exactly = json.dumps({"text": "a" * 88}).encode()  # 100 bytes
    assert len(exactly) == 100
    code, lines, _ = run(
        jsonl({"text": "快递没到"}, long, exactly, long + "\n" + long, {"text": "客服不理人"})
    )
    assert code == 0
    assert [line.get("error", "")[:29] for line in lines] == [
        "",
        "line is longer than 100 bytes",
        "",
        "line is longer than 100 bytes",
        "line is longer than 100 bytes",
        "",
    ]
    assert [line["line"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert lines[5]["masked_text"] == "客服不理人"


def test_the_default_line_limit_is_the_message_limit_of_the_worker(run: Run) -> None:
    from vocwatch.settings import Settings

    limit = Settings().max_message_bytes
    code, lines, _ = run(jsonl({"text": "a" * (limit - 20)}, {"text": "a" * limit}))
    assert code == 0
    assert "error" not in lines[0]
    assert lines[1]["error"].startswith(f"line is longer than {limit} bytes")


def test_the_analyzer_is_built_once(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    built = []

    class Counting(Analyzer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(classifiers.analyze, "Analyzer", Counting)
    run(jsonl({"text": "a"}, {"text": "b"}, b"x", {"text": "c"}))
    assert len(built) == 1


def test_an_analysis_failure_is_an_error_line(
    run: Run, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    original = Analyzer.analyze_batch

    def analyze_batch(self: Analyzer, texts: Any, *args: Any, **kwargs: Any) -> Any:
        if "boom" in texts:
            raise RuntimeError("classifier bug")
        return original(self, texts, *args, **kwargs)

    monkeypatch.setattr(Analyzer, "analyze_batch", analyze_batch)
    code, lines, _ = run(jsonl({"text": "boom"}, {"text": "快递没到"}, b"x", {"text": "好评"}))
    assert code == 0
    assert lines[0] == {"line": 1, "error": "analysis failed: RuntimeError"}
    # the texts analysed with it in its batch are not lost
    assert lines[1]["masked_text"] == "快递没到"
    assert lines[2]["error"].startswith("not JSON")
    assert lines[3]["masked_text"] == "好评"
    assert "classifier bug" in caplog.text  # the traceback is logged for the operator


# --- batches ------------------------------------------------------------------------------------

MIXED = [
    {"text": "快递三天没到，客服也不理人", "channel": "app"},
    b"oops",
    {"text": "请问周末客服几点上班？"},
    {"text": ""},
    b"",
    {"text": "很好用，物流也快，好评！", "channel": "social"},
    {"text": "电话13812345678，APP一直闪退"},
    {"text": "ok", "channel": "fax"},
    {"text": "\u200b"},
    {"text": "申请退款一周了还没到账", "channel": "hotline"},
    {"text": "请问积分有有效期吗"},
]


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_batches_change_neither_the_output_nor_its_order(
    run: Run, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    monkeypatch.setattr(vocwatch.cli, "CLASSIFY_BATCH", size)
    code, lines, _ = run(jsonl(*MIXED))
    assert code == 0
    assert [line["line"] for line in lines] == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]  # 5 is blank
    valid = [(i + 1, item) for i, item in enumerate(MIXED) if isinstance(item, dict)]
    by_line = {line["line"]: line for line in lines}
    for number, item in valid:
        line = by_line[number]
        if "error" in line:
            continue
        # each line as --text gives it alone
        channel = ("--channel", item["channel"]) if "channel" in item else ()
        _, [alone], _ = run(b"", "--text", item["text"], *channel)
        assert line == {"line": number, **alone}
    assert [n for n, line in by_line.items() if "error" in line] == [2, 4, 8, 9]


# --- channels and the policy files ------------------------------------------------------

EXTREME = """\
default: {negative_from: 0.5, positive_from: 0.5}
channels:
  app: {negative_from: 1.0, positive_from: 0.000001}     # (nearly) everything positive
  store: {negative_from: 0.000001, positive_from: 1.0}   # (nearly) everything negative
"""


def test_the_channel_picks_the_cutoffs_of_the_configured_file(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    policy = tmp_path / "polarity.yaml"
    policy.write_text(EXTREME, encoding="utf-8")
    monkeypatch.setenv("VOCWATCH_POLARITY_FILE", str(policy))
    text = "快递三天没到，客服也不理人"
    _, lines, _ = run(
        jsonl({"text": text, "channel": "app"}, {"text": text, "channel": "store"}, {"text": text})
    )
    assert [line["polarity"] for line in lines] == [
        "positive",
        "negative",
        expected(text)["polarity"],
    ]
    assert len({line["sentiment"] for line in lines}) == 1  # the score does not change
    assert len({json.dumps(line["probabilities"]) for line in lines}) == 1


def test_the_configured_priority_file_is_used(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from classifiers.priority import DEFAULT_POLICY_FILE

    policy = tmp_path / "priority.yaml"
    policy.write_text(
        DEFAULT_POLICY_FILE.read_text(encoding="utf-8").replace("[12315, ", "[退款, 12315, "),
        encoding="utf-8",
    )
    monkeypatch.setenv("VOCWATCH_PRIORITY_FILE", str(policy))
    _, [line], _ = run(jsonl({"text": "申请退款"}))
    assert line["priority"] == "P1"
    assert "escalation:退款" in line["reasons"]


def test_an_invalid_policy_file_stops_the_run_before_reading(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    policy = tmp_path / "polarity.yaml"
    policy.write_text("default: {negative_below: 0.9, positive_from: 0.1}\n", encoding="utf-8")
    monkeypatch.setenv("VOCWATCH_POLARITY_FILE", str(policy))
    code, lines, err = run(jsonl({"text": "快递没到"}))
    assert code == 2
    assert lines == []
    assert str(policy) in err and "default" in err


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_is_accepted(run: Run, channel: str) -> None:
    _, [line], _ = run(jsonl({"text": "快递没到", "channel": channel}))
    assert line["channel"] == channel
    assert "error" not in line


# --- --text -------------------------------------------------------------------------------


def test_text_option_analyses_one_text_and_ignores_stdin(run: Run) -> None:
    text = "APP一直闪退，重复扣费99元，再不处理我就打12315！联系我13812345678"
    code, lines, _ = run(b'{"text": "from stdin"}\n', "--text", text)
    assert code == 0
    assert lines == [expected(text)]


def test_text_option_with_a_channel(run: Run) -> None:
    code, lines, _ = run(b"", "--text", "客户来电反映宽带断网", "--channel", "call")
    assert code == 0
    assert lines == [expected("客户来电反映宽带断网", "call")]


@pytest.mark.parametrize("text", ["", "   "])
def test_text_option_with_an_empty_text_is_an_error_line(run: Run, text: str) -> None:
    code, lines, _ = run(b"", "--text", text)
    assert code == 0
    assert lines == [{"error": "field 'text' is empty"}]


def test_text_option_with_an_unknown_channel_is_a_usage_error(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["classify", "--text", "x", "--channel", "fax"])
    assert caught.value.code == 2
    assert "invalid choice: 'fax'" in capsys.readouterr().err


def test_the_old_positional_form_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["classify", "快递没到"])
    assert caught.value.code == 2


# --- the installed command, through a real pipe -----------------------------------------


def test_console_script_reads_a_pipe_to_the_end() -> None:
    items = [
        {"text": f"第{i}单快递没到", "channel": CHANNELS[i % len(CHANNELS)]} for i in range(200)
    ]
    stdin = jsonl(*items[:100], b"\xff\xfe bad bytes", b"{", *items[100:])
    done = subprocess.run(
        [str(VOCWATCH), "classify"], input=stdin, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode("utf-8")
    assert out.endswith("\n")
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 202
    assert [line["line"] for line in lines] == list(range(1, 203))
    assert lines[100] == {"line": 101, "error": "not UTF-8 at byte 0"}
    assert lines[101]["error"].startswith("not JSON")
    results = lines[:100] + lines[102:]
    assert [r["masked_text"] for r in results] == [f"第{i}单快递没到" for i in range(200)]
    assert [r["channel"] for r in results] == [item["channel"] for item in items]


# --- a folder of models ---------------------------------------------------------------------------


def test_model_dir_option_and_setting(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    option = write_model_dir(tmp_path / "option", negative=0.7, neutral=0.2, positive=0.1)
    setting = write_model_dir(tmp_path / "setting", negative=0.1, neutral=0.2, positive=0.7)
    shipped = expected("快递没到")["probabilities"]
    _, [line], _ = run(jsonl({"text": "快递没到"}), "--model-dir", str(option))
    assert line["probabilities"] == pytest.approx(
        {"negative": 0.7, "neutral": 0.2, "positive": 0.1}, abs=1e-4
    )
    assert line["polarity"] == "negative"
    monkeypatch.setenv("VOCWATCH_MODEL_DIR", str(setting))
    _, [line], _ = run(b"", "--text", "快递没到")
    assert line["probabilities"] == pytest.approx(
        {"negative": 0.1, "neutral": 0.2, "positive": 0.7}, abs=1e-4
    )
    _, [line], _ = run(b"", "--text", "快递没到", "--model-dir", str(option))  # the option wins
    assert line["probabilities"]["negative"] == pytest.approx(0.7, abs=1e-4)
    monkeypatch.delenv("VOCWATCH_MODEL_DIR")
    _, [line], _ = run(b"", "--text", "快递没到")
    assert line["probabilities"] == shipped


def test_a_model_dir_that_cannot_be_used_stops_the_run_before_reading(
    run: Run, tmp_path: Path
) -> None:
    code, lines, err = run(jsonl({"text": "快递没到"}), "--model-dir", str(tmp_path / "nope"))
    assert code == 2
    assert lines == []
    assert (
        err == f"vocwatch: {tmp_path / 'nope'}: is not a folder of models (vocwatch adapt --out)\n"
    )
    broken = write_model_dir(tmp_path / "broken", negative=0.7, neutral=0.2, positive=0.1)
    (broken / "categories.npz").write_text("not a model", encoding="utf-8")
    code, lines, err = run(jsonl({"text": "快递没到"}), "--model-dir", str(broken))
    assert (code, lines) == (2, [])
    assert f"{broken / 'categories.npz'}: cannot read the model file" in err


def test_a_line_written_to_a_pipe_is_answered_before_the_input_ends() -> None:
    """A caller that writes a line and waits for its answer (a pipe, not a file) gets it:
    lines are batched only while more input is already waiting."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "vocwatch.cli", "classify"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        for text in ("快递三天没到", "请问几点下班"):
            process.stdin.write(json.dumps({"text": text}, ensure_ascii=False).encode() + b"\n")
            process.stdin.flush()
            answer = json.loads(process.stdout.readline())  # before stdin is closed
            assert answer["masked_text"] == text
    finally:
        process.stdin.close()
        code = process.wait(60)
        process.stdout.close()
    assert code == 0
