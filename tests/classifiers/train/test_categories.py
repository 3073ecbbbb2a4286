"""``vocwatch train-categories`` and ``eval-categories``, on the small corpora of
tests/classifiers/train/synthetic.py (12-bit features: seconds, not minutes)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from classifiers.category import CATEGORIES, load_model
from classifiers.model import TextModel
from classifiers.train.corpora import CORPORA
from tests.classifiers.train.synthetic import (
    DOMAINS,
    REFERENCES,
    Corpora,
    domain_rows,
    write_corpora,
)
from vocwatch.cli import main

FAST = ("--bits", "12")


def train(made: Corpora, out: Path, *extra: str) -> tuple[int, str]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(
            [
                "train-categories",
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
    out = made.labelled.parent / "models" / "categories.npz"
    code, printed = train(made, out)
    assert code == 0
    return load_model(out), printed


def test_the_model_loads_with_a_head_per_category(trained: tuple[TextModel, str]) -> None:
    model, _ = trained
    assert model.heads.names == tuple(c.value for c in CATEGORIES)
    assert model.features.bits == 12
    assert model.version.startswith("categories-")
    assert model.meta["recipe"]["c"] > 0


def test_the_metadata_holds_the_leave_one_domain_out_figures(
    trained: tuple[TextModel, str],
) -> None:
    model, _ = trained
    dev = model.meta["validation"]["dev"]
    assert set(dev["domains"]) == set(DOMAINS)
    every = sum(len(domain_rows(d)) for d in DOMAINS)
    assert 0.7 * every < sum(row["texts"] for row in dev["domains"].values()) < every
    for row in dev["domains"].values():
        assert 0.0 <= row["top_in_gold"] <= 1.0 and 0.0 <= row["micro_f1"] <= 1.0
    tops = [row["top_in_gold"] for row in dev["domains"].values()]
    assert dev["mean_top_in_gold"] == pytest.approx(np.mean(tops), abs=1e-4)
    assert dev["worst_top_in_gold"] == min(tops)
    # the synthetic domains share their phrases: a domain left out is still learned
    assert dev["mean_top_in_gold"] > 0.6


def test_the_printed_table_is_the_figures(trained: tuple[TextModel, str]) -> None:
    model, printed = trained
    dev = model.meta["validation"]["dev"]
    lines = printed.splitlines()
    assert lines[0] == "leave-one-domain-out, dev split: top category is a true one"
    header = ["domain", "texts", "all", "negative", "neutral", "positive", "micro-F1"]
    assert lines[1].split() == header
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:-1]}
    assert list(rows) == list(DOMAINS)  # in the order of the domains
    for domain, cells in rows.items():
        assert int(cells[0]) == dev["domains"][domain]["texts"]
        assert float(cells[1]) == dev["domains"][domain]["top_in_gold"]
    assert lines[-1].startswith(f"  mean {dev['mean_top_in_gold']:.4f}, worst ")


def test_the_data_sheet_names_the_corpora_the_texts_come_from(
    trained: tuple[TextModel, str],
) -> None:
    model, _ = trained
    sheet = {row["corpus"]: row for row in model.meta["trained_on"]}
    referenced = sum(len(rows) for rows in REFERENCES.values())
    written = sum(len(domain_rows(d)) for d in DOMAINS) - referenced
    assert sheet["vocwatch"]["examples"] == written
    # the rows that name a shopping review are that corpus' texts, under its licence
    assert sheet["shopping"]["examples"] == referenced
    for name, row in sheet.items():
        assert (row["file"], row["licence"]) == CORPORA[name]


def test_the_model_learns_the_categories(trained: tuple[TextModel, str]) -> None:
    from classifiers.analyze import featurizer_for
    from classifiers.category import decide
    from classifiers.tokenize import cut_all

    model, _ = trained
    texts = ["APP一打开就闪退", "退货寄回去半个月了钱还没退", "快递三天了还没送到"]
    features = featurizer_for(model).transform(texts, cut_all(texts))
    answers = decide(model.heads.probabilities(features))
    assert [a[0].code for a in answers] == ["technical", "after_sales", "logistics"]


def test_a_category_without_examples_is_a_clear_error(
    made: Corpora, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The first 20 rows of each domain are complaints of the first three categories only.
    code, _ = train(made, tmp_path / "m.npz", "--limit", "20")
    assert code == 2
    error = capsys.readouterr().err
    assert "price" in error and "--limit" in error
    assert not (tmp_path / "m.npz").exists()


def test_the_test_split_is_scored_for_the_domains_there_are(made: Corpora, tmp_path: Path) -> None:
    code, printed = train(made, tmp_path / "m.npz", "--test", "--json")
    assert code == 0
    validation = json.loads(printed)
    assert validation == load_model(tmp_path / "m.npz").meta["validation"]
    test = validation["test"]
    assert list(test["domains"]) == list(DOMAINS)
    assert all(row["texts"] > 0 for row in test["domains"].values())
    assert 0.0 <= test["worst_top_in_gold"] <= test["mean_top_in_gold"] <= 1.0


def test_a_broken_labelled_folder_stops_before_training(
    made: Corpora, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = train(Corpora(made.labelled, tmp_path / "nothing"), tmp_path / "m.npz")
    assert code == 2
    assert "pass --corpora" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()


# --- eval-categories ---------------------------------------------------------------------------


def test_eval_shipped_prints_the_stored_table(capsys: pytest.CaptureFixture[str]) -> None:
    stored = load_model().meta["validation"]
    assert main(["eval-categories", "--shipped"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "leave-one-domain-out, dev split: top category is a true one"
    assert [line.split()[0] for line in lines[2 : 2 + len(stored["dev"]["domains"])]] == list(
        stored["dev"]["domains"]
    )
    assert f"mean {stored['dev']['mean_top_in_gold']:.4f}" in lines[-1]
    assert main(["eval-categories", "--shipped", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == stored
