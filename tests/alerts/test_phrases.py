"""alerts.phrases: churn threats and escalation language, with negations and jokes."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.phrases import PhraseMatcher
from classifiers.normalize import normalize
from classifiers.priority import PriorityPolicy
from vocwatch.errors import ConfigError
from vocwatch.settings import DEFAULT_CUSTOMER_PHRASES_FILE, DEFAULT_PRIORITY_FILE

PACKAGED = PhraseMatcher.load(
    DEFAULT_CUSTOMER_PHRASES_FILE,
    escalation=PriorityPolicy.load(DEFAULT_PRIORITY_FILE).escalation_terms,
)


def churn(text: str) -> tuple[str, ...]:
    return PACKAGED.churn_threats(normalize(text))


def escalation(text: str) -> tuple[str, ...]:
    return PACKAGED.escalations(normalize(text))


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("再不解决我就销户", ("销户",)),
        ("信号太差，准备携号转网了", ("携号转网",)),  # not also 转网, inside it
        ("我要注销账户，再也不买了！", ("注销账户", "再也不买")),
        ("下个月开始不续费了", ("不续费",)),
        ("銷戶！！！", ("销户",)),  # traditional characters, normalized as texts are
        ("ＶＩＰ会员我要退订", ("退订",)),
        ("退款处理很快，谢谢", ()),
    ],
)
def test_churn_threats_are_found(text: str, found: tuple[str, ...]) -> None:
    assert churn(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "我不会销户的",
        "放心，我不会因为这点小事就销户",
        "暂时不打算换别家，希望尽快处理",
        "我没想过退订，只是想问问",
        "我并不想注销账户",
        "怎么会销户呢，用了十年了",
    ],
)
def test_a_negated_threat_is_no_threat(text: str) -> None:
    assert churn(text) == ()


def test_a_negation_in_another_clause_does_not_cancel_the_threat() -> None:
    assert churn("不会吧，又断网了，我要销户") == ("销户",)
    assert churn("我不会销户，销户太麻烦；但再这样我真要销户") == ("销户",)


@pytest.mark.parametrize("text", ["再这样我就要携号转网了，开个玩笑", "逗你玩的，不会退订的啦"])
def test_a_joke_makes_no_threat(text: str) -> None:
    assert churn(text) == ()


def test_saying_it_is_no_joke_is_no_joke() -> None:
    assert churn("我不是开玩笑的，再不退款就销户") == ("销户",)


def test_escalation_includes_the_priority_policys_terms() -> None:
    assert escalation("再不处理我就打12315投诉") == ("12315", "投诉")
    assert escalation("找媒体曝光你们") == ("媒体", "曝光")
    assert escalation("订单号 123156789 查一下") == ()  # a number inside a longer one
    assert escalation("我不想投诉，只想退款") == ()


def test_a_list_file_with_an_error_names_the_list(tmp_path: Path) -> None:
    path = tmp_path / "phrases.yaml"
    path.write_text("churn: [销户]\nescalation: []\nnegations: 不会\njokes: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        PhraseMatcher.load(path)
    assert caught.value.field == "negations"
    assert str(path) in str(caught.value)
    path.write_text("- 销户\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        PhraseMatcher.load(path)


def test_an_empty_list_matches_nothing() -> None:
    matcher = PhraseMatcher(churn=[], escalation=["投诉"], negations=[], jokes=[])
    assert matcher.churn_threats("我要销户") == ()
    assert matcher.escalations("我要投诉") == ("投诉",)
