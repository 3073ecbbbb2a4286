"""alerts.explain: what a text adds to the counts (content words, adjacent pairs), the word
lists, the terms that explain a window (support, lift, phrases, ranking), samples and
channels per window key — in bounded memory."""

from __future__ import annotations

import fnmatch
import math
import os
import random
import subprocess
import sys
import tomllib
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

import pytest

from alerts.explain import (
    MIN_LIFT,
    MIN_SUPPORT,
    MIN_SUPPORT_SHARE,
    STOPWORDS,
    VOCABULARY,
    VOCABULARY_FILE,
    KeyActivity,
    TermExtractor,
    TermPolicy,
    TermVocabulary,
    TextTerms,
    content_terms,
    phrase_words,
)
from alerts.lifecycle import MAX_SAMPLES, Sample, Term
from classifiers.normalize import normalize
from classifiers.pii import mask_pii
from classifiers.tokenize import tokenize
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Priority, PriorityName

T0 = 1_800_000_000.0
KEY = "channel=app,category=logistics"
OTHER = "channel=web,category=billing"
ROOT = Path(__file__).resolve().parents[2]


def sample(
    event_id: str, channel: str = "app", priority: PriorityName = "P2", at: float = T0
) -> Sample:
    return Sample(event_id, f"text {event_id}", Priority(priority), at, True, "complaint", channel)


def words(terms: Iterable[str]) -> set[str]:
    return {key for key in terms if len(phrase_words(key)) == 1}


def pairs(terms: Iterable[str]) -> set[tuple[str, ...]]:
    return {phrase_words(key) for key in terms if len(phrase_words(key)) == 2}


def feed(
    activity: KeyActivity,
    texts: Iterable[Sequence[str]],
    *,
    key: str | None = KEY,
    at: float = T0,
) -> None:
    """Each token list as the pipeline hands it over: to the background and to ``key``."""
    for tokens in texts:
        terms = content_terms(tokens)
        activity.add_event(terms, at)
        if key is not None:
            activity.add(key, terms, at)


def top(activity: KeyActivity, *keys: str) -> list[str]:
    return [t.term for t in activity.top_terms(keys or [KEY], since=T0 - 300)]


def mixed_background(n: int, seed: int = 1) -> list[list[str]]:
    """Texts about many things, without boilerplate: the background themes stand out from."""
    rng = random.Random(seed)
    subjects = ["快递", "包裹", "屏幕", "电池", "客服", "发票", "会员", "房间", "早餐", "物流"]
    problems = ["丢件", "破损", "闪退", "发烫", "漏发", "异味", "延误", "扣费", "掉色", "卡顿"]
    return [[rng.choice(subjects), "的", rng.choice(problems)] for _ in range(n)]


def busy_background(activity: KeyActivity, n: int = 500) -> None:
    """``n`` mixed texts over the minutes before, 100 a minute: all of them counted."""
    texts = mixed_background(n)
    for minute in range(0, n, 100):
        feed(activity, texts[minute : minute + 100], key=None, at=T0 - 600 + minute * 0.6)


# --- the word lists ------------------------------------------------------------------

CALL_BOILERPLATE = ["客户", "来电", "致电", "用户", "反映", "表示", "称", "要求", "咨询"]
CALL_BOILERPLATE += ["已告知", "已登记", "处理", "情况", "问题"]
TICKET_FILLER = ["您好", "你好", "请问", "麻烦", "谢谢", "亲", "哈哈"]
CHANNEL_BOILERPLATE = CALL_BOILERPLATE + TICKET_FILLER


def test_boilerplate_greetings_and_function_words_are_stop_words() -> None:
    assert set(CHANNEL_BOILERPLATE) <= STOPWORDS
    assert {"我们", "什么", "的", "了", "这个", "PHONE", "URL"} <= STOPWORDS
    for word in CHANNEL_BOILERPLATE:
        assert VOCABULARY.weight(word) < 2, word


def test_generic_looking_content_is_kept() -> None:
    for word in ("退款", "快递", "客服", "物流", "订单", "12315", "5G"):
        assert word not in STOPWORDS
        assert VOCABULARY.weight(word) >= 2, word


