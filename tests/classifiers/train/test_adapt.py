"""``vocwatch adapt``: reading the user's files, the folder it writes, the worked example of
docs/classifiers.md ("Adapting to your domain"), adapting again without forgetting, and the
guard. The runs use the shipped models and general texts (half a minute to a minute each on
two busy cores: hence the longer hang guard)."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from classifiers.analyze import Analyzer, Models
from classifiers.corrections import clean_text
from classifiers.train.adapt import (
    CORRECTIONS_FILE,
    MANIFEST_FILE,
    Recipe,
    merge_labels,
    read_labels,
    read_texts,
)
from classifiers.train.adapt import adapt as adapt_models
from classifiers.train.adapt_base import BaseSet
from classifiers.train.sentence_teacher import TeacherHead
from vocwatch.cli import main
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Category, Polarity

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "adapt"
DOC = (ROOT / "docs" / "classifiers.md").read_text(encoding="utf-8")


def adapt(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["adapt", *args])
    return code, stdout.getvalue(), stderr.getvalue()


def write_lines(path: Path, records: Sequence[object]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def pets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example, run as the page shows it."""
    out = tmp_path_factory.mktemp("adapted") / "pets"
    code, _, stderr = adapt(
        "--texts",
        str(EXAMPLE / "pets-week.jsonl"),
        "--labels",
        str(EXAMPLE / "pets-corrections.jsonl"),
        "--out",
        str(out),
    )
    assert code == 0, stderr
    return out


# --- reading the files ---------------------------------------------------------------------------


def test_texts_are_read_with_their_channels_and_sampled_evenly_beyond_the_limit(
    tmp_path: Path,
) -> None:
    path = write_lines(
        tmp_path / "t.jsonl", [{"text": f"第{i}条投诉", "channel": "app"} for i in range(10)]
    )
    texts, channels, total = read_texts(path, limit=4)
    assert total == 10
    assert texts == ["第0条投诉", "第3条投诉", "第6条投诉", "第9条投诉"]
    assert {c.value for c in channels if c} == {"app"}


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ('{"text": ""}', "non-empty string 'text'"),
        ('{"words": "快递没到"}', "non-empty string 'text'"),
        ('{"text": "快递没到", "channel": "fax"}', "unknown channel 'fax'"),
        ("[1, 2]", "not a JSON object"),
        ("{text: 1}", "not JSON"),
    ],
)
def test_a_bad_texts_line_is_named_with_its_number(
    tmp_path: Path, line: str, complaint: str
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "好的"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(complaint)) as raised:
        read_texts(path, limit=100)
    assert f"{path}:3" in str(raised.value)


def test_an_empty_texts_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no texts"):
        read_texts(write_lines(tmp_path / "t.jsonl", []), limit=100)


def test_a_bad_correction_names_its_line_and_field(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "l.jsonl",
        [{"text": "快递没到", "category": "logistics"}, {"text": "快递没到", "category": "parcel"}],
    )
    with pytest.raises(ConfigError, match="category") as raised:
        read_labels(path)
    assert f"{path}:2" in str(raised.value) and "parcel" in str(raised.value)


def test_corrections_of_one_text_merge_the_newer_over_the_older(tmp_path: Path) -> None:
    older = read_labels(
        write_lines(
            tmp_path / "a.jsonl",
            [
                {"text": "退款一周没到", "category": "after_sales", "sentiment": "negative"},
                {"text": "客服很好", "sentiment": 1},
            ],
        )
    )
    newer = read_labels(
        write_lines(tmp_path / "b.jsonl", [{"text": "退款一周没到", "category": "service"}])
    )
    merged = merge_labels(older, newer)
    assert [m.text for m in merged] == ["退款一周没到", "客服很好"]
    assert merged[0].categories == (Category.SERVICE,)
    assert merged[0].sentiment == Polarity.NEGATIVE  # kept from the older one
    assert merged[1].sentiment == Polarity.POSITIVE


# --- the folder it writes ----------------------------------------------------------------------


