"""classifiers.corrections: a correction (纠正) from an API body or a LABELS line — every
refusal names its field — cleaned and masked, keyed by its text, merged field by field, and
written back as the LABELS line it was read from."""

from __future__ import annotations

import json
from typing import Any

import pytest

from classifiers.corrections import (
    MAX_TEXT_CHARS,
    Correction,
    clean_text,
    merge,
    parse_correction,
    parse_label_line,
    text_key,
)
from vocwatch.errors import InvalidCorrection, VocwatchError
from vocwatch.vocabulary import Category, Channel, CorrectionKind, Polarity

AT = 1_800_000_000.0  # 2027-01-15T08:00:00+00:00


def test_a_body_with_a_category_and_a_sentiment() -> None:
    correction = parse_correction(
        {
            "text": "快递三天没到",
            "category": "logistics",
            "sentiment": "negative",
            "channel": "app",
            "source": "alert:f-1",
            "by": " 张三 ",
        },
        at=AT,
    )
    assert correction == Correction(
        text="快递三天没到",
        categories=(Category.LOGISTICS,),
        sentiment=Polarity.NEGATIVE,
        channel=Channel.APP,
        at=AT,
        by="张三",
        source="alert:f-1",
    )
    assert correction.kinds == (CorrectionKind.CATEGORY, CorrectionKind.SENTIMENT)


def test_the_label_line_of_a_correction() -> None:
    correction = parse_correction(
        {"text": "退款还没到账", "categories": ["after_sales", "price"], "sentiment": 0}, at=AT
    )
    assert correction.to_json() == {
        "text": "退款还没到账",
        "categories": ["after_sales", "price"],
        "sentiment": "negative",
        "at": "2027-01-15T08:00:00+00:00",
    }
    one = parse_correction({"text": "很好", "sentiment": 1, "channel": "social"})
    assert json.loads(one.to_line()) == {
        "text": "很好",
        "sentiment": "positive",
        "channel": "social",
    }
    assert one.kinds == (CorrectionKind.SENTIMENT,)


@pytest.mark.parametrize(
    "correction",
    [
        Correction("快递丢了", (Category.LOGISTICS,)),
        Correction("客服不理人", (Category.SERVICE, Category.OTHER), Polarity.NEUTRAL),
        Correction("好评", (), Polarity.POSITIVE, Channel.SOCIAL, AT, "李四", "social:p1"),
    ],
)
def test_a_label_line_reads_back_as_the_same_correction(correction: Correction) -> None:
    assert parse_label_line(correction.to_line()) == correction
    assert Correction.from_json(correction.to_json()) == correction


def test_a_label_line_may_give_its_time_with_any_offset() -> None:
    line = '{"text": "慢", "category": "logistics", "at": "2027-01-15T16:00:00+08:00"}'
    assert parse_label_line(line).at == AT


def test_the_text_is_cleaned_and_masked_as_the_worker_does() -> None:
    correction = parse_correction(
        {"text": "  客戶來電 電話13812345678！！！！！ ", "category": "service"}
    )
    assert correction.text == "客户来电 电话[PHONE]!!!"
    assert clean_text(correction.text) == correction.text  # idempotent: console texts stay
    by_phone = parse_correction({"text": "x", "sentiment": 0, "by": "13812345678"})
    assert by_phone.by == "[PHONE]"


def test_one_key_per_cleaned_text() -> None:
    a = parse_correction({"text": "ＡＰＰ閃退", "category": "technical"})
    b = parse_correction({"text": "APP闪退", "sentiment": "negative"})
    assert a.key == b.key == text_key("APP闪退")
    assert len(a.key) == 16
    assert parse_correction({"text": "APP闪退了", "sentiment": 0}).key != a.key


