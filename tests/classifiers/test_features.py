"""classifiers.features: the features of a batch of texts as one sparse matrix."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from classifiers.analyze import featurizer_for_training
from classifiers.features import (
    DEFAULT_FAMILIES,
    FAMILIES,
    NEGATION_SCOPE,
    FeatureBatch,
    FeatureConfig,
    Featurizer,
    TermTable,
    read_emoticons,
    stable_hash,
)
from classifiers.lexicon import Lexicon
from classifiers.normalize import normalize
from classifiers.pii import mask_pii
from classifiers.tokenize import cut, cut_all

ROOT = Path(__file__).resolve().parents[2]
Row = tuple[list[tuple[int, float]], list[float]]


def prepared(texts: Sequence[str]) -> list[str]:
    """As the analysis gives texts to the featurizer: normalized and masked."""
    return [mask_pii(normalize(text)).text for text in texts]


def transform(featurizer: Featurizer, texts: Sequence[str]) -> FeatureBatch:
    return featurizer.transform(texts, cut_all(texts))


def row(batch: FeatureBatch, i: int) -> Row:
    """Row ``i``: its hashed (column, value) pairs, sorted, and its dense values."""
    start, end = batch.indptr[i], batch.indptr[i + 1]
    pairs = sorted(
        zip(batch.indices[start:end].tolist(), batch.values[start:end].tolist(), strict=True)
    )
    return pairs, batch.dense[i].tolist()


def columns(batch: FeatureBatch, i: int = 0) -> Counter[int]:
    """The hashed columns of row ``i``, each as often as it occurs."""
    return Counter(batch.indices[batch.indptr[i] : batch.indptr[i + 1]].tolist())


def only(*families: str, **tables: object) -> Featurizer:
    return Featurizer(FeatureConfig(bits=16, families=families), **tables)  # type: ignore[arg-type]


FULL = featurizer_for_training(FeatureConfig(families=FAMILIES), teacher=True)
TEXTS = prepared(
    [
        "快递三天没到，客服也不理人！！",
        "",
        "不太满意[怒][怒]",
        "好好好",
        "请问积分有有效期吗？",
        "电话13812345678，邮箱zs@example.com",
        "没有想象中好，不推荐",
        "😡😡😡👍🏻",
        "[哈哈][爱你]太好了",
        "APP一打开就闪退 https://x.cn/a",
        "   ",
        "好",
    ]
)


# --- a text's features are its own ---------------------------------------------------------


def test_a_text_has_the_same_row_alone_and_in_any_batch() -> None:
    batch = transform(FULL, TEXTS)
    assert batch.rows == len(TEXTS)
    alone = [row(transform(FULL, [text]), 0) for text in TEXTS]
    assert [row(batch, i) for i in range(batch.rows)] == alone
    order = list(range(len(TEXTS)))
    for seed in range(3):
        random.Random(seed).shuffle(order)
        shuffled = transform(FULL, [TEXTS[i] for i in order])
        assert [row(shuffled, k) for k in range(len(order))] == [alone[i] for i in order]


def test_a_text_repeated_in_a_batch_gets_the_same_row_each_time() -> None:
    batch = transform(FULL, [TEXTS[0], TEXTS[2], TEXTS[0], TEXTS[0]])
    assert row(batch, 0) == row(batch, 2) == row(batch, 3)
    assert row(batch, 0) != row(batch, 1)


# --- hashes --------------------------------------------------------------------------------

_HASH_SCRIPT = """
import json, sys
from classifiers.features import FeatureConfig, Featurizer, stable_hash
from classifiers.tokenize import cut_all
words, texts = json.loads(sys.argv[1])
batch = Featurizer(FeatureConfig()).transform(texts, cut_all(texts))
print(json.dumps({
    "hashes": [stable_hash(w) for w in words],
    "indices": batch.indices.tolist(),
    "builtin": hash(words[0]),
}))
"""


def _in_a_process(seed: str, words: list[str], texts: list[str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _HASH_SCRIPT, json.dumps([words, texts])],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": seed},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_hashes_and_columns_are_the_same_in_every_process() -> None:
    words = ["快递", "退款", "[哈哈]", "a", "不太满意😡"]
    texts = ["快递三天没到", "不太满意[怒]"]
    here = {
        "hashes": [stable_hash(w) for w in words],
        "indices": Featurizer(FeatureConfig()).transform(texts, cut_all(texts)).indices.tolist(),
    }
    one, other = _in_a_process("1", words, texts), _in_a_process("4242", words, texts)
    assert one["builtin"] != other["builtin"]  # the seeds change Python's own str hash …
    for result in (one, other):  # … but not ours
        assert {k: result[k] for k in here} == here


def test_stable_hash_is_the_hash_a_piece_has_in_a_batch() -> None:
    # A table of words looks words up by stable_hash: the lexicon's value of 快递 arrives.
    table = TermTable.build(["logistics"], {"快递": [3.0]})
    batch = only("w", lexicon=table).transform(["买的快递"], [["买", "的", "快递"]])
    assert batch.dense[0, 0] == pytest.approx(1 - math.exp(-1.0))
    assert len({stable_hash(w) for w in ("快递", "快", "递", "快递员", "递快")}) == 5


# --- families ------------------------------------------------------------------------------


def test_default_families_leave_out_character_triples() -> None:
    assert FeatureConfig().families == DEFAULT_FAMILIES
    assert set(DEFAULT_FAMILIES) == set(FAMILIES) - {"c3"}


@pytest.mark.parametrize(
    ("family", "count"),
    [
        ("w", 5),  # 不好用 ! ! 哈哈 我: brackets are neutral punctuation
        ("b", 4),  # pairs of adjacent words
        ("n", 0),  # 不好用 is one word: no negator of its own
        ("c", 10),  # every character
        ("c2", 9),
        ("c3", 8),
        ("e", 1),  # [哈哈]
    ],
)
def test_each_family_alone(family: str, count: int) -> None:
    text = "不好用!![哈哈]我"
    assert cut(text) == ["不好用", "!", "!", "[", "哈哈", "]", "我"]
    assert sum(columns(transform(only(family), [text])).values()) == count


def test_families_add_up_and_every_feature_weighs_one_over_the_root_of_their_number() -> None:
    text = ["没有想象中好[哈哈]"]
    parts = [columns(transform(only(family), text)) for family in FAMILIES]
    everything = transform(only(*FAMILIES), text)
    assert columns(everything) == sum(parts, Counter())
    entries = sum(columns(everything).values())
    assert entries > 10
    assert np.allclose(everything.values, 1 / math.sqrt(entries))


def test_families_hash_to_different_columns() -> None:
    # The same characters as a word, a character and a code are three different features.
    word = columns(only("w").transform(["好"], [["好"]]))
    char = columns(only("c").transform(["好"], [["好"]]))
    negated = columns(only("n").transform(["不好"], [["不", "好"]]))
    assert len(word) == len(char) == len(negated) == 1
    assert len(word | char | negated) == 3


@pytest.mark.parametrize(
    "config",
    [{"bits": 9}, {"bits": 25}, {"families": ("w", "trigram")}],
)
def test_an_impossible_feature_config_is_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="feature config"):
        FeatureConfig(**config)  # type: ignore[arg-type]


def test_feature_config_round_trips_through_json() -> None:
    config = FeatureConfig(bits=12, families=("w", "c3"))
    assert FeatureConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    with pytest.raises(ValueError, match="not a feature config"):
        FeatureConfig.from_json({"bits": "12", "families": ["w"], "format": 1})


# --- negation ------------------------------------------------------------------------------

NEGATION = only("n")


def negated(pieces: list[str]) -> Counter[int]:
    return columns(NEGATION.transform(["".join(pieces)], [pieces]))


def negated_words(*words: str) -> Counter[int]:
    """The columns of "word in a negation's scope", one for each of ``words``."""
    return sum((negated(["不", word]) for word in words), Counter())


@pytest.mark.parametrize(
    ("pieces", "scope"),
    [
        (["不", "好"], ["好"]),
        (["不太", "满意"], ["满意"]),
        (["没有", "想象", "中", "好"], ["想象", "中", "好"]),
        (["没有", "a", "b", "c", "好"], ["a", "b", "c"]),  # three words at most
        (["不", "贵", ",", "好"], ["贵"]),  # the clause ends at the comma
        (["不", "贵", "。", "好"], ["贵"]),
        (["不", "贵", "!", "好"], ["贵"]),
        (["不", "贵", "？", "好"], ["贵"]),
        (["不", "贵", "；", "好"], ["贵"]),
        (["好", "不"], []),  # the text ends
        (["很", "好"], []),
        (["不", "不", "好"], ["不", "好"]),
    ],
)
def test_negation_scope(pieces: list[str], scope: list[str]) -> None:
    assert NEGATION_SCOPE == 3
    assert negated(pieces) == negated_words(*scope)


def test_a_negation_stops_at_the_end_of_its_text_in_a_batch() -> None:
    batch = NEGATION.transform(["好不", "好好", "不好"], [["好", "不"], ["好", "好"], ["不", "好"]])
    assert [sum(columns(batch, i).values()) for i in range(3)] == [0, 0, 1]


def test_white_space_counts_towards_the_scope_but_is_no_feature() -> None:
    assert negated(["不", " ", "好"]) == negated_words("好")
    assert negated(["不", " ", " ", " ", "好"]) == Counter()


# --- bracketed codes and emoticons ---------------------------------------------------------

EMOTICONS = {"[好]": 1, "[坏]": -1, "[吃惊]": 0}


def emoticon_columns(text: str) -> list[float]:
    batch = transform(only("e", emoticons=EMOTICONS), [text])
    values: list[float] = batch.dense[0].tolist()
    return values


@pytest.mark.parametrize(
    ("text", "positive", "negative"),
    [
        ("好评[好]", 1, 0),
        ("[好][好][坏][吃惊][未知]", 2, 1),
        ("[坏]" * 5, 0, 3),  # at most three count
        ("没有表情", 0, 0),
        ("[ 好]", 0, 0),  # white space: not a code
    ],
)
def test_emoticon_columns_count_positive_and_negative_codes(
    text: str, positive: int, negative: int
) -> None:
    assert emoticon_columns(text) == pytest.approx([positive / 3, negative / 3])


def test_every_bracketed_code_is_a_feature_of_its_own() -> None:
    featurizer = only("e")
    assert featurizer.dense_columns == ("emoticons:positive", "emoticons:negative")
    batch = transform(featurizer, ["[哈哈]好[PHONE]", "[PHONE]", "[哈哈", "[abcdefghijk]", "[]"])
    assert [sum(columns(batch, i).values()) for i in range(5)] == [2, 1, 0, 0, 0]
    assert columns(batch, 1) <= columns(batch, 0)  # [PHONE] is one column wherever it is


def test_emoticon_table_lines() -> None:
    lines = [
        "token\tpolarity\tnote\n",
        "[哈哈]\t1\tlaughing\n",
        "[怒]\t-1\tangry\n",
        "[吃惊]\t0\n",
        "哈哈\t1\tnot a code\n",
        "[短]\n",
    ]
    assert read_emoticons(lines) == {"[哈哈]": 1, "[怒]": -1, "[吃惊]": 0}


# --- dense columns from tables of words ----------------------------------------------------

LEXICON = Lexicon.parse("[logistics]\n快递:3 慢:1\n[price]\n贵:3 快递:1\n")


def test_lexicon_columns_are_the_groups_weights_summed_and_squashed() -> None:
    featurizer = only("w", lexicon=TermTable.from_lexicon(LEXICON))
    assert featurizer.dense_columns[:2] == ("lexicon:logistics", "lexicon:price")
    batch = featurizer.transform(
        ["快递太慢", "快递快递", "好"], [["快递", "太", "慢"], ["快递", "快递"], ["好"]]
    )
    squash = [
        [1 - math.exp(-4 / 3), 1 - math.exp(-1 / 3)],
        [1 - math.exp(-2), 1 - math.exp(-2 / 3)],
    ]
    assert batch.dense[:2, :2].tolist() == [pytest.approx(r) for r in squash]
    assert batch.dense[2].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_teacher_columns_add_the_largest_value_among_the_words() -> None:
    teacher = TermTable.build(["service"], {"客服": [0.9], "态度": [0.3]})
    featurizer = only("w", teacher=teacher)
    assert featurizer.dense_columns == (
        "teacher:service",
        "teacher_max:service",
        "emoticons:positive",
        "emoticons:negative",
    )
    batch = featurizer.transform(["客服态度"], [["客服", "态度"]])
    assert batch.dense[0, :2].tolist() == pytest.approx([1 - math.exp(-1.2 / 3), 0.9])


def test_term_table_lookups() -> None:
    table = TermTable.build(["a", "b"], {"快递": [1.0, 0.0], "退款": [0.0, 2.0]})
    hashes = np.array([stable_hash(w) for w in ("退款", "不在", "快递", "退款")], dtype=np.uint64)
    found, values = table.lookup(hashes)
    assert found.tolist() == [True, False, True, True]
    assert values.tolist() == [[0.0, 2.0], [1.0, 0.0], [0.0, 2.0]]
    none_found, none = table.lookup(np.zeros(0, dtype=np.uint64))
    assert none_found.shape == (0,) and none.shape == (0, 2)
    empty = TermTable.build(["a"], {})
    assert empty.lookup(hashes)[0].tolist() == [False] * 4


def test_a_term_table_from_the_lexicon_has_a_row_per_term_and_a_column_per_group() -> None:
    table = TermTable.from_lexicon(LEXICON)
    assert table.columns == ("logistics", "price")
    words = np.array([stable_hash(w) for w in ("快递", "慢", "贵")], dtype=np.uint64)
    assert table.lookup(words)[1].tolist() == [[3.0, 1.0], [1.0, 0.0], [0.0, 3.0]]


# --- empty texts and the product -------------------------------------------------------------


def test_empty_texts_have_no_hashed_features_and_zero_dense_ones() -> None:
    batch = transform(FULL, ["", "好", ""])
    assert batch.rows == 3
    assert [sum(columns(batch, i).values()) for i in range(3)][::2] == [0, 0]
    assert not batch.dense[[0, 2]].any()
    none = FULL.transform([], [])
    assert none.rows == 0
    assert none.dense.shape == (0, len(FULL.dense_columns))


def test_dot_is_the_sparse_product() -> None:
    import scipy.sparse as sparse

    batch = transform(FULL, TEXTS)
    generator = np.random.default_rng(7)
    weights = generator.normal(size=(batch.columns, 3)).astype(np.float32)
    dense_weights = generator.normal(size=(len(FULL.dense_columns), 3)).astype(np.float32)
    matrix = sparse.csr_matrix(
        (batch.values, batch.indices, batch.indptr), shape=(batch.rows, batch.columns)
    )
    expected = matrix @ weights + batch.dense @ dense_weights
    assert np.allclose(batch.dot(weights, dense_weights), expected, rtol=1e-5, atol=1e-5)
    empty = FULL.transform([], [])
    assert empty.dot(weights, dense_weights).shape == (0, 3)