def test_the_folder_holds_the_models_their_corrections_and_a_manifest(pets: Path) -> None:
    models = Models.load_from(pets)  # as the worker and classify --model-dir load it
    shipped = Models.load()
    assert models.sentiment.version.startswith("sentiment-adapted-")
    assert models.categories.version.startswith("categories-adapted-")
    assert models.sentiment.meta["adapted_from"] == shipped.sentiment.version
    manifest = json.loads((pets / MANIFEST_FILE).read_text())
    assert manifest["base"] == {
        "sentiment": shipped.sentiment.version,
        "categories": shipped.categories.version,
    }
    assert manifest["texts"] == 40
    assert manifest["corrections"] == {"sentiment": 4, "categories": 8}
    assert manifest["seconds"] > 0 and manifest["peak_memory_mb"] > 0
    assert len(read_labels(pets / CORRECTIONS_FILE)) == 8
    # the weights moved, and only where the pets' texts have features (beyond the int8
    # quantization's step, which saving the model chooses again)
    before, after = shipped.sentiment.heads.weights, models.sentiment.heads.weights
    step = np.abs(after).max(axis=0) / 127
    moved = np.flatnonzero((np.abs(after - before) > step).any(axis=1))
    assert 0 < len(moved) <= manifest["sentiment"]["columns_moved"]


def test_the_worked_example_gives_the_answers_the_page_shows(pets: Path) -> None:
    section = DOC.split("### A worked example", 1)[1].split("\n### ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and "·" in line
    ]
    assert len(rows) == 3
    shipped, adapted = Analyzer(), Analyzer(Models.load_from(pets))
    for text, before, after in rows:
        for analyzer, expected in ((shipped, before), (adapted, after)):
            analysis = analyzer.analyze(text)
            assert f"{analysis.polarity.value} · {analysis.category.value}" == expected, text
    manifest = json.loads((pets / MANIFEST_FILE).read_text())
    figures = manifest["guard"]
    claimed = (
        f"{manifest['sentiment']['pseudo_labels']} pseudo-labels and "
        f"{manifest['sentiment']['corrections']} sentiment corrections moved "
        f"{manifest['sentiment']['columns_moved']:,} columns"
    )
    assert claimed in " ".join(section.split())
    for pair in (figures["sentiment_binary_accuracy"], figures["category_top_in_gold"]):
        assert f"{pair['adapted']:.3f}" in section and f"{pair['base']:.3f}" in section


def test_adapting_again_keeps_every_earlier_correction(pets: Path, tmp_path: Path) -> None:
    texts = write_lines(tmp_path / "t.jsonl", [{"text": "寄养的狗回来咳嗽"}] * 3)
    labels = write_lines(
        tmp_path / "l.jsonl",
        [
            {"text": "寄养的狗回来咳嗽", "sentiment": "negative", "category": "product_quality"},
            # a correction of a text corrected before: this field replaces, the other stays
            {"text": "医生开了一堆没用的药，一次花了八百", "sentiment": "negative"},
        ],
    )
    out = tmp_path / "again"
    # nine corrections of three texts weigh a lot against the general texts: this test is
    # about keeping them, not about the guard (tested below), so the guard is looser here
    code, _, stderr = adapt(
        "--texts",
        str(texts),
        "--labels",
        str(labels),
        "--base-dir",
        str(pets),
        "--out",
        str(out),
        "--guard",
        "0.02",
    )
    assert code == 0, stderr
    assert "8 kept from" in stderr
    kept = {c.text: c for c in read_labels(out / CORRECTIONS_FILE)}
    assert len(kept) == 9
    again = kept[clean_text("医生开了一堆没用的药，一次花了八百")]
    assert again.categories == (Category.PRICE,)
    assert again.sentiment == Polarity.NEGATIVE
    # the shipped models adapted again with all nine, not the adapted ones with eight twice
    adapted = Models.load_from(out)
    assert adapted.sentiment.meta["adapted_from"] == Models.load().sentiment.version
    assert Models.load_from(out / "base").version == Models.load().version


def test_the_teacher_is_asked_only_when_there_are_texts_enough_to_self_train(pets: Path) -> None:
    manifest = json.loads((pets / MANIFEST_FILE).read_text())
    assert manifest["sentiment"]["teacher"] == {"used": False, "why": "fewer than 2000 texts"}
    assert "teacher_pseudo_labels" not in manifest["sentiment"]


