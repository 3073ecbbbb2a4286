"""classifiers.category: weighted lexicon, multi-label, normalized scores."""

from __future__ import annotations

import pytest

from classifiers.category import (
    CATEGORIES,
    CATEGORY_NAMES_ZH,
    LEXICON,
    CategoryClassifier,
    CategoryScore,
)
from classifiers.normalize import normalize
from classifiers.tokenize import tokenize

CLASSIFIER = CategoryClassifier.default()


def codes(scores: tuple[CategoryScore, ...]) -> list[str]:
    return [s.code for s in scores]


def test_taxonomy_is_consistent() -> None:
    assert set(LEXICON) == set(CATEGORIES) - {"other"}
    assert set(CATEGORY_NAMES_ZH) == set(CATEGORIES)
    for terms in LEXICON.values():
        assert all(weight in (1, 2) for weight in terms.values())


@pytest.mark.parametrize("tokens", [[], ["今天", "天气", "不错"], ["!", "?"]])
def test_no_match_is_other(tokens: list[str]) -> None:
    assert CLASSIFIER.classify(tokens) == (CategoryScore("other", 1.0),)


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["快递", "没收到"], "logistics"),
        (["客服", "态度差"], "service"),
        (["质量差"], "product_quality"),
        (["太贵"], "price"),
        (["退款"], "after_sales"),
        (["闪退"], "technical"),
    ],
)
def test_single_category(tokens: list[str], expected: str) -> None:
    assert CLASSIFIER.classify(tokens) == (CategoryScore(expected, 1.0),)


def test_equal_scores_are_ordered_by_taxonomy() -> None:
    # 快递 (logistics, 2) and 客服 (service, 2): a tie, both 1.0, logistics listed first.
    assert CLASSIFIER.classify(["客服", "快递"]) == (
        CategoryScore("logistics", 1.0), CategoryScore("service", 1.0))


def test_second_label_kept_at_or_above_keep_ratio() -> None:
    # logistics 快递 2 + 慢 1 = 3, service 客服 2: 2/3 ≥ 0.6 → kept, rounded to 3 places.
    assert CLASSIFIER.classify(["快递", "慢", "客服"]) == (
        CategoryScore("logistics", 1.0), CategoryScore("service", 0.667))


def test_second_label_dropped_below_keep_ratio() -> None:
    # logistics 快递 2 + 慢 1 + 催单 1 = 4, service 2: 0.5 < 0.6 → dropped.
    assert CLASSIFIER.classify(["快递", "慢", "催单", "客服"]) == (
        CategoryScore("logistics", 1.0),)


def test_repeated_terms_add_up() -> None:
    # 快递 twice = 4 against 客服 2 → 0.5: service dropped.
    assert codes(CLASSIFIER.classify(["快递", "快递", "客服"])) == ["logistics"]


def test_at_most_max_labels() -> None:
    # Four categories with weight 2 each: the first three in taxonomy order.
    result = CLASSIFIER.classify(["闪退", "退款", "快递", "客服"])
    assert result == (CategoryScore("logistics", 1.0), CategoryScore("service", 1.0),
                      CategoryScore("after_sales", 1.0))


def test_custom_lexicon_keep_ratio_and_max_labels() -> None:
    lexicon = {"price": {"x": 3}, "service": {"y": 1}}
    narrow = CategoryClassifier(lexicon, keep_ratio=0.3, max_labels=1)
    assert narrow.classify(["x", "y"]) == (CategoryScore("price", 1.0),)
    wider = CategoryClassifier(lexicon, keep_ratio=0.3, max_labels=5)
    assert wider.classify(["x", "y"]) == (CategoryScore("price", 1.0),
                                          CategoryScore("service", 0.333))
    strict = CategoryClassifier(lexicon, keep_ratio=0.5, max_labels=5)
    assert strict.classify(["x", "y"]) == (CategoryScore("price", 1.0),)


def test_scores_are_in_unit_interval_and_best_first() -> None:
    result = CLASSIFIER.classify(["快递", "慢", "客服", "态度", "退款", "贵"])
    assert result[0].score == 1.0
    assert all(0 < s.score <= 1 for s in result)
    assert [s.score for s in result] == sorted((s.score for s in result), reverse=True)


@pytest.mark.parametrize(
    ("text", "top"),
    [
        ("快递显示已签收，但我根本没收到包裹", "logistics"),
        ("客服态度太差了，最后直接挂电话", "service"),
        ("APP一打开就闪退，更新了也没用", "technical"),
        ("支付失败但是钱被扣了，重复扣费99元", "technical"),
        ("申请退款7天了还没到账，售后一直说在审核", "after_sales"),
        ("刚收到的有明显瑕疵，做工很粗糙", "product_quality"),
        ("优惠券明明满足条件却用不了，结算价格比页面贵", "price"),
        ("请问门店几点关门", "other"),
    ],
)
def test_real_sentences_through_the_tokenizer(text: str, top: str) -> None:
    assert CLASSIFIER.classify(tokenize(normalize(text)))[0].code == top
