"""``vocwatch train-categories``: the issue-category model (classifiers/category.py), validated
leaving each industry out.

    vocwatch train-categories --corpora ../shared/data [--test] [--json]

Trains one head per category on the project's labelled sets (data/labelled: many industries,
real corpus rows resolved in ``--corpora``), validates leaving each domain out (dev split),
calibrates every head on the held-out scores, trains the final model on everything and
writes ``classifiers/data/categories.npz`` with its figures and data sheet. ``--test`` also
scores the test split, leaving each domain out — once, for the published figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from classifiers.category import CATEGORIES, MODEL_FILE, THRESHOLD
from classifiers.features import FeatureConfig
from classifiers.model import TextModel
from classifiers.train import adapt_base, corpora
from classifiers.train.corpora import Example
from classifiers.train.fit import (
    Fold,
    Head,
    Matrix,
    add_training_arguments,
    calibrate_without,
    featurize,
    fit_head,
    heads,
    leave_one_domain_out,
    say,
    sigmoid,
)
from vocwatch.vocabulary import Polarity

DEFAULT_C = 8.0


def configure(parser: argparse.ArgumentParser) -> None:
    add_training_arguments(parser, out=MODEL_FILE, c=DEFAULT_C)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def run(args: argparse.Namespace) -> int:
    examples = [e for e in corpora.labelled(args.labelled, args.corpora) if e.categories]
    if args.limit:
        examples = corpora.limited(examples, args.limit)
    say(f"{len(examples)} labelled texts; features …")
    matrix = featurize(examples, FeatureConfig(bits=args.bits), teacher=not args.no_teacher)
    model = Trainer(c=args.c).train(matrix, test=args.test)
    model.save(args.out)
    # the general texts `vocwatch adapt` starts from, featurized for this model
    adapt_base.build(
        args.out.parent / adapt_base.BASE_FILE.name,
        model=args.out,
        labelled=args.labelled,
        corpora_dir=args.corpora,
    )
    validation = model.meta["validation"]
    text = json.dumps(validation, ensure_ascii=False) if args.json else None
    print(text or format_validation(validation))
    say(f"wrote {args.out}")
    return 0


class Trainer:
    def __init__(self, *, c: float = DEFAULT_C) -> None:
        self.c = c

    def fit(self, matrix: Matrix) -> dict[str, Head]:
        columns = matrix.featurizer.columns
        return {
            code.value: fit_head(
                matrix.rows,
                _labels(matrix.examples, code),
                c=self.c,
                columns=columns,
                name=code.value,
            )
            for code in CATEGORIES
        }

    def train(self, matrix: Matrix, *, test: bool) -> TextModel:
        dev = matrix.select([e.split == "dev" for e in matrix.examples])
        say("leave-one-domain-out, dev split:")
        present = {e.domain for e in matrix.examples}
        domains = [d for d in corpora.DOMAINS if d in present]
        folds = leave_one_domain_out(dev, domains, self.fit, lambda e: True, say=say)
        calibration = [calibrate_without(folds, code.value, _label_of(code)) for code in CATEGORIES]
        validation: dict[str, Any] = {"dev": figures(folds, folds)}
        if test:
            say("leave-one-domain-out, test split:")
            test_folds = leave_one_domain_out(
                matrix, domains, self.fit, lambda e: e.split == "test", say=say
            )
            validation["test"] = figures(test_folds, folds)
        say("the final model, on every text …")
        fitted = self.fit(matrix)
        names = [code.value for code in CATEGORIES]
        return TextModel(
            "categories",
            heads(names, [fitted[name] for name in names], calibration),
            matrix.featurizer.config,
            matrix.featurizer.dense_columns,
            {
                "version": f"categories-{datetime.date.today().isoformat()}",
                "trained_on": corpora.data_sheet(matrix.examples),
                "recipe": {
                    "c": self.c,
                    "heads": "one-vs-rest logistic regression (liblinear)",
                    "calibration": "Platt per head, on the held-out domains' scores",
                    "threshold": THRESHOLD,
                },
                "validation": validation,
            },
        )


def figures(folds: Sequence[Fold], pool: Sequence[Fold]) -> dict[str, Any]:
    """Per held-out domain: the share of texts whose top category is one of their true
    ones — all texts, and by polarity — and the label-set micro-F1 (categories at or above
    the threshold); then the mean and the worst domain. Each fold is calibrated on the dev
    folds of ``pool`` but its own domain's."""
    rows = {}
    for fold in folds:
        columns = []
        for code in CATEGORIES:
            scale, offset = calibrate_without(pool, code.value, _label_of(code), fold.domain)
            columns.append(sigmoid(scale * fold.raw[code.value] + offset))
        probabilities = np.column_stack(columns)
        rows[fold.domain] = _domain_figures(fold.examples, probabilities)
    tops = [row["top_in_gold"] for row in rows.values()]
    negative = [
        row["top_in_gold_negative"]
        for row in rows.values()
        if row["top_in_gold_negative"] is not None
    ]
    return {
        "domains": rows,
        "mean_top_in_gold": round(float(np.mean(tops)), 4),
        "worst_top_in_gold": round(float(np.min(tops)), 4),
        "mean_top_in_gold_negative": round(float(np.mean(negative)), 4) if negative else None,
    }


