"""classifiers.category: the answer from the category probabilities, and the shipped model."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from classifiers.analyze import Analyzer
from classifiers.category import (
    CATEGORIES,
    CATEGORY_NAMES_ZH,
    MAX_CATEGORIES,
    THRESHOLD,
    decide,
    load_model,
)
from classifiers.sentiment import MODEL_FILE as SENTIMENT_FILE
from classifiers.train.corpora import CORPORA, DOMAINS
from tests.classifiers.fixed_models import fixed_model
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Category


def probabilities(**by_code: float) -> np.ndarray:
    """One row: the named categories with these probabilities, the others 0.01."""
    return np.array([[by_code.get(c.value, 0.01) for c in CATEGORIES]], dtype=np.float32)


def codes(row: np.ndarray) -> list[str]:
    return [score.code for score in decide(row)[0]]


# --- decide ----------------------------------------------------------------------------------


def test_the_taxonomy() -> None:
    assert set(CATEGORY_NAMES_ZH) == set(CATEGORIES) == set(Category)
    assert 0 < THRESHOLD < 1 and MAX_CATEGORIES == 3


def test_the_most_probable_category_comes_first_with_its_probability() -> None:
    (answer,) = decide(probabilities(price=0.3, service=0.7))
    assert answer[0].code == Category.SERVICE
    assert answer[0].score == pytest.approx(0.7, abs=1e-3)
    assert [s.code for s in answer] == ["service"]  # price is below the threshold


def test_others_need_the_threshold_best_first_at_most_three() -> None:
    assert codes(probabilities(price=0.9, service=0.5, logistics=0.45, technical=0.42)) == [
        "price",
        "service",
        "logistics",
    ]
    assert codes(probabilities(price=0.9, service=THRESHOLD)) == ["price", "service"]
    assert codes(probabilities(price=0.9, service=THRESHOLD - 0.01)) == ["price"]
    assert codes(probabilities(price=0.2, service=0.3)) == ["service"]  # always one


def test_other_only_ever_comes_alone() -> None:
    assert codes(probabilities(other=0.9, price=0.8, service=0.7)) == ["other"]
    # second to a category: left out
    assert codes(probabilities(price=0.9, other=0.8)) == ["price"]
    assert "other" not in codes(probabilities(price=0.9, other=0.8, service=0.7))


def test_ties_are_broken_by_the_taxonomy_order() -> None:
    row = np.full((1, len(CATEGORIES)), 0.5, dtype=np.float32)
    assert codes(row) == ["product_quality", "logistics", "service"]


def test_scores_are_rounded_probabilities_best_first() -> None:
    rows = np.array(
        [
            [0.123456, 0.9876543, 0.45678, 0.01, 0.02, 0.03, 0.04],
            [0.0001, 0.0002, 0.0003, 0.0001, 0.0001, 0.0001, 0.0001],
        ],
        dtype=np.float32,
    )
    first, weak = decide(rows)
    assert [(s.code, s.score) for s in first] == [("logistics", 0.988), ("service", 0.457)]
    assert [s.code for s in weak] == ["service"]  # a weak best guess still answers
    for answer in (first, weak):
        assert all(s.score == round(s.score, 3) for s in answer)


def test_a_batch_gets_one_answer_per_row_in_order() -> None:
    rows = np.vstack(
        [probabilities(price=0.9), probabilities(other=0.9), probabilities(technical=0.8)]
    )
    assert [a[0].code for a in decide(rows)] == ["price", "other", "technical"]
    assert decide(np.zeros((0, len(CATEGORIES)), dtype=np.float32)) == []


# --- the model file -----------------------------------------------------------------------------


def test_the_shipped_model_has_a_head_per_category() -> None:
    model = load_model()
    assert model.task == "categories"
    assert model.heads.names == tuple(c.value for c in CATEGORIES)
    assert model.version.startswith("categories-")


def test_a_model_of_other_categories_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "categories.npz"
    fixed_model("categories", {"price": 0.5, "shipping": 0.5}, "old").save(path)
    with pytest.raises(ConfigError, match=r"the model's categories \('price', 'shipping'\)"):
        load_model(path)


def test_a_sentiment_model_is_not_a_category_model() -> None:
    with pytest.raises(ConfigError, match="a sentiment model where a categories model"):
        load_model(SENTIMENT_FILE)


def test_the_shipped_model_lists_its_corpora_and_leave_one_domain_out_figures() -> None:
    meta = load_model().meta
    for row in meta["trained_on"]:
        assert (row["file"], row["licence"]) == CORPORA[row["corpus"]]
        assert row["examples"] > 0
    dev = meta["validation"]["dev"]
    assert len(dev["domains"]) >= 10 and set(dev["domains"]) <= set(DOMAINS)
    tops = [figures["top_in_gold"] for figures in dev["domains"].values()]
    assert all(0 < top <= 1 for top in tops)
    assert all(figures["texts"] > 0 for figures in dev["domains"].values())
    assert dev["mean_top_in_gold"] == pytest.approx(np.mean(tops), abs=1e-4)
    assert dev["worst_top_in_gold"] == min(tops)
    assert meta["recipe"]["threshold"] == THRESHOLD


# --- what the shipped model says -------------------------------------------------------------


@functools.cache
def analyzer() -> Analyzer:
    return Analyzer()


def top(text: str) -> str:
    return analyzer().analyze(text).category


# Plain complaints written for this test, one category each.
PARAPHRASES = [
    ("衣服质量太差，洗一次就掉色", "product_quality"),
    ("物流太慢了，等了一个星期还没到", "logistics"),
    ("客服态度太差，问什么都不回", "service"),
    ("这个价格太贵了，比别家贵一百", "price"),
    ("申请退款一周了还没到账", "after_sales"),
    ("APP一打开就闪退", "technical"),
]


@pytest.mark.parametrize(("text", "category"), PARAPHRASES)
def test_plain_complaints_land_in_their_category(text: str, category: str) -> None:
    assert top(text) == category


def test_traditional_characters_are_understood() -> None:
    assert top("物流太慢了，等了一個禮拜還沒到") == "logistics"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("快递员态度很凶，还把我的箱子摔坏了", {"logistics", "service"}),
        # (前台态度也冷冰冰的 after a room complaint stays below the threshold for service:
        # 0.38 with the shipped model, a known near miss)
        ("酒店房间有霉味，前台服务态度也很差", {"product_quality", "service"}),
    ],
)
def test_two_complaints_give_two_categories(text: str, expected: set[str]) -> None:
    assert expected <= {s.code for s in analyzer().analyze(text).categories}
