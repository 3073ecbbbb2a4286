"""classifiers.tokenize: jieba with the domain dictionary, noise filtering."""

from __future__ import annotations

import pytest

from classifiers.normalize import normalize
from classifiers.tokenize import USER_DICT, tokenize, warm_up

DICTIONARY_WORDS = [line.split()[0] for line in USER_DICT.read_text(encoding="utf-8").splitlines()
                    if line.strip()]


def test_dictionary_file_is_packaged_and_not_empty() -> None:
    assert USER_DICT.is_file()
    assert len(DICTIONARY_WORDS) > 50
    for must in ("客服", "退款", "12315", "快递员", "闪退", "扣费", "差评"):
        assert must in DICTIONARY_WORDS


@pytest.mark.parametrize("word", DICTIONARY_WORDS)
def test_domain_words_are_never_split(word: str) -> None:
    assert word in tokenize(f"这个{word}问题")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Reasoned from the dictionary: 快递员, 态度差, 退款 are domain words.
        (normalize("快递员态度差，申请退款！"), ["快递员", "态度差", "申请", "退款", "!"]),
        ("APP一打开就闪退", ["APP", "一", "打开", "就", "闪退"]),
        ("我要打12315投诉", ["我要", "打", "12315", "投诉"]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_whitespace_and_neutral_punctuation_are_dropped() -> None:
    tokens = tokenize("快递 ，。、；：“”（）【】《》…—~· \t 退款")
    assert tokens == ["快递", "退款"]


@pytest.mark.parametrize("mark", ["!", "?", "！", "？"])
def test_exclamation_and_question_marks_stay(mark: str) -> None:
    tokens = tokenize(f"怎么回事{mark}")
    assert tokens[-1] == mark


def test_masking_token_brackets_are_dropped() -> None:
    tokens = tokenize("电话[PHONE]，邮箱[EMAIL]")
    assert not {"[", "]", "[PHONE]", "[EMAIL]", "，"} & set(tokens)
    assert "电话" in tokens
    assert "邮箱" in tokens


def test_emoji_is_kept_as_a_token() -> None:
    assert "😊" in tokenize("好评😊")


@pytest.mark.parametrize("text", ["", "   ", "，。、", "\t\n"])
def test_empty_or_noise_only_text_gives_no_tokens(text: str) -> None:
    assert tokenize(text) == []


def test_warm_up_then_tokenize_gives_the_same_result() -> None:
    before = tokenize("客服已读不回")
    warm_up()
    warm_up()
    assert tokenize("客服已读不回") == before == ["客服", "已读不回"]
