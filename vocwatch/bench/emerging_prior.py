"""``vocwatch train-emerging-prior``: rebuild the packaged prior of the emerging-topic
features' document frequencies (``alerts/emerging_prior.tsv.gz``, see
:mod:`alerts.emerging_prior`) from the project's own labelled customer-service texts.

Run it when the word lists (``alerts/explain_stopwords.txt``), the tokenizer's dictionary
or the feature rules change::

    vocwatch train-emerging-prior --data data --out alerts/emerging_prior.tsv.gz
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from alerts.emerging_features import INNER_WORDS, TokenFeatures
from alerts.emerging_prior import DEFAULT_WEIGHT, PRIOR_FILE, EmergingPrior
from alerts.explain import VOCABULARY

SOURCES = ("labelled/*.csv", "categories/labelled.csv")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=Path("data"), help="the project's data folder (default: data)"
    )
    parser.add_argument("--out", type=Path, default=PRIOR_FILE)
    parser.add_argument(
        "--weight",
        type=float,
        default=DEFAULT_WEIGHT,
        help="texts of traffic the prior is worth (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from classifiers.analyze import Analyzer

    analyzer = Analyzer()
    tokens = [analyzer.analyze(text).tokens for text in dict.fromkeys(project_texts(args.data))]
    # Twice: the words the first pass knows are those found inside compounds in the second,
    # as the vectorizer finds them (alerts.emerging_features.INNER_WORDS).
    words = EmergingPrior.build(map(TokenFeatures(VOCABULARY).of, tokens), args.weight)
    features = TokenFeatures(VOCABULARY, word=words.known if INNER_WORDS else None)
    prior = EmergingPrior.build(map(features.of, tokens), args.weight)
    prior.dump(
        args.out,
        "Document frequencies of the emerging-topic features (alerts/emerging_features.py) in\n"
        f"{prior.documents} labelled customer-service texts of the project ({', '.join(SOURCES)}"
        " under data/),\nwritten by `vocwatch train-emerging-prior`. See alerts/emerging_prior.py.",
    )
    print(
        f"{args.out}: {prior.documents} texts, {len(prior.frequencies)} features", file=sys.stderr
    )
    return 0


def project_texts(data: Path) -> Iterator[str]:
    """Every non-empty ``text`` of the labelled CSV files (references to corpus rows have
    none: those texts are not the project's to ship)."""
    for pattern in SOURCES:
        for path in sorted(data.glob(pattern)):
            with path.open(encoding="utf-8", newline="") as file:
                for row in csv.DictReader(file):
                    text = (row.get("text") or "").strip()
                    if text:
                        yield text