def test_the_word_list_keeps_its_sections_apart() -> None:
    others = VOCABULARY.stop | VOCABULARY.modifiers | VOCABULARY.vague | VOCABULARY.units
    assert not VOCABULARY.keep & others
    assert not VOCABULARY.modifiers & VOCABULARY.stop
    assert not VOCABULARY.vague & VOCABULARY.stop


def test_the_word_list_ships_with_the_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["alerts"]
    assert any(fnmatch.fnmatch(VOCABULARY_FILE.name, pattern) for pattern in patterns)


@pytest.mark.parametrize(
    ("text", "message"),
    [("[stopwords]\n客户\n", "line 1: unknown section"), ("# a comment\n客户\n", "line 2: a word")],
)
def test_word_list_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TermVocabulary.parse(text, source="explain_stopwords.txt")


# --- what a text adds to the counts ----------------------------------------------------


def test_content_words_and_adjacent_pairs() -> None:
    terms = content_terms(["快递", "三天", "没有", "到", "的", "快递", "iPhone", "退款"])
    assert words(terms) == {"快递", "iPhone", "退款"}  # 三天 is a number, 没有 a modifier
    assert pairs(terms) == {("快递", "iPhone"), ("iPhone", "退款")}


@pytest.mark.parametrize(
    "token",
    [
        "到",
        "a",
        "的",
        "谢谢",
        "你好",
        "123",
        "2024",
        "!!",
        "——",
        "138****5678",
        "<PHONE>",
        "<ID>",
        "**",
        "PHONE",
        "[EMAIL]",
        "CARD",
        "ID",
        "客户",
        "来电",
        "已告知",
        "三天",
        "两个",
        "一个多",
        "第一",
        "30元",
        "周一",
        "[哈哈]",
    ],
)
def test_noise_is_never_counted(token: str) -> None:
    assert set(content_terms(["退款", token, "到账"])) == {"退款", "到账"}  # no pair across it


def test_single_characters_and_modifiers_count_only_in_pairs() -> None:
    terms = content_terms(["送", "餐", "很", "慢"])
    assert words(terms) == set()
    assert pairs(terms) == {("送", "餐"), ("餐", "很"), ("很", "慢")}


def test_with_the_text_punctuation_separates_words() -> None:
    assert pairs(content_terms(["送餐", "慢"], "送餐慢")) == {("送餐", "慢")}
    assert pairs(content_terms(["送餐", "慢"], "送餐,慢了")) == set()
    assert pairs(content_terms(["送餐", "慢"])) == {("送餐", "慢")}  # only the order known
    assert pairs(content_terms(["APP", "闪退"], "APP 闪退")) == {("APP", "闪退")}
    assert pairs(content_terms(["快递", "丢件"], "快递 丢件")) == set()


def test_with_the_text_emoticon_codes_are_left_out() -> None:
    assert set(content_terms(["外卖", "馋嘴"], "外卖[馋嘴]")) == {"外卖"}
    assert "馋嘴" in content_terms(["外卖", "馋嘴"])  # without the text, a word like any


def test_content_terms_are_worked_out_when_needed() -> None:
    terms = content_terms(iter(["瓶盖", "发霉"]))
    assert isinstance(terms, TextTerms)
    assert set(terms) == {"瓶盖", "发霉", "瓶盖\x1f发霉"}
    assert len(terms) == 3
    assert "瓶盖" in terms
    assert set(content_terms(("瓶盖", "发霉"))) == set(terms)


# --- terms that explain a window -----------------------------------------------------


def test_boilerplate_never_wins_even_when_it_is_in_every_text() -> None:
    activity = KeyActivity()
    busy_background(activity)
    call = ["客户", "来电", "反映", "问题", "要求", "处理", "已告知", "谢谢"]
    feed(activity, ([*call, "屏幕", "的", "闪退"] for _ in range(30)))
    feed(activity, ([*call, "发票", "的", "丢件"] for _ in range(30)))
    terms = top(activity)
    assert terms  # what the calls are about …
    assert not {w for t in terms for w in CHANNEL_BOILERPLATE if w in t}  # … not how