def test_the_teachers_confident_answers_on_a_sample_become_pseudo_labels() -> None:
    praise = (
        "送得很快，包装也好",
        "味道不错，下次还点",
        "客服很耐心，问题解决了",
        "房间干净，服务周到",
    )
    complaints = (
        "等了两小时还没送到",
        "菜是凉的，太难吃了",
        "打了十次电话没人接",
        "退款半个月还没到账",
    )
    places = ("外卖", "快递", "酒店", "网店", "商场", "宽带", "银行", "网课")
    texts = [f"{p}{t}" for p in places for t in praise + complaints]  # 64 texts
    recipe = Recipe(min_texts=30, teacher_texts=40)
    adapted = adapt_models(
        Models.load(),
        texts,
        [],
        BaseSet.load(),
        recipe,
        teacher=functools.partial(TeacherHead.load().rate, processes=1),  # no pool here
        progress=lambda _: None,
    )
    report = adapted.report["sentiment"]
    assert report["teacher"]["used"] and report["teacher"]["texts"] == 40
    assert 0 < report["teacher_pseudo_labels"] <= 40
    assert report["pseudo_labels"] >= report["teacher_pseudo_labels"]
    assert 0 <= report["teacher_overruled"] <= report["teacher_pseudo_labels"]


def test_the_guard_refuses_corrections_that_unlearn_the_general_texts(tmp_path: Path) -> None:
    # eighty plain complaints of ten industries "corrected" to positive
    subjects = (
        "快递",
        "外卖",
        "宽带",
        "信用卡",
        "保险理赔",
        "酒店",
        "网约车",
        "网课",
        "APP",
        "物业",
    )
    problems = (
        "三天了还没送到",
        "客服态度太差了",
        "一直闪退打不开",
        "退款一直没到账",
        "质量太差用两天就坏了",
        "打了十几个电话没人接",
        "信息一直不更新",
        "登录不了收不到验证码",
    )
    wrong = [{"text": s + p, "sentiment": "positive"} for s in subjects for p in problems]
    labels = write_lines(tmp_path / "l.jsonl", wrong)
    texts = write_lines(tmp_path / "t.jsonl", [{"text": w["text"]} for w in wrong])
    out = tmp_path / "refused"
    code, _, stderr = adapt("--texts", str(texts), "--labels", str(labels), "--out", str(out))
    assert code == 1
    assert "sentiment binary accuracy on the general texts" in stderr and "not written" in stderr
    assert not out.exists()


def test_the_general_texts_fit_the_shipped_category_model() -> None:
    general = BaseSet.load()
    model = Models.load().categories
    assert (general.features, general.dense_columns) == (model.features, model.dense_columns)
    assert general.test.sum() > 500 and len(set(general.domains)) == 14


def test_the_leave_one_industry_out_tables_are_the_recorded_figures() -> None:
    """The page's tables are docs/examples/adapt/eval-adapt.json (what `vocwatch eval-adapt
    --json` printed), cell by cell."""
    recorded = json.loads((EXAMPLE / "eval-adapt.json").read_text(encoding="utf-8"))
    adapting = DOC.split("## Adapting to your domain", 1)[1]
    section = adapting.split("### Figures: leave one industry out", 1)[1].split("\n### ", 1)[0]
    figures = ("before", "without_corrections", "before_on_rest", "with_corrections")
    for task in ("sentiment", "categories"):
        lines = [line for line in section.splitlines() if line.startswith(f"| {task} ")]
        assert lines, f"no {task} table"
        start = section.splitlines().index(lines[0])
        rows = {}
        for line in section.splitlines()[start + 2 :]:
            if not line.startswith("|"):
                break
            cells = [cell.strip().strip("*") for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[2:]
        table = recorded[task]
        for domain, row in table["domains"].items():
            expected = [
                "—" if row[split][f] is None else f"{row[split][f]:.3f}"
                for split in ("dev", "test")
                for f in figures
            ]
            assert rows[domain] == expected, domain
        for what in ("mean", "worst"):
            expected = [
                f"{table[split][f][what]:.3f}" for split in ("dev", "test") for f in figures
            ]
            assert rows[what] == expected, what
