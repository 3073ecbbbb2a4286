"""classifiers.normalize: width folding, traditional → simplified, control characters,
URLs, repeated marks, whitespace, and the length bound."""

from __future__ import annotations

import time

import pytest

from classifiers.normalize import MAX_CHARS, MAX_REPEAT, URL_TOKEN, _to_simplified, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＰＰ闪退", "APP闪退"),  # full-width Latin letters
        ("退款１２３元", "退款123元"),  # full-width digits
        ("客服\u3000不理人", "客服 不理人"),  # ideographic space
        ("太差了！！", "太差了!!"),  # full-width punctuation folds too
        ("为什么？", "为什么?"),
    ],
)
def test_full_width_forms_fold_to_half_width(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("快\x00递", "快递"),  # NUL
        ("快\x07递", "快递"),  # BEL
        ("快\x7f递", "快递"),  # DEL
        ("快\x85递", "快递"),  # NEL (C1): dropped before whitespace collapsing
        ("快\u200b递", "快递"),  # zero-width space
        ("快\u200d递", "快递"),  # zero-width joiner
        ("\ufeff快递", "快递"),  # byte-order mark
    ],
)
def test_control_and_zero_width_characters_are_dropped(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_newlines_and_tabs_become_single_spaces_and_ends_are_stripped() -> None:
    assert normalize("  快递\n\n没到\t\t客服  不理人 \r\n") == "快递 没到 客服 不理人"


@pytest.mark.parametrize(
    "url",
    [
        "https://x.cn/a?b=1",
        "http://shop.example.com/item/42",
        "www.example.com/x",
        "HTTPS://X.CN/A",
    ],
)
def test_urls_become_a_token(url: str) -> None:
    result = normalize(f"详见 {url} 谢谢")
    assert result == f"详见 {URL_TOKEN} 谢谢"


def test_url_glued_to_chinese_text_is_separated_by_spaces() -> None:
    assert normalize("链接https://a.cn/b。谢谢") == f"链接 {URL_TOKEN} 。谢谢"


@pytest.mark.parametrize("punct", ["，", "！", "？"], ids=["comma", "exclamation", "question"])
def test_full_width_punctuation_ends_a_url(punct: str) -> None:
    # The URL pattern stops at Chinese punctuation, so the complaint after the link must
    # survive normalization (it carries the sentiment).
    result = normalize(f"看这里 https://x.cn/a{punct}太差了")
    assert URL_TOKEN in result
    assert "x.cn" not in result
    assert result.endswith("太差了")


def test_docstring_example() -> None:
    assert normalize("ＡＰＰ　闪退！！ 详见 https://x.cn/a?b=1\n") == "APP 闪退!! 详见 [URL]"
    assert normalize("ＡＰＰ　閃退！！！！！ 詳見 https://x.cn/a?b=1\n") == "APP 闪退!!! 详见 [URL]"


def test_emoji_and_chinese_punctuation_are_kept() -> None:
    assert normalize("好评😊。") == "好评😊。"


def test_empty_and_blank_text() -> None:
    assert normalize("") == ""
    assert normalize(" \u3000\n\t\u200b ") == ""


def test_normalize_is_idempotent() -> None:
    once = normalize("ＡＰＰ　閃退！！！！！😡😡😡😡 詳見 https://x.cn/a?b=1\n\x00")
    assert normalize(once) == once


# --- traditional → simplified (繁体 → 简体) ------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("後來發現產品質量很差", "后来发现产品质量很差"),
        ("客服態度惡劣，電話打不通", "客服态度恶劣,电话打不通"),
        ("申請退款還沒到賬", "申请退款还没到账"),
        ("ＡＰＰ閃退，補償呢？", "APP闪退,补偿呢?"),  # with width folding
        ("物流資訊三天沒更新😡", "物流资讯三天没更新😡"),
    ],
)
def test_traditional_chinese_becomes_simplified(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_simplified_text_and_non_chinese_are_left_alone() -> None:
    text = "快递员态度差,申请退款!订单583920,金额299.00元,2024-05-01 10:30 [PHONE] WiFi 😊"
    assert normalize(text) == text


def test_the_converter_is_built_once() -> None:
    normalize("後來")
    normalize("發現")
    assert _to_simplified() is _to_simplified()
    assert _to_simplified.cache_info().currsize == 1


# --- sentiment marks: kept, runs bounded ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("太差了！！！", "太差了!!!"),  # up to MAX_REPEAT: unchanged
        ("太差了！！！！！！！！！！", "太差了!!!"),
        ("为什么？？？？？", "为什么???"),
        ("怎么回事？！？！？！？！", "怎么回事?!?"),  # mixed ! and ? runs too
        ("气死了😡😡😡😡😡😡", "气死了😡😡😡"),
        ("好评❤️❤️❤️❤️❤️", "好评❤️❤️❤️"),  # with its variation selector
        ("点赞👍🏻👍🏻👍🏻👍🏻", "点赞👍🏻👍🏻👍🏻"),  # with its skin tone
        ("无语。。。。。。", "无语。。。"),
        ("无语……", "无语..."),  # NFKC: … is ...
        ("太差了😡！😡！", "太差了😡!😡!"),  # not one mark: unchanged
    ],
)
def test_repeated_marks_are_kept_but_bounded(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text",
    ["13800000000", "退款100000元", "哈哈哈哈哈哈", "订单号1111111111", "AAAA级", "2000-01-01"],
)
def test_letters_digits_and_chinese_are_never_shortened(text: str) -> None:
    # Shortening a run inside a number would change an amount, or break a phone number
    # so that masking no longer finds it.
    assert normalize(text) == text


def test_a_storm_of_marks_stays_short() -> None:
    assert normalize("退款！" + "！" * 10_000 + "😡" * 10_000) == "退款!!!😡😡😡"
    assert MAX_REPEAT == 3


# --- length bound ------------------------------------------------------------------------


def test_long_text_is_cut_to_max_chars() -> None:
    result = normalize("快递没到" * 10_000)
    assert len(result) == MAX_CHARS == 20_000
    assert normalize("快递没到客服不理", max_chars=4) == "快递没到"


@pytest.mark.parametrize(
    "tail", ["13812345678", "138 1234 5678", "zhang.san@example.com", "6222021234567890128"]
)
def test_the_cut_never_leaves_half_a_number_or_address(tail: str) -> None:
    # Cut anywhere inside the tail: what is left of it is dropped, so that no part of a
    # phone number, address or card reaches the masking (which only knows whole ones).
    for keep in range(1, len(tail)):
        result = normalize("联系我" + tail, max_chars=3 + keep)
        assert result == "联系我", (keep, result)


def test_text_within_the_bound_is_not_cut() -> None:
    text = "快" * (MAX_CHARS - 11) + "13812345678"
    assert normalize(text) == text


@pytest.mark.parametrize(
    ("unit", "times"),
    [
        ("！", 10_000_000),
        ("a", 10_000_000),
        ("快递", 5_000_000),
        ("後來 😡\u200b\n", 1_000_000),
        ("https://x.cn/", 1_000_000),
    ],
    ids=["marks", "ascii", "chinese", "mixed", "urls"],
)
def test_huge_input_takes_bounded_time(unit: str, times: int) -> None:
    text = unit * times
    started = time.perf_counter()
    result = normalize(text)
    elapsed = time.perf_counter() - started
    assert len(result) <= MAX_CHARS
    assert elapsed < 0.5, f"{elapsed:.3f} s for {len(text):,} characters"
