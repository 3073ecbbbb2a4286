"""classifiers.lexicon: the category lexicon, its file and what the tokenizer makes of it."""

from __future__ import annotations

import pytest

from classifiers.category import CATEGORIES
from classifiers.lexicon import LEXICON_FILE, Lexicon
from classifiers.tokenize import cut
from vocwatch.errors import ConfigError

PACKAGED = Lexicon.load()


def test_parse_groups_terms_and_weights() -> None:
    lexicon = Lexicon.parse(
        "# a comment\n[logistics]\n快递:3 还没到:3  # trailing comment\n慢:1\n"
        "[price]\n贵:3 APP:2\n[logistics]\n物流:2\n"
    )
    assert lexicon.groups == ("logistics", "price")
    assert lexicon.terms == {
        "logistics": {"快递": 3.0, "还没到": 3.0, "慢": 1.0, "物流": 2.0},
        "price": {"贵": 3.0, "app": 2.0},  # terms are case-folded
    }
    assert lexicon.words() == ["app", "快递", "物流", "还没到"]  # one character: no word


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("快递:3", "line 1: a term before any"),
        ("[logistics]\n快递:三", "line 2: '快递:三' is not term:weight"),
        ("[logistics]\n快递", "line 2: '快递' is not term:weight"),
        ("[logistics]\n:3", "line 2: ':3' has no term"),
    ],
)
def test_malformed_lines_are_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Lexicon.parse(text, "lex.txt")
    assert caught.value.source == "lex.txt"


def test_the_packaged_lexicon_has_every_category_and_the_product_words() -> None:
    assert Lexicon.load(LEXICON_FILE) == PACKAGED
    assert set(PACKAGED.groups) == {c.value for c in CATEGORIES} | {"product_words"}
    weights = [w for terms in PACKAGED.terms.values() for w in terms.values()]
    assert len(weights) > 1000
    assert set(weights) <= {1.0, 2.0, 3.0}


def test_the_lexicon_s_terms_are_words_of_the_tokenizer() -> None:
    # The features look terms up among a text's words: a term cut in two is never found.
    words = PACKAGED.words()
    split = [w for w in words if cut(f"，{w}。") != ["，", w, "。"]]
    assert len(split) <= len(words) // 200, split
