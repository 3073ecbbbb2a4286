"""classifiers.normalize: width folding, control characters, URLs, whitespace."""

from __future__ import annotations

import pytest

from classifiers.normalize import URL_TOKEN, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＰＰ闪退", "APP闪退"),                    # full-width Latin letters
        ("退款１２３元", "退款123元"),                 # full-width digits
        ("客服\u3000不理人", "客服 不理人"),            # ideographic space
        ("太差了！！", "太差了!!"),                    # full-width punctuation folds too
        ("为什么？", "为什么?"),
    ],
)
def test_full_width_forms_fold_to_half_width(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("快\x00递", "快递"),                # NUL
        ("快\x07递", "快递"),                # BEL
        ("快\x7f递", "快递"),                # DEL
        ("快\x85递", "快递"),                # NEL (C1): dropped before whitespace collapsing
        ("快\u200b递", "快递"),              # zero-width space
        ("快\u200d递", "快递"),              # zero-width joiner
        ("\ufeff快递", "快递"),              # byte-order mark
    ],
)
def test_control_and_zero_width_characters_are_dropped(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_newlines_and_tabs_become_single_spaces_and_ends_are_stripped() -> None:
    assert normalize("  快递\n\n没到\t\t客服  不理人 \r\n") == "快递 没到 客服 不理人"


@pytest.mark.parametrize(
    "url",
    ["https://x.cn/a?b=1", "http://shop.example.com/item/42", "www.example.com/x",
     "HTTPS://X.CN/A"],
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


def test_emoji_and_chinese_punctuation_are_kept() -> None:
    assert normalize("好评😊。") == "好评😊。"


def test_empty_and_blank_text() -> None:
    assert normalize("") == ""
    assert normalize(" \u3000\n\t\u200b ") == ""


def test_normalize_is_idempotent() -> None:
    once = normalize("ＡＰＰ　闪退！！ 详见 https://x.cn/a?b=1\n\x00")
    assert normalize(once) == once