def test_a_real_theme_wins_over_call_boilerplate() -> None:
    """100 call summaries about slow delivery of take-away among 1,000 mixed texts, as the
    pipeline sees them: normalized, masked, tokenized."""
    rng = random.Random(14)
    openers = ["客户来电反映", "客户致电称", "用户来电表示", "来电客户反映", "客户来电投诉"]
    closers = ["要求退款。", "已告知会反馈处理。", "已登记,要求尽快处理。", "情况已核实。"]
    themes = ["外卖送餐太慢了", "点的外卖送餐慢,饭菜都凉了", "外卖送餐慢了一个小时", "外卖送餐慢"]
    issues = ["宽带经常断网", "信用卡被盗刷", "快递三天没发货", "APP一直闪退", "发票开错了"]
    others = [
        "您好,请问我的退款什么时候到账?谢谢",
        "亲,麻烦看一下快递到哪里了",
        "酒店房间有异味,前台也不处理",
        "手机屏幕摔了一下就碎了,质量太差",
        "真服了,会员自动续费没有提醒[怒]",
        "衣服掉色严重,洗一次就不能穿了",
    ]

    def call(issue: str) -> str:
        return f"{rng.choice(openers)}{issue},{rng.choice(closers)}"

    background = [
        call(rng.choice(issues)) if i % 3 == 0 else rng.choice(others) for i in range(1000)
    ]
    window = [call(rng.choice(themes)) for _ in range(100)]
    window += [call(rng.choice(issues)) for _ in range(100)]
    activity = KeyActivity()
    for i, raw in enumerate(background + window):
        text = mask_pii(normalize(raw)).text
        terms = content_terms(tokenize(text), text)
        activity.add_event(terms, T0 - 1200 + i)
        if i >= len(background):
            activity.add(KEY, terms, T0 - 200 + i - len(background))
    top = [t.term for t in activity.top_terms([KEY], since=T0 - 300)]
    assert any("送餐" in term for term in top), top
    assert not {w for t in top for w in CHANNEL_BOILERPLATE if w in t}, top


def test_top_terms_lift_against_the_background() -> None:
    activity = KeyActivity()
    feed(activity, (["快递"] for _ in range(90)), key=None)
    feed(activity, (["快递", "的", "退款"] if i < 8 else ["快递"] for i in range(10)))
    (term,) = activity.top_terms([KEY], since=T0 - 300)
    # 退款 in 8 of 10 events here, in 8 of 100 overall: lift (8/10) / ((8+1)/(100+1)).
    assert term == Term("退款", 8, round((8 / 10) / (9 / 101), 2))
    assert term.lift == 8.98
    # 快递 is in all ten, but it is in nearly everything: lift (10/10) / (101/101) = 1.


def test_a_term_needs_a_minimum_support() -> None:
    assert (MIN_SUPPORT, MIN_SUPPORT_SHARE) == (3, 0.05)
    assert TermPolicy().support(10) == 3  # at least three texts …
    assert TermPolicy().support(300) == 15  # … and one in twenty of the window
    activity = KeyActivity(max_key_texts=300)  # every text kept: exact counts
    busy_background(activity, 300)
    feed(activity, (["快递", "的", "破损"] for _ in range(300 - 29)))
    feed(activity, (["快递", "的", "丢件", "的", "漏水"] for _ in range(14)))
    feed(activity, (["快递", "的", "丢件", "的", "发霉"] for _ in range(15)))
    # 漏水 and 发霉 are in no other text: a huge lift, but 14 texts of 300 explain nothing.
    terms = top(activity)
    assert "发霉" in terms
    assert "漏水" not in terms


def test_a_term_needs_a_minimum_support_in_a_small_window() -> None:
    activity = KeyActivity()
    busy_background(activity, 300)
    feed(activity, [["漏水"], ["漏水"], ["发霉"], ["发霉"], ["发霉"], ["快递"]])
    assert top(activity) == ["发霉"]


def test_top_terms_need_a_minimum_lift() -> None:
    activity = KeyActivity()
    feed(activity, (["快递"] if i % 2 else ["客服"] for i in range(100)))
    # The key looks just like the background: nothing stands out.
    assert activity.top_terms([KEY], since=T0 - 300) == ()
    assert MIN_LIFT > 1


def test_adjacent_words_merge_into_a_phrase() -> None:
    activity = KeyActivity()
    busy_background(activity)
    rng = random.Random(2)
    feed(activity, ([rng.choice(["外卖", "午饭", "晚饭"]), "的", "送餐", "慢"] for _ in range(40)))
    feed(activity, (["瓶盖", "发霉"] for _ in range(20)))
    feed(activity, (["退款", "到账"] for _ in range(20)))
    terms = top(activity)
    assert {"送餐慢", "瓶盖发霉", "退款到账"} <= set(terms)
    assert not {"送餐", "瓶盖", "发霉", "退款", "到账"} & set(terms)  # said by the phrases


