"""classifiers.analyze: normalize → mask → tokenize → score → categorize → prioritize."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import pytest

from classifiers.analyze import Analyzer
from classifiers.category import CategoryScore
from classifiers.pii import TOKENS
from classifiers.polarity import Cutoffs, PolarityPolicy
from classifiers.priority import Signals


class FixedScorer:
    """A sentiment scorer that returns a fixed score and remembers what it was given."""

    name = "fixed"

    def __init__(self, value: float) -> None:
        self.value = value
        self.seen: list[tuple[str, ...]] = []

    def score(self, tokens: Sequence[str], text: str) -> float:
        self.seen.append(tuple(tokens))
        return self.value


def analyzer(value: float = 0.5, polarity: PolarityPolicy | None = None) -> Analyzer:
    return Analyzer(scorer=FixedScorer(value), polarity=polarity)


def test_text_is_normalized_and_masked() -> None:
    text = "  电话：１３８　１２３４　５６７８，邮箱 zs@example.com\n详见 https://x.cn/a "
    result = analyzer().analyze(text)
    assert result.text == f"电话:{TOKENS['phone']},邮箱 {TOKENS['email']} 详见 [URL]"
    assert result.pii == ("email", "phone")


def test_no_digit_of_a_masked_number_reaches_the_tokens() -> None:
    result = analyzer().analyze("快递员电话13812345678打不通")
    assert "phone" in result.pii
    assert not any(ch.isdigit() for token in result.tokens for ch in token)
    assert "打不通" in result.tokens


def test_scorer_receives_the_tokens_and_the_result_keeps_them() -> None:
    scorer = FixedScorer(0.5)
    result = Analyzer(scorer=scorer).analyze("快递员态度差，申请退款！")
    assert result.tokens == ("快递员", "态度差", "申请", "退款", "!")
    assert scorer.seen == [result.tokens]


@pytest.mark.parametrize(
    ("value", "polarity", "negative"),
    [
        (0.05, "negative", True),
        (0.39, "negative", True),
        (0.4, "neutral", False),
        (0.6, "positive", False),
        (0.95, "positive", False),
    ],
)
def test_polarity_from_the_default_cutoffs(value: float, polarity: str, negative: bool) -> None:
    result = analyzer(value).analyze("客服态度差")
    assert result.sentiment == value
    assert result.polarity == polarity
    assert result.negative is negative


def test_custom_cutoffs_are_used() -> None:
    result = analyzer(0.45, PolarityPolicy(Cutoffs(0.5, 0.9))).analyze("还行")
    assert result.polarity == "negative"


def test_channel_picks_its_cutoffs() -> None:
    policy = PolarityPolicy(
        Cutoffs(0.4, 0.6), {"call": Cutoffs(0.3, 0.6), "social": Cutoffs(0.5, 0.7)}
    )
    assert analyzer(0.35, policy).analyze("一般", channel="call").polarity == "neutral"
    assert analyzer(0.35, policy).analyze("一般", channel="app").polarity == "negative"
    assert analyzer(0.35, policy).analyze("一般").polarity == "negative"  # the default
    assert analyzer(0.45, policy).analyze("一般", channel="social").negative
    assert analyzer(0.65, policy).analyze("一般", channel="social").polarity == "neutral"


def test_unknown_channel_is_a_value_error_before_scoring() -> None:
    scorer = FixedScorer(0.5)
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        Analyzer(scorer=scorer).analyze("快递没到", channel="fax")
    assert scorer.seen == []


def test_default_analyzer_uses_the_packaged_polarity_file() -> None:
    assert Analyzer(scorer=FixedScorer(0.5)).polarity == PolarityPolicy.load()


def test_sentiment_is_rounded_to_four_places() -> None:
    assert analyzer(0.123456789).analyze("一般").sentiment == 0.1235


def test_categories_and_main_category() -> None:
    # Two complaints (delivery late, agent ignores): both categories, the best one first.
    result = analyzer().analyze("快递三天没到，客服也不理人")
    assert {s.code for s in result.categories} == {"logistics", "service"}
    assert result.category == result.categories[0].code
    assert result.categories[0].score >= result.categories[1].score


def test_unmatched_text_is_other() -> None:
    result = analyzer().analyze("请问门店几点关门")
    assert result.category == "other"
    assert [s.code for s in result.categories] == ["other"]
    assert isinstance(result.categories[0], CategoryScore)


def test_priority_uses_category_and_sentiment() -> None:
    # technical (high, 2) + strongly negative (2) = 4 → P2.
    result = analyzer(0.05).analyze("APP一打开就闪退")
    assert result.category == "technical"
    assert result.priority.level == "P2"
    assert result.priority.points == 4
    assert result.priority.reasons == (
        "category:technical=high",
        "sentiment:strongly_negative=0.05",
    )


def test_priority_uses_the_signals() -> None:
    signals = Signals(wait_seconds=400, transfers=3, resolved_first_contact=False, satisfaction=1)
    # technical 2 + negative 1 + four call signals 4 = 7 → P1.
    result = analyzer(0.2).analyze("APP一打开就闪退", signals)
    assert result.priority.level == "P1"
    assert result.priority.points == 7
    without = analyzer(0.2).analyze("APP一打开就闪退")
    assert without.priority.level == "P2"


def test_escalation_language_is_p1_even_when_positive() -> None:
    result = analyzer(0.9).analyze("再不解决我就打１２３１５投诉")  # full-width digits fold
    assert result.priority.level == "P1"
    assert "escalation:12315" in result.priority.reasons


def test_text_without_personal_data_reports_none() -> None:
    assert analyzer().analyze("订单583920，金额299.00元，2024-05-01 10:30下单").pii == ()


@functools.cache
def real_analyzer() -> Analyzer:
    return Analyzer()


def test_default_analyzer_end_to_end() -> None:
    result = real_analyzer().analyze("快递三天没到，客服也不理人，电话13812345678")
    assert result.text == f"快递三天没到,客服也不理人,电话{TOKENS['phone']}"
    assert result.pii == ("phone",)
    assert 0.0 <= result.sentiment <= 1.0
    assert result.negative
    assert result.category in ("service", "logistics")  # both complaints are in the text
    # service or logistics (medium, 1) plus at least one sentiment point: P2 or P3 are
    # possible only through the points, never P1 (no escalation, no safety term).
    assert result.priority.level in ("P2", "P3")
    assert result.priority.reasons[0] == f"category:{result.category}=medium"


def test_default_analyzer_safety_issue_is_p1() -> None:
    result = real_analyzer().analyze("充电时突然起火，差点烫伤孩子")
    assert result.priority.level == "P1"
    assert "safety:起火" in result.priority.reasons
    assert "safety:烫伤" in result.priority.reasons