def test_a_newer_correction_replaces_what_it_gives_and_keeps_the_rest() -> None:
    older = Correction("慢", (Category.LOGISTICS,), Polarity.NEGATIVE, Channel.APP, AT, "张三", "a")
    newer = Correction("慢", (), Polarity.NEUTRAL, None, AT + 60, "", "b")
    assert merge(older, newer) == Correction(
        "慢", (Category.LOGISTICS,), Polarity.NEUTRAL, Channel.APP, AT + 60, "张三", "b"
    )
    recategorized = Correction("慢", (Category.SERVICE,), None, None, AT + 120, "李四")
    assert merge(merge(older, newer), recategorized) == Correction(
        "慢", (Category.SERVICE,), Polarity.NEUTRAL, Channel.APP, AT + 120, "李四", "b"
    )


def test_duplicate_codes_are_kept_once_in_their_order() -> None:
    correction = parse_correction({"text": "x", "categories": ["price", "after_sales", "price"]})
    assert correction.categories == (Category.PRICE, Category.AFTER_SALES)


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"category": "logistics"}, "text", "required"),
        ({"text": 5, "category": "logistics"}, "text", "a string, not int"),
        ({"text": "   ", "category": "logistics"}, "text", "empty"),
        ({"text": "\u200b\u0007", "category": "logistics"}, "text", "empty once cleaned"),
        ({"text": "长" * (MAX_TEXT_CHARS + 1), "category": "logistics"}, "text", "at most 2000"),
        ({"text": "x"}, "category", "give the right category"),
        ({"text": "x", "channel": "app"}, "category", "or the right sentiment"),
        ({"text": "x", "category": "delivery"}, "category", "unknown category code 'delivery'"),
        ({"text": "x", "category": 3}, "category", "unknown category code '3'"),
        ({"text": "x", "categories": []}, "categories", "a non-empty list"),
        ({"text": "x", "categories": "logistics"}, "categories", "a non-empty list"),
        ({"text": "x", "categories": ["logistics", "fast"]}, "categories", "'fast'"),
        (
            {"text": "x", "category": "price", "categories": ["price"]},
            "categories",
            "not both",
        ),
        ({"text": "x", "sentiment": "angry"}, "sentiment", "not 'angry'"),
        ({"text": "x", "sentiment": 2}, "sentiment", "not '2'"),
        ({"text": "x", "sentiment": True}, "sentiment", "not 'True'"),
        ({"text": "x", "sentiment": 0.5}, "sentiment", "negative, neutral, positive"),
        ({"text": "x", "sentiment": 0, "channel": "fax"}, "channel", "not 'fax'"),
        ({"text": "x", "sentiment": 0, "by": 7}, "by", "at most 200"),
        ({"text": "x", "sentiment": 0, "source": "s" * 201}, "source", "at most 200"),
        ({"text": "x", "sentiment": 0, "at": "yesterday"}, "at", "ISO-8601"),
        ({"text": "x", "sentiment": 0, "at": "2027-01-15T08:00:00"}, "at", "offset"),
        ({"text": "x", "sentiment": 0, "at": 1_800_000_000}, "at", "ISO-8601"),
    ],
)
def test_a_bad_correction_is_refused_naming_its_field(body: Any, field: str, says: str) -> None:
    with pytest.raises(InvalidCorrection) as refused:
        parse_correction(body)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")
    assert says in str(refused.value)
    assert isinstance(refused.value, VocwatchError)


def test_an_unknown_code_is_shown_masked() -> None:
    with pytest.raises(InvalidCorrection) as refused:
        parse_correction({"text": "x", "category": "13812345678"})
    assert "13812345678" not in str(refused.value) and "[PHONE]" in str(refused.value)


@pytest.mark.parametrize(
    ("line", "field"),
    [("{not json", "line"), ("[1, 2]", "body"), ('"text"', "body")],
)
def test_a_label_line_that_is_not_an_object_is_refused(line: str, field: str) -> None:
    with pytest.raises(InvalidCorrection) as refused:
        parse_label_line(line)
    assert refused.value.field == field


def test_the_api_time_overrides_the_bodys_own() -> None:
    body = {"text": "x", "sentiment": 0, "at": "2020-01-01T00:00:00+00:00"}
    assert parse_correction(body, at=AT).at == AT