def test_words_that_are_not_adjacent_do_not_merge() -> None:
    activity = KeyActivity()
    busy_background(activity)
    feed(activity, (["发霉", "的", "瓶盖"] for _ in range(20)))
    # Adjacent in a quarter of the texts with them only: two words, not a phrase.
    feed(activity, (["退款", "到账"] if i % 4 == 0 else ["退款", "的", "到账"] for i in range(40)))
    terms = top(activity)
    assert {"发霉", "瓶盖", "退款", "到账"} <= set(terms)
    assert not [t for t in terms if len(t) > 2]


def test_words_separated_by_punctuation_do_not_merge() -> None:
    activity = KeyActivity()
    busy_background(activity)
    for _ in range(20):
        terms = content_terms(["瓶盖", "发霉"], "瓶盖,发霉了")
        activity.add_event(terms, T0)
        activity.add(KEY, terms, T0)
    assert set(top(activity)) == {"瓶盖", "发霉"}


def test_a_chain_of_pairs_reads_as_one_phrase() -> None:
    activity = KeyActivity()
    busy_background(activity)
    feed(activity, (["客户", "来电", "外卖", "送", "餐", "慢"] for _ in range(30)))
    assert top(activity) == ["外卖送餐慢"]


def test_a_piece_of_a_longer_word_is_no_phrase() -> None:
    """送 + 餐 is one word the tokenizer did not know: 外卖送 or 餐慢 would be halves of it."""
    activity = KeyActivity()
    busy_background(activity)
    feed(activity, (["外卖", "送", "餐", "慢"] for _ in range(12)))
    feed(activity, (["外卖", "送", "餐", "太慢"] for _ in range(12)))
    feed(activity, (["外卖", "送", "餐", "很", "慢"] for _ in range(12)))
    terms = top(activity)
    assert "外卖送餐" in terms
    assert not [t for t in terms if t in ("外卖送", "餐慢", "餐太慢", "餐很慢")]


def test_negation_joins_a_phrase() -> None:
    activity = KeyActivity()
    busy_background(activity)
    feed(activity, (["退款", "没", "到账"] for _ in range(20)))
    feed(activity, (["饭菜", "不", "新鲜"] for _ in range(20)))
    assert set(top(activity)) == {"退款没到账", "饭菜不新鲜"}


def test_negation_ends_no_phrase() -> None:
    activity = KeyActivity()
    busy_background(activity)
    feed(activity, (["发票", "没"] for _ in range(20)))
    assert top(activity) == ["发票"]


def test_a_negated_word_reads_on_its_own_when_the_negation_is_everywhere() -> None:
    activity = KeyActivity()
    busy_background(activity)
    feed(activity, (["退款", "没", "到账"] for _ in range(20)))
    feed(activity, (["发票", "没", "开"] for _ in range(20)))
    # 没 follows 退款 in only half of its texts: 退款 and 没到账, not 退款没到账.
    assert {"退款", "没到账"} <= set(top(activity))


def test_single_characters_and_modifiers_never_stand_alone() -> None:
    activity = KeyActivity()
    busy_background(activity)
    feed(activity, ([word] for word in ["慢", "没有", "不好", "很", "太差"] for _ in range(20)))
    assert top(activity) == []


def test_one_phrase_tokenized_two_ways_reads_once() -> None:
    activity = KeyActivity()
    busy_background(activity)
    feed(activity, (["瓶盖", "发霉"] for _ in range(30)))
    feed(activity, (["矿泉水瓶", "盖", "发霉"] for _ in range(20)))
    assert top(activity) == ["瓶盖发霉"]  # 发霉 is in the phrases, both of them


def test_ties_are_broken_by_the_term() -> None:
    activity = KeyActivity()
    busy_background(activity)
    feed(activity, ([word] for word in ["乙方", "甲方", "丙方"] for _ in range(10)))
    top_terms = activity.top_terms([KEY], since=T0 - 300)
    assert len({(t.count, t.lift) for t in top_terms}) == 1
    assert [t.term for t in top_terms] == sorted(["乙方", "甲方", "丙方"])


