"""The category data and tools: labelled set, review labels, train-categories,
eval-categories (on a small synthetic zip, never the shared corpus)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from classifiers.category import CATEGORIES, CategoryClassifier, CategoryModel
from classifiers.train.categories_eval import Review, in_half, read_labels, sample_rows
from classifiers.train.category_data import (
    LABELLED_CSV,
    REVIEW_LABELS_CSV,
    figures,
    load_labelled,
)
from vocwatch.cli import main
from vocwatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = {"hotline", "app", "web", "wechat", "email", "store", "weibo", "douyin", "xiaohongshu"}


# --- data/categories/labelled.csv ---------------------------------------------------------

LABELLED = load_labelled(LABELLED_CSV)  # also checks header and category codes


def test_labelled_set_is_big_enough_in_every_category() -> None:
    assert len(LABELLED) >= 500
    primary = Counter(row.primary for row in LABELLED)
    assert set(primary) == set(CATEGORIES)
    assert all(primary[code] >= 40 for code in CATEGORIES if code != "other"), primary
    assert sum(len(row.categories) > 1 for row in LABELLED) >= 50  # multi-label rows


def test_labelled_texts_are_unique_and_channels_known() -> None:
    texts = [row.text.strip() for row in LABELLED]
    duplicates = [text for text, n in Counter(texts).items() if n > 1]
    assert not duplicates
    assert all(texts)
    assert {row.channel for row in LABELLED} == CHANNELS


def test_labelled_csv_is_plain_utf8_without_bom() -> None:
    raw = LABELLED_CSV.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8").splitlines()[0] == "text,channel,categories"


def test_unknown_codes_and_bad_headers_are_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,channel,categories\n快递慢,app,shipping\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="shipping"):
        load_labelled(bad)
    bad.write_text("text,channel,categories\n你好,app,other;price\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'other' with others"):
        load_labelled(bad)
    bad.write_text("text,categories\n你好,other\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="header"):
        load_labelled(bad)


# --- data/categories/review_labels.csv ------------------------------------------------------


def test_review_labels_are_well_formed_and_split_in_two_halves() -> None:
    labels = read_labels(REVIEW_LABELS_CSV)  # checks codes and repeated rows
    assert len(labels) >= 300
    assert REVIEW_LABELS_CSV.read_text(encoding="utf-8").splitlines()[0] == "row,categories"
    dev = [row for row in labels if in_half(row, "dev")]
    test = [row for row in labels if in_half(row, "test")]
    assert len(dev) + len(test) == len(labels)
    assert min(len(dev), len(test)) >= 100
    assert all(row % 2 == 0 for row in dev)


# --- train-categories ----------------------------------------------------------------------


def write_slice(path: Path, per_category: int) -> int:
    """The first ``per_category`` rows of each primary category of the labelled set."""
    taken: Counter[str] = Counter()
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "channel", "categories"])
        for row in LABELLED:
            if taken[row.primary] < per_category:
                taken[row.primary] += 1
                writer.writerow([row.text, row.channel, ";".join(row.categories)])
    return sum(taken.values())


def test_train_on_a_slice_and_load_it_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "slice.csv", tmp_path / "model.json.gz"
    rows = write_slice(data, 12)
    code = main(
        ["train-categories", "--data", str(data), "--out", str(out), "--folds", "3", "--json"]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == rows
    assert 0 < report["cross_validation"]["top_in_true"] <= 1
    assert report["features"] > 100
    model = CategoryModel.load(out)
    assert model.categories == CATEGORIES
    assert model.info["rows"] == rows
    result = CategoryClassifier(model).classify(["快递", "太慢", "了"])
    assert result and all(0 < s.score <= 1 for s in result)


def test_train_prints_cross_validated_figures_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "slice.csv", tmp_path / "model.json.gz"
    write_slice(data, 8)
    assert main(["train-categories", "--data", str(data), "--out", str(out), "--folds", "2"]) == 0
    text = capsys.readouterr().out
    assert "2-fold cross-validation" in text and "top category in true" in text
    assert all(code in text for code in CATEGORIES)
    assert f"wrote {out}" in text


def test_training_needs_every_category(tmp_path: Path) -> None:
    data = tmp_path / "two.csv"
    data.write_text(
        "text,channel,categories\n快递太慢,app,logistics\n客服不理人,app,service\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="product_quality needs positive and negative"):
        main(
            [
                "train-categories",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "m.json.gz"),
                "--folds",
                "0",
            ]
        )


# --- eval-categories -----------------------------------------------------------------------

# (product, label, review, true categories or None when not labelled)
CORPUS = [
    ("书籍", "0", "这本书印刷很差，好几页字都看不清", "product_quality"),
    ("书籍", "1", "很好看的一本书，推荐", None),
    ("水果", "0", "快递太慢了，等了一个星期才到", "logistics"),
    ("水果", "0", "客服态度太差，问什么都不回", "service"),
    ("酒店", "0", "房价太贵了，不值这个价", "price"),
    ("酒店", "0", "申请退款一直没到账，售后也不处理", "technical"),  # labelled wrong on purpose
]


def write_corpus(tmp_path: Path) -> tuple[Path, Path]:
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(["cat", "label", "review"])
    writer.writerows((product, label, text) for product, label, text, _ in CORPUS)
    corpus = tmp_path / "reviews.zip"
    with zipfile.ZipFile(corpus, "w") as archive:
        archive.writestr("reviews.csv", "\ufeff" + body.getvalue())
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "row,categories\n"
        + "".join(f"{row},{true}\n" for row, (*_, true) in enumerate(CORPUS) if true),
        encoding="utf-8",
    )
    return corpus, labels


def evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    corpus, labels = write_corpus(tmp_path)
    assert (
        main(["eval-categories", "--zip", str(corpus), "--labels", str(labels), "--json", *extra])
        == 0
    )
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return report


def test_eval_reports_top_in_true_overall_and_per_product(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = evaluate(tmp_path, capsys)
    assert report["rows"] == 5
    assert report["top_in_true"] == 0.8
    assert report["per_product_category"] == {
        "书籍": {"rows": 1, "hits": 1, "top_in_true": 1.0},
        "水果": {"rows": 2, "hits": 2, "top_in_true": 1.0},
        "酒店": {"rows": 2, "hits": 1, "top_in_true": 0.5},
    }
    per_category = report["per_category"]
    assert isinstance(per_category, dict)
    assert per_category["technical"] == {
        "precision": 0.0,
        "recall": 0.0,
        "predicted": 0,
        "support": 1,
    }
    assert per_category["after_sales"]["predicted"] == 1
    assert per_category["after_sales"]["precision"] == 0.0


@pytest.mark.parametrize(("half", "rows", "accuracy"), [("dev", 3, 1.0), ("test", 2, 0.5)])
def test_eval_halves_split_by_row_parity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], half: str, rows: int, accuracy: float
) -> None:
    report = evaluate(tmp_path, capsys, "--half", half)
    assert report["half"] == half
    assert report["rows"] == rows
    assert report["top_in_true"] == pytest.approx(accuracy, abs=1e-4)


def test_eval_text_output_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus, labels = write_corpus(tmp_path)
    assert (
        main(["eval-categories", "--zip", str(corpus), "--labels", str(labels), "--show-errors"])
        == 0
    )
    text = capsys.readouterr().out
    assert "all half: top category in true 0.800 (4/5)" in text
    assert "酒店" in text and "0.500  (1/2)" in text
    assert "5\t酒店\tpredicted after_sales" in text  # the one wrong row, listed


def test_eval_refuses_rows_outside_the_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, labels = write_corpus(tmp_path)
    labels.write_text("row,categories\n99,price\n", encoding="utf-8")
    assert main(["eval-categories", "--zip", str(corpus), "--labels", str(labels)]) == 2
    assert "rows [99] are not in the zip" in capsys.readouterr().err


def test_print_sample_lists_negative_rows_for_labelling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, _ = write_corpus(tmp_path)
    assert main(["eval-categories", "--zip", str(corpus), "--print-sample"]) == 0
    rows = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert rows == ["0", "2", "3", "4", "5"]  # every negative row (fewer than 32 per product)


def test_sample_rows_is_seeded_and_balanced() -> None:
    reviews = [
        Review(i, product, "0" if i % 3 else "1", f"text {i}")
        for i, product in enumerate(["甲", "乙"] * 30)
    ]
    first = sample_rows(reviews, per_category=4, seed=7)
    assert first == sample_rows(reviews, per_category=4, seed=7)
    assert first != sample_rows(reviews, per_category=4, seed=8)
    assert len(first) == 8
    assert all(reviews[row].label == "0" for row in first)
    assert Counter(reviews[row].product for row in first) == {"甲": 4, "乙": 4}


# --- figures -------------------------------------------------------------------------------


def test_figures_count_top_label_hits_and_label_f1() -> None:
    result = figures(
        predicted=[("logistics", "service"), ("price",), ("other",), ("service",)],
        true=[("service", "logistics"), ("product_quality", "price"), ("price",), ("service",)],
    )
    assert result.top_in_true == 0.75
    assert result.top_is_primary == 0.25
    # label sets: tp 2 + 1 + 0 + 1 = 4, predicted 5, true 6 → F1 = 8 / 11
    assert result.micro_f1 == round(8 / 11, 4)
    assert result.per_category["service"] == {
        "precision": 1.0,
        "recall": 0.5,
        "predicted": 1,
        "support": 2,
    }
    assert result.per_category["other"] == {
        "precision": 0.0,
        "recall": 0.0,
        "predicted": 1,
        "support": 0,
    }


def test_tool_modules_import_without_numpy_or_sklearn() -> None:
    # The CLI imports every tool module to build its parser.
    code = (
        "import sys\n"
        "import classifiers.train.categories, classifiers.train.categories_eval\n"
        "assert 'numpy' not in sys.modules and 'sklearn' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
