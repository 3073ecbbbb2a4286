"""alerts.emerging_features: a text's topic features (content words and their characters),
their IDF weights with the prior, and the MinHash signature of near-duplicates."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.emerging_features import (
    INNER_WEIGHT,
    MAX_TOKENS,
    NEAR_DUPLICATE_AGREEMENT,
    DocumentFrequency,
    TokenFeatures,
    TopicVectorizer,
    agreement,
)
from alerts.emerging_prior import EmergingPrior
from alerts.explain import VOCABULARY
from classifiers.normalize import normalize
from classifiers.pii import mask_pii
from classifiers.tokenize import tokenize

T0 = 1_800_000_000.0
ROOT = Path(__file__).resolve().parents[2]


def tokens(text: str) -> list[str]:
    return tokenize(mask_pii(normalize(text)).text)


def features(text: str) -> set[str]:
    return set(TokenFeatures(VOCABULARY).of(tokens(text)))


def test_content_words_and_their_characters_are_the_features() -> None:
    found = features("您好，买的水瓶盖里面发霉了，联系电话13812345678，谢谢")
    assert {"瓶盖", "发霉", "瓶", "盖", "霉"} <= found
    # greetings, politeness, function words, masked numbers and placeholders are not
    assert not found & {"您好", "谢谢", "了", "联系电话", "PHONE", "[PHONE]", "13812345678"}


def test_the_known_words_inside_a_compound_are_features() -> None:
    known = TokenFeatures(VOCABULARY, word={"信号", "手机"}.__contains__)
    assert {"没信号", "信号"} <= set(known.of(["没信号"]))
    assert {"手机信号", "手机", "信号"} <= set(known.of(["手机信号"]))
    assert "信号" not in TokenFeatures(VOCABULARY).of(["没信号"])  # no word list: none


def test_an_inner_word_weighs_less_unless_it_also_stands_alone() -> None:
    known = TokenFeatures(VOCABULARY, word={"信号"}.__contains__)
    assert known.weighed(["没信号"])["信号"] == INNER_WEIGHT < 1.0
    assert known.weighed(["没信号"])["没信号"] == 1.0
    assert known.weighed(["没信号", "信号"])["信号"] == 1.0
    assert known.weighed(["信号", "没信号"])["信号"] == 1.0


def test_inner_words_pull_two_wordings_of_one_problem_together_but_less() -> None:
    prior = EmergingPrior.load()
    with_inner = TopicVectorizer(prior)
    one, other = (with_inner.vector([t], 0.0) for t in ("没信号", "手机信号"))
    assert one is not None and other is not None
    shared = sum(w * other.weights.get(f, 0.0) for f, w in one.weights.items())
    assert 0.0 < shared < 0.5


def test_only_the_first_tokens_of_a_long_text_count() -> None:
    many = ["词语"] * MAX_TOKENS + ["霉斑"]
    assert "霉斑" not in TokenFeatures(VOCABULARY).of(many)
    assert "霉斑" in TokenFeatures(VOCABULARY).of(many[1:])


def test_the_token_cache_is_bounded() -> None:
    cache = TokenFeatures(VOCABULARY, max_cached=10)
    for n in range(50):
        cache.of([f"词{n}号"])
    assert len(cache) <= 10


def test_a_rare_feature_weighs_more_than_a_common_one() -> None:
    frequencies = DocumentFrequency(EmergingPrior.empty())
    for n in range(100):
        frequencies.add(["质量"] if n % 10 else ["质量", "霉斑"], T0 + 10 * n)
    assert frequencies.idf("霉斑") > frequencies.idf("质量") > 0


def test_the_prior_weighs_before_the_traffic_has_told_anything() -> None:
    prior = EmergingPrior(1000, 100, {"快递": 400, "霉斑": 1})
    frequencies = DocumentFrequency(prior)
    assert frequencies.idf("霉斑") > frequencies.idf("快递") + 3
    # …and the traffic takes over: 快递 never seen, 霉斑 in every text
    for n in range(2000):
        frequencies.add(["霉斑"], T0 + n)
    assert frequencies.idf("快递") > frequencies.idf("霉斑")


def test_a_burst_does_not_make_its_words_common_while_it_grows() -> None:
    frequencies = DocumentFrequency(EmergingPrior(1000, 100, {}))
    for n in range(2000):
        frequencies.add(["快递"], T0 + n / 10)
    before = frequencies.idf("霉斑")
    for n in range(50):  # fewer than SETTLE_SHARE of the texts seen
        frequencies.add(["霉斑"], T0 + 200 + n)
    assert frequencies.idf("霉斑") == before
    for n in range(100):
        frequencies.add(["快递"], T0 + 250 + n)
    assert frequencies.idf("霉斑") < before


def test_document_frequencies_forget_old_texts() -> None:
    frequencies = DocumentFrequency(EmergingPrior.empty(), half_life_seconds=600, step_seconds=60)
    frequencies.add(["霉斑"], T0)
    assert frequencies.count("霉斑") == 1
    frequencies.add(["快递"], T0 + 600)
    assert math.isclose(frequencies.count("霉斑"), 0.5 ** (600 / 600), rel_tol=1e-6)
    frequencies.add(["快递"], T0 + 9000)
    assert frequencies.count("霉斑") < 0.001 < frequencies.count("快递")


def test_a_batch_gives_each_text_its_own_vector() -> None:
    texts = [tokens("矿泉水瓶盖里面发霉了"), tokens("您好"), tokens("充电宝鼓包了，很烫")]
    batch = TopicVectorizer(EmergingPrior.load()).vectors([(t, T0) for t in texts])
    for text, vector in zip(texts, batch, strict=True):
        alone = TopicVectorizer(EmergingPrior.load()).vector(text, T0)
        if alone is None:
            assert vector is None
        else:  # the same weights: the current step's texts do not weigh on each other
            assert vector is not None and vector.signature == alone.signature
            assert vector.weights == pytest.approx(alone.weights)


def test_a_vector_has_unit_length_and_none_without_content_words() -> None:
    vectorizer = TopicVectorizer(EmergingPrior.load())
    vector = vectorizer.vector(tokens("矿泉水瓶盖里面发霉了"), T0)
    assert vector is not None
    assert math.isclose(math.fsum(w * w for w in vector.weights.values()), 1.0)
    assert vectorizer.vector(tokens("您好，谢谢！！"), T0) is None


def test_near_duplicates_agree_and_different_texts_do_not() -> None:
    vectorizer = TopicVectorizer(EmergingPrior.load())
    text = "今天买的一箱矿泉水，拧开瓶盖发现里面有黑色的霉点，生产日期是上个月的，这还敢喝吗"
    first = vectorizer.vector(tokens(text), T0)
    copy = vectorizer.vector(tokens(text + "，电话13912345678 😡"), T0)
    other = vectorizer.vector(tokens("充电宝充电的时候烫得拿不住，第二天发现整个鼓起来了"), T0)
    assert first and copy and other
    assert agreement(first.signature, copy.signature) >= NEAR_DUPLICATE_AGREEMENT
    assert agreement(first.signature, other.signature) < NEAR_DUPLICATE_AGREEMENT


SIGNATURE = """
from alerts.emerging_features import TopicVectorizer
from alerts.emerging_prior import EmergingPrior
print(TopicVectorizer(EmergingPrior.empty()).vector(["瓶盖", "发霉", "矿泉水"], 0.0).signature)
"""


def test_the_same_text_gives_the_same_signature_in_every_process() -> None:
    """CRC-32, not Python's salted string hash: runs can be compared."""
    printed = {
        subprocess.run(
            [sys.executable, "-c", SIGNATURE],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(printed) == 1
    assert printed.pop().startswith("(")