def test_the_order_of_the_events_does_not_matter() -> None:
    texts = [
        *(["外卖", "送", "餐", "慢"] for _ in range(15)),
        *(["退款", "没", "到账"] for _ in range(10)),
        *(["瓶盖", "发霉"] for _ in range(10)),
        *(["甲方"] for _ in range(8)),
        *(["乙方"] for _ in range(8)),
    ]
    results = set()
    for seed in range(5):
        shuffled = list(texts)
        random.Random(seed).shuffle(shuffled)
        activity = KeyActivity()
        busy_background(activity, 300)
        feed(activity, shuffled)
        results.add(activity.top_terms([KEY], since=T0 - 300))
    assert len(results) == 1


def test_the_same_terms_in_every_process() -> None:
    """Sets iterate in another order in each process (string hashing is seeded)."""
    script = (
        "from alerts.explain import KeyActivity, content_terms\n"
        "a = KeyActivity()\n"
        "texts = [['外卖', '送', '餐', '慢']] * 15 + [['甲方']] * 8 + [['乙方']] * 8"
        " + [['快递', '的', '丢件']] * 200 + [['退款', '没', '到账']] * 10\n"
        "for i, tokens in enumerate(texts):\n"
        "    terms = content_terms(tokens)\n"
        "    a.add_event(terms, 1e9)\n"
        "    a.add('k', terms, 1e9) if i < 31 or i >= 231 else None\n"
        "print(a.top_terms(['k'], since=1e9 - 300))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=60,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert "外卖送餐慢" in outputs.pop()


def test_top_terms_are_ranked_and_limited() -> None:
    activity = KeyActivity()
    feed(activity, (["快递"] for _ in range(90)), key=None)
    names = ["甲方", "乙方", "丙方", "丁方", "戊方", "己方", "庚方"]
    for i, word in enumerate(names):
        feed(activity, ([word] for _ in range(2 + 2 * (len(names) - i))))  # 甲方 most
    ranked = activity.top_terms([KEY], since=T0 - 300)
    assert [t.term for t in ranked] == names[:5]
    assert [t.term for t in activity.top_terms([KEY], since=T0 - 300, n=2)] == names[:2]
    scores = [t.count * math.log(t.lift) for t in ranked]
    assert scores == sorted(scores, reverse=True)


def test_top_terms_over_several_keys() -> None:
    activity = KeyActivity()
    feed(activity, (["快递"] for _ in range(90)), key=None)
    for key in (KEY, OTHER):
        feed(activity, (["退款"], ["退款"]), key=key)
    # Two mentions per key, but an incident of both keys has four.
    assert activity.top_terms([KEY], since=T0 - 300) == ()
    (term,) = activity.top_terms([KEY, OTHER], since=T0 - 300)
    assert (term.term, term.count) == ("退款", 4)


def test_top_terms_only_since() -> None:
    activity = KeyActivity()
    feed(activity, (["快递"] for _ in range(90)), key=None)
    feed(activity, (["退款"] for _ in range(5)), at=T0 - 1200)
    assert activity.top_terms([KEY], since=T0 - 300) == ()
    assert [t.term for t in activity.top_terms([KEY], since=T0 - 1500)] == ["退款"]


def test_top_terms_of_unknown_or_quiet_keys() -> None:
    activity = KeyActivity()
    feed(activity, (["快递"] for _ in range(90)), key=None)
    assert activity.top_terms(["channel=nowhere"], since=T0 - 300) == ()
    assert activity.top_terms([], since=T0 - 300) == ()


def test_plain_sets_of_words_still_count() -> None:
    """What the pipeline handed over before: a set of words per text."""
    activity = KeyActivity()
    for i in range(100):
        terms: Collection[str] = {"快递", "退款"} if i < 10 else {"快递"}
        activity.add_event(terms, T0)
        if i < 10:
            activity.add(KEY, terms, T0)
    assert [t.term for t in activity.top_terms([KEY], since=T0 - 300)] == ["退款"]


# --- samples and channels ------------------------------------------------------------


def test_samples_are_merged_per_key() -> None:
    activity = KeyActivity()
    first = activity.add_samples(KEY, [sample("e1", at=T0 - 5), sample("e2", at=T0 - 4)])
    assert [s.event_id for s in first] == ["e2", "e1"]
    merged = activity.add_samples(
        KEY, [sample("p1", priority="P1", at=T0 - 100), sample("e3", at=T0)]
    )
    assert [s.event_id for s in merged] == ["p1", "e3", "e2"]
    assert len(merged) == MAX_SAMPLES
    assert activity.samples(KEY) == merged
    assert activity.samples(OTHER) == ()


def test_channels_per_key() -> None:
    activity = KeyActivity()
    activity.add_samples(
        KEY, [sample("e1", "weibo"), sample("e2", "app"), sample("e3", "weibo"), sample("e4", "")]
    )
    assert activity.channels(KEY) == ("app", "weibo")  # sorted, empty ones left out
    assert activity.channels(OTHER) == ()


def test_channels_are_bounded_to_the_busiest() -> None:
    activity = KeyActivity()
    activity.add_samples(KEY, [sample(f"b{i}", "busy") for i in range(5)])
    activity.add_samples(KEY, [sample(f"e{i}", f"c{i:02d}") for i in range(30)])
    channels = activity.channels(KEY)
    assert len(channels) == 20
    assert "busy" in channels


# --- bounded memory ------------------------------------------------------------------


def test_least_recently_active_keys_are_forgotten() -> None:
    activity = KeyActivity(max_keys=2)
    feed(activity, (["快递"] for _ in range(90)), key=None)
    for key in ("a=1", "b=2"):
        feed(activity, (["退款"] for _ in range(3)), key=key)
        activity.add_samples(key, [sample(f"{key}-s", channel="app")])
    feed(activity, [["退款"]], key="a=1", at=T0 + 60)  # a is now more recent than b
    feed(activity, [["退款"]], key="c=3", at=T0 + 60)  # … so b goes
    assert activity.samples("b=2") == ()
    assert activity.channels("b=2") == ()
    assert activity.top_terms(["b=2"], since=T0 - 300) == ()
    assert activity.samples("a=1") != ()
    assert activity.channels("a=1") == ("app",)
    assert activity.top_terms(["a=1"], since=T0 - 300) != ()


def test_keys_known_only_by_samples_are_bounded_too() -> None:
    activity = KeyActivity(max_keys=3)
    for i in range(50):
        activity.add_samples(f"k={i}", [sample(f"e{i}", channel=f"c{i}")])
    remembered = [i for i in range(50) if activity.samples(f"k={i}")]
    assert remembered == [47, 48, 49]
    assert [i for i in range(50) if activity.channels(f"k={i}")] == [47, 48, 49]


def test_the_kinds_of_tokens_remembered_are_bounded() -> None:
    extractor = TermExtractor(VOCABULARY, max_cached=10)
    for i in range(100):
        extractor.keys([f"订单{i}", "退款"])
        assert extractor.cached_tokens <= 10
    assert extractor.keys(["订单1", "退款"]) == extractor.keys(("订单1", "退款"))


def test_time_buckets_are_bounded() -> None:
    activity = KeyActivity(bucket_seconds=60, span_seconds=600)
    for minute in range(300):
        feed(activity, [["快递"]], at=T0 + minute * 60)
    assert len(activity.background.buckets) <= 11
    # Only the last span counts: 10 buckets of one event each (and the current one).
    assert sum(bucket.events for bucket in activity.background.since(0)) <= 11


def test_busy_buckets_keep_a_bounded_share_of_their_texts() -> None:
    activity = KeyActivity(max_key_texts=20, max_background_texts=50)
    rng = random.Random(4)
    for minute in range(2):
        at = T0 - 120 + minute * 60
        refunds = set(rng.sample(range(1000), 250))
        feed(
            activity,
            (["退款", "的", "快递"] if i in refunds else ["快递"] for i in range(1000)),
            at=at,
        )
        feed(activity, (["快递"] for _ in range(1000)), key=None, at=at)
    for bucket in activity.background.since(0):
        assert bucket.events == 2000
        assert max(bucket.kept, len(bucket.texts)) == 50
    # The window key keeps 20 texts of its 1000 in the minute …
    (term,) = activity.top_terms([KEY], since=T0 - 60)
    assert term.term == "退款"
    assert 100 <= term.count <= 400  # … and estimates the 250 texts with 退款 from them
