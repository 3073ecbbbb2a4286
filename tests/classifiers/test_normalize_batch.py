"""normalize_batch is normalize, text by text, whatever the batch holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from classifiers.normalize import MAX_CHARS, normalize, normalize_batch

MARKS = st.sampled_from([*"!?！？。，😡❤\ufe0f \t\n\u200b\ue000", "http://x.cn/a", "www.y.com"])
TEXTS = st.lists(
    st.one_of(st.text(max_size=40), st.lists(MARKS, max_size=12).map("".join)),
    max_size=12,
)


@given(TEXTS)
def test_a_batch_gives_what_each_text_gives_alone(texts: list[str]) -> None:
    assert normalize_batch(texts) == [normalize(t) for t in texts]


def test_texts_that_vanish_or_hold_the_separator_do_not_shift_the_others() -> None:
    texts = ["\u200b", "\u200b", "\u200b", "\u200b", "好!!!!!", "a\ue000b", "", "  ", "ＡＰＰ"]
    assert normalize_batch(texts) == [normalize(t) for t in texts]


def test_long_texts_keep_their_length_bound() -> None:
    long = "快递" * MAX_CHARS
    assert normalize_batch([long, "好"]) == [normalize(long), "好"]
