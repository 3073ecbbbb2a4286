"""classifiers.tokenize: rjieba (jieba as the fallback) with the domain dictionary and the
category lexicon; cut keeps every piece, tokenize drops the noise."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.normalize import normalize
from classifiers.tokenize import USER_DICT, cut, cut_all, tokenize, warm_up, words

ROOT = Path(__file__).resolve().parents[2]

DICTIONARY_WORDS = [
    line.split()[0] for line in USER_DICT.read_text(encoding="utf-8").splitlines() if line.strip()
]


def test_dictionary_file_is_packaged_and_not_empty() -> None:
    assert USER_DICT.is_file()
    assert len(DICTIONARY_WORDS) > 50
    for must in ("客服", "退款", "12315", "快递员", "闪退", "扣费", "差评"):
        assert must in DICTIONARY_WORDS


def cuts_inside(text: str, word: str) -> list[int]:
    """Token boundaries that fall strictly inside the first ``word`` of ``text``."""
    start = text.index(word)
    end = start + len(word)
    cuts, position = [], 0
    for token in tokenize(text):
        position = text.index(token, position) + len(token)
        cuts.append(position)
    return [cut for cut in cuts if start < cut < end]


def test_cuts_inside_finds_a_split() -> None:
    assert cuts_inside("这个快递员问题", "快递员") == []
    assert cuts_inside("我要申请退款", "申请退款") == [4]  # 申请 | 退款: two words


@pytest.mark.parametrize("word", DICTIONARY_WORDS)
def test_domain_words_are_never_split(word: str) -> None:
    # "Not split" means no boundary inside the word; it may still glue to a neighbour
    # (停机 + 问题 is jieba's 停机问题, the halting problem).
    assert cuts_inside(f"这个{word}问题", word) == []
    assert tokenize(f"，{word}。") == [word]


def test_dictionary_has_the_domains_vocabulary() -> None:
    domains = {
        "customer service": ("转人工", "工单", "答非所问", "未解决", "霸王条款", "货不对板"),
        "e-commerce": ("下单", "商家", "旗舰店", "预售", "尾款", "好评返现", "拒收"),
        "delivery": ("取件码", "丰巢", "收件人", "派件", "滞留", "延误", "外包装"),
        "telecom": ("运营商", "携号转网", "停机", "欠费", "流量包", "违约金", "光猫"),
        "app": ("小程序", "加载失败", "卡死", "解绑", "人脸识别", "注销"),
        "banking": ("信用卡", "手续费", "逾期", "征信", "到账", "挂失", "暴力催收"),
        "product quality": ("瑕疵", "色差", "保质期", "充不进电", "异响"),
        "after-sales": ("质保", "补发", "召回", "理赔"),
        "escalation and safety": ("市场监督管理局", "工信部", "申诉", "律师函", "腹泻", "安全隐患"),
    }
    missing = {d: [w for w in words if w not in DICTIONARY_WORDS] for d, words in domains.items()}
    assert not any(missing.values()), missing
    assert len(DICTIONARY_WORDS) >= 500


def test_dictionary_lines_are_word_frequency_tag() -> None:
    lines = [line for line in USER_DICT.read_text(encoding="utf-8").splitlines() if line]
    for line in lines:
        _, frequency, tag = line.split(" ")  # exactly three fields: jieba's format
        assert 100 <= int(frequency) <= 100_000, line
        assert tag in {"n", "v", "a"}, line
    assert len(DICTIONARY_WORDS) == len(set(DICTIONARY_WORDS)), "duplicate entries"


@pytest.mark.parametrize("word", DICTIONARY_WORDS)
def test_dictionary_words_survive_normalization(word: str) -> None:
    # A word that normalization rewrites (traditional characters, full-width letters)
    # could never be matched in normalized text.
    assert normalize(word) == word


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("申请退款3天了还没到账", ["退款", "还没到账"]),  # a lexicon term
        ("扫地机器人充不进电，开机就黑屏", ["充不进电", "黑屏"]),
        ("会员年卡怎么开通？需要绑定手机号吗", ["会员年卡", "绑定"]),
        ("信用卡被盗刷了，还收了滞纳金", ["信用卡", "盗刷", "滞纳金"]),
        ("丰巢的取件码一直收不到", ["丰巢", "取件码"]),
        ("携号转网被运营商拒绝，还要交违约金", ["携号转网", "运营商", "违约金"]),
        ("小程序加载失败，一直转圈", ["小程序", "加载失败", "转圈"]),
        ("货不对板，客服答非所问", ["货不对板", "客服", "答非所问"]),
        ("吃了以后呕吐腹泻，我要找市场监督管理局", ["呕吐", "腹泻", "市场监督管理局"]),
    ],
)
def test_domain_words_in_real_sentences(text: str, words: list[str]) -> None:
    tokens = tokenize(normalize(text))
    assert [w for w in words if w not in tokens] == [], tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Reasoned from the dictionary: 快递员, 态度差, 退款 are domain words.
        (normalize("快递员态度差，申请退款！"), ["快递员", "态度差", "申请", "退款", "!"]),
        ("APP一打开就闪退", ["APP", "一", "打开", "就", "闪退"]),
        # Without jieba's HMM pass, 我要 (not a dictionary word) stays two words.
        ("我要打12315投诉", ["我", "要", "打", "12315", "投诉"]),
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


def test_sentiment_marks_survive_normalization_and_tokenization() -> None:
    tokens = tokenize(normalize("太差了！！！！！！😡😡😡😡😡？？"))
    assert tokens == ["太差", "了", "!", "!", "!", "😡", "😡", "😡", "?", "?"]


@pytest.mark.parametrize("text", ["好评❤️", "点赞👍🏻", "差评👎🏿"])
def test_emoji_modifiers_are_not_tokens_of_their_own(text: str) -> None:
    # The variation selector of ❤️ and skin tones are parts of an emoji, not signals.
    tokens = tokenize(normalize(text))
    assert tokens[-1] in {"❤", "👍", "👎"}
    assert not {"\ufe0f", "\U0001f3fb", "\U0001f3ff"} & set(tokens)


@pytest.mark.parametrize("text", ["", "   ", "，。、", "\t\n"])
def test_empty_or_noise_only_text_gives_no_tokens(text: str) -> None:
    assert tokenize(text) == []


def test_warm_up_then_tokenize_gives_the_same_result() -> None:
    before = tokenize("客服已读不回")
    warm_up()
    warm_up()
    assert tokenize("客服已读不回") == before == ["客服", "已读不回"]


# --- cut: every piece ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "快递员态度差, 申请退款!!",
        "  两个空格  和\t制表符 ",
        "[哈哈][PHONE]😡👍🏻❤️",
        "APP一打开就闪退, https://x.cn/a?b=1",
        "",
        "，。、",
    ],
)
def test_cut_keeps_every_character(text: str) -> None:
    pieces = cut(text)
    assert "".join(pieces) == text
    assert all(pieces)
    assert cut_all([text, text]) == [pieces, pieces]


def test_tokenize_is_the_words_among_the_pieces() -> None:
    text = "快递 ,员态度差【哈哈】!? 😡"
    pieces = cut(text)
    assert tokenize(text) == words(pieces)
    assert {" ", ",", "【", "】"} <= set(pieces) - set(tokenize(text))
    assert {"!", "?", "😡"} <= set(tokenize(text))


# --- the engine: rjieba, and jieba when rjieba is missing -------------------------------------

_FALLBACK = """
import json, sys
sys.modules["rjieba"] = None  # import rjieba fails: the fallback
from classifiers.tokenize import cut_all
texts = json.load(sys.stdin)
pieces = cut_all(texts)
print(json.dumps({"pieces": pieces, "jieba": "jieba" in sys.modules}, ensure_ascii=False))
"""


def realistic_texts() -> list[str]:
    """The written texts of the labelled sets, as the analysis gives them to the tokenizer."""
    texts = []
    for path in sorted((ROOT / "data" / "labelled").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as stream:
            texts += [normalize(row["text"]) for row in csv.DictReader(stream) if row.get("text")]
    return texts


def test_the_engine_is_rjieba() -> None:
    warm_up()
    assert "rjieba" in sys.modules


def test_the_jieba_fallback_gives_the_same_pieces_on_real_texts() -> None:
    texts = realistic_texts()
    assert len(texts) > 5000
    done = subprocess.run(
        [sys.executable, "-c", _FALLBACK],
        input=json.dumps(texts, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    fallback = json.loads(done.stdout)
    assert fallback["jieba"]
    assert all("".join(p) == t for p, t in zip(fallback["pieces"], texts, strict=True))
    different = [
        (t, ours, theirs)
        for t, ours, theirs in zip(texts, cut_all(texts), fallback["pieces"], strict=True)
        if ours != theirs
    ]
    # the same dictionary and algorithm: rare ties aside, the same pieces
    assert len(different) <= len(texts) // 500, different[:5]
