"""``vocwatch train-categories``: train the issue-category model on the labelled set.

    vocwatch train-categories [--data data/categories/labelled.csv]
                              [--out classifiers/data/category_model.json.gz]

Reads the labelled CSV (``text,channel,categories``) and the lexicon
(``classifiers/data/category_lexicon.txt``), prints cross-validated figures (stratified
k-fold on the primary category), then fits one logistic regression per category on all rows
and writes the model file that :class:`classifiers.category.CategoryModel` loads, with the
lexicon embedded. scikit-learn is imported inside :func:`run` only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classifiers.category import CATEGORIES, MODEL_FILE, CategoryClassifier, CategoryModel
from classifiers.category_features import LEXICON_FILE, FeatureSettings, Lexicon, extract
from classifiers.train.category_data import (
    LABELLED_CSV,
    CategoryFigures,
    LabelledText,
    figures,
    format_figures,
    load_labelled,
    text_tokens,
)

#: Inverse regularization strength of the logistic regressions (chosen by cross-validation
#: on the labelled set; see docs/classifiers.md).
DEFAULT_C = 16.0
#: Weights are rounded to this many places, and features whose weights all round to zero
#: are left out of the model file.
WEIGHT_PLACES = 4


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=LABELLED_CSV,
        help="labelled CSV: text,channel,categories (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=MODEL_FILE, help="model file to write (default: %(default)s)"
    )
    parser.add_argument(
        "--lexicon", type=Path, default=LEXICON_FILE, help="lexicon to embed (default: %(default)s)"
    )
    parser.add_argument(
        "--folds", type=int, default=5, help="cross-validation folds; 0 skips cross-validation"
    )
    parser.add_argument(
        "--c",
        type=float,
        default=DEFAULT_C,
        help="inverse regularization strength (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=13, help="fold shuffling seed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    examples = load_labelled(args.data)
    lexicon = Lexicon.load(args.lexicon)
    settings = FeatureSettings()
    tokens = [text_tokens(example.text) for example in examples]
    report: dict[str, Any] = {"data": str(args.data), "rows": len(examples), "c": args.c}
    if args.folds:
        cv = cross_validate(examples, tokens, lexicon, settings, args.c, args.folds, args.seed)
        report["cross_validation"] = {"folds": args.folds, "seed": args.seed, **cv.to_json()}
        if not args.json:
            print(format_figures(f"{args.folds}-fold cross-validation", cv))
    info = {
        "data": args.data.name,
        "rows": len(examples),
        "c": args.c,
        "data_sha256": hashlib.sha256(args.data.read_bytes()).hexdigest(),
    }
    if args.folds:
        info["cross_validation"] = report["cross_validation"]
    model = fit(examples, tokens, lexicon, settings, args.c, info)
    model.save(args.out)
    report.update(out=str(args.out), features=len(model.weights), bytes=args.out.stat().st_size)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(
            f"wrote {args.out}: {len(model.weights)} features, "
            f"{args.out.stat().st_size} bytes, trained on {len(examples)} rows"
        )
    return 0


def fit(
    examples: Sequence[LabelledText],
    tokens: Sequence[Sequence[str]],
    lexicon: Lexicon,
    settings: FeatureSettings,
    c: float,
    info: dict[str, Any] | None = None,
) -> CategoryModel:
    """One-vs-rest logistic regression: category c is positive when it is among the row's
    categories (``other`` when it is the row's only one)."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform([extract(t, lexicon, settings) for t in tokens]).tocsr()
    # liblinear takes 32-bit sparse indices only; DictVectorizer may hand out 64-bit ones.
    matrix.indices = matrix.indices.astype("int32")
    matrix.indptr = matrix.indptr.astype("int32")
    names = vectorizer.get_feature_names_out()
    bias: list[float] = []
    columns = []
    for code in CATEGORIES:
        target = [int(code in example.categories) for example in examples]
        if len(set(target)) < 2:
            raise ValueError(f"category {code} needs positive and negative rows to train")
        regression = LogisticRegression(C=c, solver="liblinear")
        regression.fit(matrix, target)
        bias.append(round(float(regression.intercept_[0]), WEIGHT_PLACES))
        columns.append(regression.coef_[0])
    weights: dict[str, tuple[float, ...]] = {}
    for index, name in enumerate(names):
        row = tuple(round(float(column[index]), WEIGHT_PLACES) for column in columns)
        if any(row):
            weights[str(name)] = row
    return CategoryModel(
        categories=CATEGORIES,
        bias=tuple(bias),
        weights=weights,
        lexicon=lexicon,
        settings=settings,
        info=info or {},
    )


def cross_validate(
    examples: Sequence[LabelledText],
    tokens: Sequence[Sequence[str]],
    lexicon: Lexicon,
    settings: FeatureSettings,
    c: float,
    folds: int,
    seed: int,
) -> CategoryFigures:
    """Figures of models trained on k-1 folds and applied to the held-out fold."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted: list[tuple[str, ...]] = [()] * len(examples)
    primaries = [example.primary for example in examples]
    for train, held_out in splitter.split(primaries, primaries):
        model = fit([examples[i] for i in train], [tokens[i] for i in train], lexicon, settings, c)
        classifier = CategoryClassifier(model)
        for i in held_out:
            predicted[i] = tuple(s.code for s in classifier.classify(tokens[i]))
    return figures(predicted, [example.categories for example in examples])
