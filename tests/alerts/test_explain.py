"""alerts.explain: content words, over-represented terms (lift against the background),
samples and channels per window key — in bounded memory."""

from __future__ import annotations

import math

import pytest

from alerts.explain import MIN_LIFT, MIN_TERM_COUNT, STOPWORDS, KeyActivity, content_terms
from alerts.lifecycle import MAX_SAMPLES, Sample, Term
from vocwatch.vocabulary import Priority, PriorityName

T0 = 1_800_000_000.0
KEY = "channel=app,category=logistics"
OTHER = "channel=web,category=billing"


def sample(
    event_id: str, channel: str = "app", priority: PriorityName = "P2", at: float = T0
) -> Sample:
    return Sample(event_id, f"text {event_id}", Priority(priority), at, True, "complaint", channel)


# --- content terms -------------------------------------------------------------------


def test_content_terms_keep_words_that_explain() -> None:
    tokens = ["快递", "三天", "没有", "到", "的", "快递", "iPhone", "退款"]
    assert content_terms(tokens) == {"快递", "三天", "iPhone", "退款"}


@pytest.mark.parametrize(
    "token",
    [
        "到",
        "a",
        "的",
        "没有",
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
    ],
)
def test_content_terms_drop_noise(token: str) -> None:
    assert content_terms([token]) == set()


def test_stopwords_are_what_they_say() -> None:
    assert {"我们", "什么", "谢谢", "的"} <= STOPWORDS
    assert "快递" not in STOPWORDS


# --- top terms and their lift ---------------------------------------------------------


def busy_background(activity: KeyActivity, at: float = T0) -> None:
    """90 events about delivery on other keys; the background everything is judged by."""
    for _ in range(90):
        activity.add_event({"快递"}, at)


def test_top_terms_lift_against_the_background() -> None:
    activity = KeyActivity()
    busy_background(activity)
    for i in range(10):
        terms = {"快递", "退款"} if i < 8 else {"快递"}
        activity.add_event(terms, T0)  # every event is in the background …
        activity.add(KEY, terms, T0)  # … and in its keys
    (term,) = activity.top_terms([KEY], since=T0 - 300)
    # 退款 in 8 of 10 events here, in 8 of 100 overall: lift (8/10) / ((8+1)/(100+1)).
    assert term == Term("退款", 8, round((8 / 10) / (9 / 101), 2))
    assert term.lift == 8.98
    # 快递 is in all ten, but it is in nearly everything: lift (10/10) / (101/101) = 1.


def test_top_terms_need_a_minimum_count() -> None:
    activity = KeyActivity()
    busy_background(activity)
    for terms in ({"退款", "丢件"}, {"退款"}):
        activity.add_event(terms, T0)
        activity.add(KEY, terms, T0)
    assert MIN_TERM_COUNT == 2
    # 丢件 has a huge lift, but one mention explains nothing.
    assert [t.term for t in activity.top_terms([KEY], since=T0 - 300)] == ["退款"]


def test_top_terms_need_a_minimum_lift() -> None:
    activity = KeyActivity()
    for i in range(100):
        terms = {"快递"} if i % 2 else {"客服"}
        activity.add_event(terms, T0)
        activity.add(KEY, terms, T0)
    # The key looks just like the background: nothing stands out.
    assert activity.top_terms([KEY], since=T0 - 300) == ()
    assert MIN_LIFT > 1


def test_top_terms_are_ranked_and_limited() -> None:
    activity = KeyActivity()
    busy_background(activity)
    words = ["甲方", "乙方", "丙方", "丁方", "戊方", "己方", "庚方"]
    for i, word in enumerate(words):
        for _ in range(2 + 2 * (len(words) - i)):  # 甲方 most, 庚方 least
            activity.add_event({word}, T0)
            activity.add(KEY, {word}, T0)
    top = activity.top_terms([KEY], since=T0 - 300)
    assert [t.term for t in top] == words[:5]
    assert [t.term for t in activity.top_terms([KEY], since=T0 - 300, n=2)] == words[:2]
    scores = [t.count * math.log(t.lift) for t in top]
    assert scores == sorted(scores, reverse=True)


def test_top_terms_over_several_keys() -> None:
    activity = KeyActivity()
    busy_background(activity)
    for key in (KEY, OTHER):
        activity.add_event({"退款"}, T0)
        activity.add(key, {"退款"}, T0)
    # One mention per key, but an incident of both keys has two.
    assert activity.top_terms([KEY], since=T0 - 300) == ()
    (term,) = activity.top_terms([KEY, OTHER], since=T0 - 300)
    assert (term.term, term.count) == ("退款", 2)


def test_top_terms_only_since() -> None:
    activity = KeyActivity()
    busy_background(activity)
    for _ in range(5):
        activity.add_event({"退款"}, T0 - 1200)
        activity.add(KEY, {"退款"}, T0 - 1200)
    assert activity.top_terms([KEY], since=T0 - 300) == ()
    assert [t.term for t in activity.top_terms([KEY], since=T0 - 1500)] == ["退款"]


def test_top_terms_of_unknown_or_quiet_keys() -> None:
    activity = KeyActivity()
    busy_background(activity)
    assert activity.top_terms(["channel=nowhere"], since=T0 - 300) == ()
    assert activity.top_terms([], since=T0 - 300) == ()


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
    busy_background(activity)
    for key in ("a=1", "b=2"):
        for _ in range(3):
            activity.add(key, {"退款"}, T0)
        activity.add_samples(key, [sample(f"{key}-s", channel="app")])
    activity.add("a=1", {"退款"}, T0)  # a is now more recent than b
    activity.add("c=3", {"退款"}, T0)  # … so b goes
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


def test_time_buckets_are_bounded() -> None:
    activity = KeyActivity(bucket_seconds=60, span_seconds=600)
    for minute in range(300):
        activity.add_event({"快递"}, T0 + minute * 60)
        activity.add(KEY, {"快递"}, T0 + minute * 60)
    assert len(activity.background.buckets) <= 11
    # Only the last span counts: 10 buckets of one event each (and the current one).
    counts, events = activity.background.totals(0)
    assert events <= 11
    assert counts["快递"] == events
