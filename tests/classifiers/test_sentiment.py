"""classifiers.sentiment: features, the linear model and its file, the shipped model,
and the stock snownlp scorer kept for comparison."""

from __future__ import annotations

import functools
import gzip
import json
import math
from pathlib import Path

import pytest

from classifiers.normalize import normalize
from classifiers.pii import mask_pii
from classifiers.sentiment import (
    LinearSentimentModel,
    SnowNLPScorer,
    load_scorer,
    sentiment_features,
)
from classifiers.tokenize import tokenize
from vocwatch.errors import ConfigError


def prepared(text: str) -> tuple[list[str], str]:
    clean = mask_pii(normalize(text)).text
    return tokenize(clean), clean


# --- features ---------------------------------------------------------------------------
def test_words_bigrams_and_characters() -> None:
    features = sentiment_features(["质量", "很", "好"], "质量很好")
    assert {"w:质量", "w:很", "w:好", "b:质量_很", "b:很_好"} <= features
    assert {"c:质量", "c:很好", "t:质量很", "t:量很好"} <= features
    assert not any(f.startswith("c:") for f in sentiment_features(["好"], "好", chars=False))


@pytest.mark.parametrize(
    ("tokens", "negated"),
    [
        (["不", "好"], {"n:好"}),
        (["不太", "满意"], {"n:满意"}),
        (["没有", "想象", "中", "好"], {"n:想象", "n:中", "n:好"}),
        (["不", "贵", ",", "好"], {"n:贵"}),  # the clause ends the scope
        (["没有", "a", "b", "c", "好"], {"n:a", "n:b", "n:c"}),  # at most three words
    ],
)
def test_negation_scope(tokens: list[str], negated: set[str]) -> None:
    features = sentiment_features(tokens, "".join(tokens), chars=False)
    assert {f for f in features if f.startswith("n:")} == negated


# --- the linear model ---------------------------------------------------------------------
TOY = LinearSentimentModel(
    {"w:好": 2.0, "w:差": -3.0}, bias=0.5, scale=2.0, offset=-0.25, chars=False
)


def test_raw_score_is_bias_plus_weights_over_root_of_feature_count() -> None:
    # features: w:好, w:差, b:好_差 → n = 3, the bigram has no weight but counts in n
    assert TOY.raw(["好", "差"], "") == pytest.approx(0.5 + (2.0 - 3.0) / math.sqrt(3))


def test_probability_is_the_calibrated_sigmoid() -> None:
    z = 2.0 * TOY.raw(["好"], "") - 0.25
    assert TOY.score(["好"], "") == pytest.approx(1 / (1 + math.exp(-z)))
    assert TOY.score(["差"], "") < 0.5 < TOY.score(["好"], "")
    assert TOY.score([], "") == pytest.approx(1 / (1 + math.exp(-(2.0 * 0.5 - 0.25))))


def test_model_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.json.gz"
    TOY.save(path)
    loaded = LinearSentimentModel.load(path)
    assert loaded == TOY
    assert loaded.score(["好", "差"], "") == TOY.score(["好", "差"], "")


@pytest.mark.parametrize(
    "content",
    [b"not gzip", gzip.compress(b"{}"), gzip.compress(json.dumps({"format": 99}).encode())],
)
def test_a_broken_model_file_is_a_config_error_naming_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.json.gz"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"broken\.json\.gz") as error:
        LinearSentimentModel.load(path)
    assert "train-sentiment" in str(error.value)


def test_scorer_by_name() -> None:
    assert load_scorer("vocwatch-linear").name == "vocwatch-linear"
    with pytest.raises(ConfigError, match="unknown sentiment model"):
        load_scorer("bert")


# --- the shipped model --------------------------------------------------------------------
@functools.cache
def shipped() -> LinearSentimentModel:
    return LinearSentimentModel.load()


def score(text: str) -> float:
    return shipped().score(*prepared(text))


@pytest.mark.parametrize(
    "text",
    [
        "质量不好",
        "不太满意",
        "没有想象中好",
        "一点都不好用",
        "不推荐购买",
        "再也不会买了",
        "快递三天没到，客服也不理人",
        "APP一打开就闪退，更新了也没用",
        "太差了，退货！",
        "申请退款一周了还没到账",
        "东西收到就是坏的，很失望",
    ],
)
def test_negative_texts_and_negations_score_below_half(text: str) -> None:
    assert score(text) < 0.5


@pytest.mark.parametrize(
    "text",
    [
        "质量很好",
        "非常满意",
        "不错，推荐购买",
        "物流很快，包装完好，好评",
        "客服态度很好，问题很快解决了",
        "没有任何问题，很好用",
        "不贵，性价比很高",
    ],
)
def test_positive_texts_score_above_half(text: str) -> None:
    assert score(text) > 0.5


def test_intensity_moves_the_score() -> None:
    assert score("非常非常差!!!") < score("有点差")
    assert score("非常好!!!") > score("还行吧")


def test_the_shipped_model_was_validated_on_held_out_categories() -> None:
    validation = shipped().meta["validation"]
    assert len(validation["held_out"]) == 10
    assert validation["mean_accuracy"] >= 0.87
    assert all(
        0.0 <= s["positive_share"] <= 1.0
        for s in validation["calibration"].values()
        if s["positive_share"] is not None
    )


def test_probabilities_are_in_range_for_odd_texts() -> None:
    for text in ("", "???", "😡😡😡", "a" * 5000, "12315", "[PHONE]"):
        assert 0.0 <= score(text) <= 1.0


# --- stock snownlp, for comparison ----------------------------------------------------------
def test_stock_snownlp_is_selectable_and_scores_raw_text() -> None:
    stock = load_scorer("snownlp")
    assert isinstance(stock, SnowNLPScorer) and stock.name == "snownlp"
    assert stock.score([], "") == 0.5
    assert stock.score([], "太差了，非常失望") < 0.5 < stock.score([], "非常好，很满意")
