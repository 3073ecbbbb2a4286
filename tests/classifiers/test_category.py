"""classifiers.category and classifiers.category_features: lexicon, model file, decisions."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.category import (
    CATEGORIES,
    CATEGORY_NAMES_ZH,
    MODEL_FILE,
    CategoryClassifier,
    CategoryModel,
    CategoryScore,
)
from classifiers.category_features import (
    LEXICON_FILE,
    FeatureSettings,
    Lexicon,
    extract,
    ngram_features,
)
from classifiers.train.category_data import LABELLED_CSV, load_labelled, text_tokens
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Category

CLASSIFIER = CategoryClassifier.default()


def codes(scores: tuple[CategoryScore, ...]) -> list[str]:
    return [s.code for s in scores]


def classify_text(text: str) -> tuple[CategoryScore, ...]:
    return CLASSIFIER.classify(text_tokens(text))


# --- the shipped model ------------------------------------------------------------------


def test_taxonomy_is_consistent() -> None:
    assert set(CATEGORY_NAMES_ZH) == set(CATEGORIES)
    assert CLASSIFIER.model.categories == CATEGORIES


def test_shipped_model_loads_and_is_small() -> None:
    model = CategoryModel.load(MODEL_FILE)
    assert MODEL_FILE.stat().st_size < 2_000_000
    assert len(model.weights) > 1000
    assert model.info["rows"] == len(load_labelled(LABELLED_CSV))


def test_shipped_model_carries_the_current_lexicon() -> None:
    # Editing category_lexicon.txt without `vocwatch train-categories` fails here.
    assert CLASSIFIER.model.lexicon == Lexicon.load(LEXICON_FILE)


def test_shipped_model_was_trained_on_the_current_labelled_set() -> None:
    import hashlib

    digest = hashlib.sha256(LABELLED_CSV.read_bytes()).hexdigest()
    assert CLASSIFIER.model.info["data_sha256"] == digest, "retrain: vocwatch train-categories"


def test_runtime_needs_neither_numpy_nor_sklearn() -> None:
    code = (
        "import sys\n"
        "from classifiers.category import CategoryClassifier\n"
        "print(CategoryClassifier.default().classify(['快递', '太慢'])[0].code)\n"
        "assert 'numpy' not in sys.modules and 'sklearn' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "logistics"


# --- what the shipped classifier says ---------------------------------------------------

# Paraphrases written for this test, none of them in data/categories/labelled.csv.
PARAPHRASES = [
    ("新买的电饭锅内胆掉漆，煮出来的饭有股怪味", "product_quality"),
    ("这批面包吃着发酸，应该是坏了", "product_quality"),
    ("包裹在中转站躺了五天都没动", "logistics"),
    ("下单一周了还不发货，到底有没有货", "logistics"),
    ("打了十几遍热线都占线，好不容易接通又被挂了", "service"),
    ("营业员爱搭不理，问三句回一句", "service"),
    ("同一件外套隔壁店便宜一百块，这定价太离谱", "price"),
    ("结账时莫名多出一笔服务费", "price"),
    ("冰箱坏了报修一周还没人上门维修", "after_sales"),
    ("退货寄回去半个月，钱还没退给我", "after_sales"),
    ("手机银行转账时一直提示网络异常，刷新也没用", "technical"),
    ("新版本一点开就闪退，登录页面也进不去", "technical"),
    ("请问你们公司在哪个区？", "other"),
    ("祝大家节日快乐", "other"),
]


def test_paraphrases_are_not_training_rows() -> None:
    training = {row.text for row in load_labelled(LABELLED_CSV)}
    assert not training & {text for text, _ in PARAPHRASES}


def test_every_category_is_predicted_by_some_paraphrase() -> None:
    assert {top for _, top in PARAPHRASES} == set(CATEGORIES)


@pytest.mark.parametrize(("text", "top"), PARAPHRASES)
def test_paraphrases_land_in_their_category(text: str, top: str) -> None:
    assert classify_text(text)[0].code == top


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("快递员态度很凶，还把我的箱子摔坏了", {"logistics", "service"}),
        ("酒店房间有霉味，前台态度也冷冰冰的", {"product_quality", "service"}),
    ],
)
def test_two_complaints_give_two_categories(text: str, expected: set[str]) -> None:
    assert set(codes(classify_text(text))) == expected


@pytest.mark.parametrize("tokens", [[], ["!", "?"], ["今天", "天气", "不错"], ["你好"]])
def test_unrelated_text_is_other_alone(tokens: list[str]) -> None:
    assert codes(CLASSIFIER.classify(tokens)) == ["other"]


@pytest.mark.parametrize(
    "text",
    [
        "快递三天没到，客服也不理人，申请退款也没人处理，APP还老闪退，东西也是坏的，太贵了",
        "",
        "好",
        "质量" * 200,
    ],
)
def test_scores_are_in_unit_interval_best_first_never_empty(text: str) -> None:
    result = classify_text(text)
    assert 1 <= len(result) <= CLASSIFIER.max_labels
    assert all(0 < s.score <= 1 for s in result)
    assert [s.score for s in result] == sorted((s.score for s in result), reverse=True)
    assert len(set(codes(result))) == len(result)


def test_traditional_characters_are_understood() -> None:
    assert classify_text("物流太慢了，等了一個禮拜還沒到")[0].code == "logistics"


# --- decisions, on a hand-made model -------------------------------------------------------


def toy_model(bias: dict[str, float], weights: dict[str, dict[str, float]]) -> CategoryModel:
    """A model with no n-gram settings: only features named in ``weights`` count."""
    return CategoryModel(
        categories=CATEGORIES,
        bias=tuple(bias.get(c, -5.0) for c in CATEGORIES),
        weights={name: tuple(row.get(c, 0.0) for c in CATEGORIES) for name, row in weights.items()},
        lexicon=Lexicon({}),
        settings=FeatureSettings(char_ngrams=(), word_bigrams=False),
        info={},
    )


def test_probabilities_are_sigmoids_of_bias_plus_weights() -> None:
    # One token → one feature of value 1/sqrt(1) = 1: logit = 0 + 2 → sigmoid 0.8808.
    model = toy_model({"price": 0.0}, {"w:贵": {"price": 2.0}})
    assert model.probabilities(["贵"])[Category.PRICE] == pytest.approx(0.880797)
    assert model.probabilities([])[Category.PRICE] == pytest.approx(0.5)


def test_second_labels_need_the_threshold_and_are_capped() -> None:
    model = toy_model({}, {"w:x": {"price": 9, "service": 4.6, "logistics": 4.5, "technical": 4.4}})
    # probabilities: price 0.98, service 0.40, logistics 0.38, technical 0.35 (x alone: 1.0)
    assert codes(CategoryClassifier(model, threshold=0.39).classify(["x"])) == ["price", "service"]
    assert codes(CategoryClassifier(model, threshold=0.3, max_labels=3).classify(["x"])) == [
        "price",
        "service",
        "logistics",
    ]
    assert codes(CategoryClassifier(model, threshold=0.9).classify(["x"])) == ["price"]


def test_other_never_comes_with_company() -> None:
    model = toy_model({"other": 3.0, "price": 2.0}, {})
    assert codes(CategoryClassifier(model, threshold=0.1).classify(["x"])) == ["other"]
    # and when a category wins, other is not appended either
    model = toy_model({"other": 2.0, "price": 3.0}, {})
    assert codes(CategoryClassifier(model, threshold=0.1).classify(["x"])) == ["price"]


def test_a_weak_best_guess_still_answers_with_a_positive_score() -> None:
    model = toy_model({c: -30.0 for c in CATEGORIES}, {})
    result = CategoryClassifier(model).classify(["x"])
    assert codes(result) == ["product_quality"]  # all equal: taxonomy order decides
    assert result[0].score == 0.001


def test_model_round_trips_through_its_file(tmp_path: Path) -> None:
    model = toy_model({"price": 0.5}, {"w:贵": {"price": 2.0}})
    path = tmp_path / "m.json.gz"
    model.save(path)
    assert CategoryModel.load(path) == model
    first = path.read_bytes()
    model.save(path)
    assert path.read_bytes() == first  # deterministic bytes


def test_unreadable_or_foreign_model_files_say_how_to_fix(tmp_path: Path) -> None:
    missing = tmp_path / "none.json.gz"
    with pytest.raises(ConfigError, match="train-categories"):
        CategoryModel.load(missing)
    foreign = tmp_path / "foreign.json.gz"
    foreign.write_bytes(gzip.compress(json.dumps({"format": "other/9"}).encode()))
    with pytest.raises(ConfigError, match="train-categories"):
        CategoryModel.load(foreign)
    bad_rows = CategoryModel.to_json(toy_model({}, {"w:x": {"price": 1}}))
    bad_rows["weights"]["w:x"] = [1.0]
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(gzip.compress(json.dumps(bad_rows).encode()))
    with pytest.raises(ConfigError, match="7 entries"):
        CategoryModel.load(broken)


# --- lexicon and features --------------------------------------------------------------

LEXICON = Lexicon.parse("""
# comment
[logistics]
快递:3 还没到:3 慢:1
[after_sales]
退款:3 还没到账:3
[service]
服务:2
[price]
服务费:3 贵:3
""")


def matched(tokens: list[str]) -> list[str]:
    return [term for _, term, _ in LEXICON.matches(tokens)]


def test_longer_terms_hide_the_shorter_ones_inside_them() -> None:
    assert matched(["退款", "还", "没", "到账"]) == ["还没到账", "退款"]
    assert matched(["收", "服务费"]) == ["服务费"]
    assert matched(["服务", "很", "好"]) == ["服务"]


def test_one_character_terms_match_whole_tokens_only() -> None:
    assert matched(["贵", "公司"]) == ["贵"]
    assert matched(["贵公司"]) == []
    assert matched(["太", "慢"]) == ["慢"]


def test_terms_count_once_and_case_does_not_matter() -> None:
    lexicon = Lexicon.parse("[technical]\nAPP:3 闪退:3\n")
    assert lexicon.scores(["app", "闪退", "App", "闪退"]) == {"technical": 6.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("快递:3", "line 1: a term before any"),
        ("[logistics]\n快递:三", "line 2: '快递:三' is not term:weight"),
        ("[logistics]\n:3", "has no term"),
    ],
)
def test_malformed_lexicon_lines_are_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Lexicon.parse(text, "lex.txt")


def test_ngram_features_have_unit_length() -> None:
    features = ngram_features(["快递", "慢"], FeatureSettings(char_ngrams=(2,)))
    assert set(features) == {"w:快递", "w:慢", "b:快递|慢", "c:快递", "c:递慢"}
    assert sum(v * v for v in features.values()) == pytest.approx(1.0)


def test_lexicon_features_are_squashed_sums() -> None:
    features = extract(["快递", "太", "慢"], LEXICON, FeatureSettings(char_ngrams=()))
    assert features["lex:logistics"] == pytest.approx(1 - 2.718281828 ** (-4 / 3), rel=1e-6)
    assert "lex:price" not in features