def _domain_figures(examples: Sequence[Example], probabilities: np.ndarray) -> dict[str, Any]:
    top = probabilities.argmax(axis=1)
    hits = np.array([CATEGORIES[t] in e.categories for t, e in zip(top, examples, strict=True)])
    by_polarity = {}
    for polarity in Polarity:
        chosen = np.array([e.polarity == polarity for e in examples])
        by_polarity[polarity.value] = round(float(hits[chosen].mean()), 4) if chosen.any() else None
    predicted = probabilities >= THRESHOLD
    predicted[np.arange(len(top)), top] = True
    truth = np.array([[code in e.categories for code in CATEGORIES] for e in examples])
    true_positive = float((predicted & truth).sum())
    f1 = 2 * true_positive / max(1.0, float(predicted.sum() + truth.sum()))
    return {
        "texts": len(examples),
        "top_in_gold": round(float(hits.mean()), 4),
        "top_in_gold_negative": by_polarity["negative"],
        "top_in_gold_neutral": by_polarity["neutral"],
        "top_in_gold_positive": by_polarity["positive"],
        "micro_f1": round(f1, 4),
    }


def _labels(examples: Sequence[Example], code: object) -> np.ndarray:
    return np.array([code in e.categories for e in examples], dtype=int)


def _label_of(code: object) -> Any:
    return lambda example: int(code in example.categories)


def format_validation(validation: dict[str, Any]) -> str:
    lines = []
    for split in ("dev", "test"):
        table = validation.get(split)
        if not table:
            continue
        lines.append(f"leave-one-domain-out, {split} split: top category is a true one")
        lines.append(
            f"  {'domain':<12}{'texts':>7}{'all':>8}{'negative':>10}{'neutral':>9}"
            f"{'positive':>10}{'micro-F1':>10}"
        )
        for domain, row in table["domains"].items():
            lines.append(
                f"  {domain:<12}{row['texts']:>7}{row['top_in_gold']:>8.4f}"
                f"{_fmt(row['top_in_gold_negative']):>10}{_fmt(row['top_in_gold_neutral']):>9}"
                f"{_fmt(row['top_in_gold_positive']):>10}{row['micro_f1']:>10.4f}"
            )
        lines.append(
            f"  mean {table['mean_top_in_gold']:.4f}, worst "
            f"{table['worst_top_in_gold']:.4f}; negative texts: mean "
            f"{_fmt(table['mean_top_in_gold_negative'])}"
        )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"
