"""``vocwatch eval-adapt``: what adapting buys in an industry the models have never seen
(留一行业验证, before and after adapting).

    vocwatch eval-adapt --corpora ../shared/data [--corrections 50] [--json]

For each domain of the labelled sets, in turn: the models are trained without it (dev split,
calibrated on the other domains' held-out scores, as the training tools validate), then
adapted with :mod:`classifiers.train.adapt`'s own functions to the domain's texts without
their labels — and once more with ``--corrections`` of its texts corrected (chosen at random
from its dev split) — and score its texts: sentiment binary accuracy on its labelled texts
(the project's and, where there are, a corpus's: at most ``--max-texts``), category
top-in-gold on its labelled texts; the corrected texts are left out of the figures of the
corrected run. The ``dev`` column is what the adaptation's settings were chosen on; ``test``
is the test split, not tuned on.

It takes about 15 minutes here (fourteen sentiment models on 110,000 texts).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.category import CATEGORIES
from classifiers.features import FeatureConfig
from classifiers.model import TextModel
from classifiers.sentiment import HEADS
from classifiers.train import categories as categories_training
from classifiers.train import corpora, sentence_teacher
from classifiers.train import sentiment as sentiment_training
from classifiers.train.adapt import Recipe, adapt_categories, adapt_sentiment, teacher_answers
from classifiers.train.adapt_base import from_matrix
from classifiers.train.corpora import Example, training_set
from classifiers.train.fit import (
    Fold,
    Head,
    Matrix,
    calibrate_without,
    featurize,
    heads,
    say,
)
from classifiers.train.sentence_teacher import TeacherHead
from classifiers.train.teacher import embed
from vocwatch.vocabulary import Polarity


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpora", type=Path, default=corpora.DEFAULT_CORPORA)
    parser.add_argument("--labelled", type=Path, default=corpora.LABELLED)
    parser.add_argument("--bits", type=int, default=FeatureConfig().bits)
    parser.add_argument("--no-teacher", action="store_true")
    parser.add_argument("--limit", type=int, default=0, help="texts per domain (a quick run)")
    parser.add_argument("--corrections", type=int, default=50)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--max-texts", type=int, default=20_000, help="per domain, sentiment")
    parser.add_argument("--task", choices=("sentiment", "categories", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--no-sentence-teacher",
        action="store_true",
        help="adapt sentiment without the offline teacher's answers (adapt --no-teacher)",
    )
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "vocwatch")


def run(args: argparse.Namespace) -> int:
    recipe = Recipe()
    config = FeatureConfig(bits=args.bits)
    teacher = not args.no_teacher
    results: dict[str, Any] = {"recipe": recipe.to_json(), "corrections": args.corrections}
    started = time.monotonic()
    if args.task in ("categories", "both"):
        examples = [e for e in corpora.labelled(args.labelled, args.corpora) if e.categories]
        if args.limit:
            examples = corpora.limited(examples, args.limit)
        matrix = featurize(examples, config, teacher=teacher)
        results["categories"] = _categories(matrix, recipe, args)
    if args.task in ("sentiment", "both"):
        examples = corpora.everything(args.corpora, root=args.labelled)
        if args.limit:
            examples = corpora.limited(examples, args.limit)
        say(f"{len(examples)} texts; features …")
        matrix = featurize(examples, config, teacher=teacher, say=say)
        teachers = None if args.no_sentence_teacher else _teachers(examples, args)
        results["sentence_teacher"] = teachers is not None
        results["sentiment"] = _sentiment(matrix, recipe, args, teachers)
    results["seconds"] = round(time.monotonic() - started)
    print(json.dumps(results, ensure_ascii=False) if args.json else format_results(results))
    return 0


# --- per task ----------------------------------------------------------------------------------


def _categories(matrix: Matrix, recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    trainer = categories_training.Trainer()
    names = [code.value for code in CATEGORIES]
    folds, fitted = _folds(matrix, trainer.fit)
    rng = np.random.default_rng(args.seed)
    rows: dict[str, Any] = {}
    for fold in folds:
        domain = fold.domain
        calibration = [
            calibrate_without(folds, name, categories_training._label_of(code), domain)
            for name, code in zip(names, CATEGORIES, strict=True)
        ]
        base = _model("categories", names, fitted[domain], calibration, matrix)
        others = np.array([e.domain != domain for e in matrix.examples])
        general = from_matrix(
            matrix.rows[others],
            [e for e, k in zip(matrix.examples, others, strict=True) if k],
            _meta(matrix),
        )
        held = matrix.select([e.domain == domain for e in matrix.examples])
        corrections = _chosen(held.examples, args.corrections, rng)
        adapted, _, report = adapt_categories(base, held, corrections, general, recipe)
        truth = np.array([[code in e.categories for code in CATEGORIES] for e in held.examples])
        row: dict[str, Any] = {"texts": len(held.examples), "corrections": int(corrections.sum())}
        for split in ("dev", "test"):
            in_split = np.array([e.split == split for e in held.examples])
            row[split] = {
                "before": _top_in_gold(base, held, truth, in_split),
                "without_corrections": _top_in_gold(base, held, truth, in_split),
                "before_on_rest": _top_in_gold(base, held, truth, in_split & ~corrections),
                "with_corrections": _top_in_gold(adapted, held, truth, in_split & ~corrections),
            }
        rows[domain] = row
        say(f"  {domain}: {row['dev']} {report}")
    return _summary(rows)


def _teachers(
    examples: Sequence[Example], args: argparse.Namespace
) -> Callable[[str], TeacherHead] | None:
    """Per held-out domain, the teacher's sentiment head trained without it (its training
    texts embedded once, cached); None, and why, when the teacher cannot run here."""
    reason = sentence_teacher.missing()
    if reason is not None:
        say(f"without the teacher: {reason}")
        return None
    sample = sentence_teacher.training_sample(examples)
    vectors = embed(
        [e.text[: sentence_teacher.MAX_CHARS] for e in sample],
        processes=2,
        cache=args.cache,
        passages=True,
    )

    def without(domain: str) -> TeacherHead:
        weights, bias = sentence_teacher.held_out(vectors, sample, domain)
        return TeacherHead(weights, bias, {"held_out": domain})

    return without


def _sentiment(
    matrix: Matrix,
    recipe: Recipe,
    args: argparse.Namespace,
    teachers: Callable[[str], TeacherHead] | None = None,
) -> dict[str, Any]:
    trainer = sentiment_training.Trainer(labelled=args.labelled)
    folds, fitted = _folds(matrix, trainer.fit)
    rng = np.random.default_rng(args.seed)
    rows: dict[str, Any] = {}
    for fold in folds:
        domain = fold.domain
        calibration = [
            calibrate_without(folds, "polar", sentiment_training._polar_label, domain),
            calibrate_without(folds, "neutral", sentiment_training._service_neutral_label, domain),
        ]
        base = _model("sentiment", list(HEADS), fitted[domain], calibration, matrix)
        in_domain = np.flatnonzero([e.domain == domain for e in matrix.examples])
        if len(in_domain) > args.max_texts:
            in_domain = np.sort(rng.choice(in_domain, args.max_texts, replace=False))
        keep = np.zeros(len(matrix.examples), dtype=bool)
        keep[in_domain] = True
        held = matrix.select(keep)
        none = np.zeros(len(held.examples), dtype=bool)
        corrections = _chosen(held.examples, args.corrections, rng)
        rated, _ = teacher_answers(
            teachers(domain).rate if teachers is not None else None,
            [e.text for e in held.examples],
            len(held.examples),
            recipe,
            say,
        )
        unlabelled, report = adapt_sentiment(base, held, none, recipe, teacher=rated)
        corrected, _ = adapt_sentiment(base, held, corrections, recipe, teacher=rated)
        row: dict[str, Any] = {"texts": len(held.examples), "corrections": int(corrections.sum())}
        for split in ("dev", "test"):
            in_split = np.array([e.split == split for e in held.examples])
            row[split] = {
                "before": _binary_accuracy(base, held, in_split),
                "without_corrections": _binary_accuracy(unlabelled, held, in_split),
                "before_on_rest": _binary_accuracy(base, held, in_split & ~corrections),
                "with_corrections": _binary_accuracy(corrected, held, in_split & ~corrections),
            }
        rows[domain] = row
        say(f"  {domain}: {row['dev']} pseudo-labels {report['pseudo_labels']}")
    return _summary(rows)


def _folds(matrix: Matrix, fit: Any) -> tuple[list[Fold], dict[str, dict[str, Head]]]:
    """Per domain, heads fitted on the dev split without it, and its dev rows' raw scores
    (for the calibration of the other folds)."""
    dev = matrix.select([e.split == "dev" for e in matrix.examples])
    present = {e.domain for e in matrix.examples}
    folds, fitted = [], {}
    for domain in (d for d in corpora.DOMAINS if d in present):
        started = time.monotonic()
        keep = {id(e) for e in training_set(dev.examples, domain)}
        fitted[domain] = fit(dev.select([id(e) in keep for e in dev.examples]))
        held = dev.select([e.domain == domain for e in dev.examples])
        folds.append(
            Fold(domain, held.examples, {n: h.raw(held.rows) for n, h in fitted[domain].items()})
        )
        say(f"  trained without {domain} ({time.monotonic() - started:.0f} s)")
    return folds, fitted


def _model(
    task: str,
    names: Sequence[str],
    fitted: dict[str, Head],
    calibration: Sequence[tuple[float, float]],
    matrix: Matrix,
) -> TextModel:
    return TextModel(
        task,
        heads(names, [fitted[name] for name in names], calibration),
        matrix.featurizer.config,
        matrix.featurizer.dense_columns,
        {"version": f"{task}-fold"},
    )


def _meta(matrix: Matrix) -> dict[str, Any]:
    return {
        "features": matrix.featurizer.config.to_json(),
        "dense_columns": list(matrix.featurizer.dense_columns),
    }


def _chosen(examples: Sequence[Example], count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` of the project's labelled dev texts (categories and polarity), at random."""
    candidates = np.flatnonzero(
        [e.split == "dev" and bool(e.categories) and e.polarity is not None for e in examples]
    )
    chosen = np.zeros(len(examples), dtype=bool)
    if count and len(candidates):
        chosen[rng.choice(candidates, min(count, len(candidates)), replace=False)] = True
    return chosen


def _scores(model: TextModel, held: Matrix) -> np.ndarray:
    columns = 1 << model.features.bits
    raw = (
        held.rows[:, :columns] @ model.heads.weights
        + held.rows[:, columns:] @ model.heads.dense_weights
        + model.heads.bias
    )
    return np.asarray(model.heads.scale * np.asarray(raw) + model.heads.offset)


def _top_in_gold(
    model: TextModel, held: Matrix, truth: np.ndarray, rows: np.ndarray
) -> float | None:
    if not rows.any():
        return None
    top = _scores(model, held).argmax(axis=1)
    return round(float(truth[np.arange(len(top)), top][rows].mean()), 4)


def _binary_accuracy(model: TextModel, held: Matrix, rows: np.ndarray) -> float | None:
    polar = np.array([e.polarity in (Polarity.POSITIVE, Polarity.NEGATIVE) for e in held.examples])
    chosen = rows & polar
    if not chosen.any():
        return None
    positive = _scores(model, held)[:, 0] >= 0
    truth = np.array([e.polarity == Polarity.POSITIVE for e in held.examples])
    return round(float((positive == truth)[chosen].mean()), 4)


def _summary(rows: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {"domains": rows}
    for split in ("dev", "test"):
        for figure in ("before", "without_corrections", "before_on_rest", "with_corrections"):
            values = [r[split][figure] for r in rows.values() if r[split][figure] is not None]
            if values:
                summary.setdefault(split, {})[figure] = {
                    "mean": round(float(np.mean(values)), 4),
                    "worst": round(float(np.min(values)), 4),
                }
    return summary


def format_results(results: dict[str, Any]) -> str:
    lines = []
    for task in ("sentiment", "categories"):
        table = results.get(task)
        if not table:
            continue
        figure = "binary accuracy" if task == "sentiment" else "top category is a true one"
        lines.append(f"{task}, leaving each domain out ({figure}):")
        lines.append(
            f"  {'domain':<12}{'split':<6}{'before':>8}{'adapted':>9}{'before*':>9}{'+corr.':>8}"
        )
        for domain, row in table["domains"].items():
            for split in ("dev", "test"):
                r = row[split]
                lines.append(
                    f"  {domain:<12}{split:<6}{_fmt(r['before']):>8}"
                    f"{_fmt(r['without_corrections']):>9}{_fmt(r['before_on_rest']):>9}"
                    f"{_fmt(r['with_corrections']):>8}"
                )
        for split in ("dev", "test"):
            s = table.get(split, {})
            if s:
                lines.append(
                    f"  {split}: mean (worst) before {s['before']['mean']:.4f} "
                    f"({s['before']['worst']:.4f}), adapted {s['without_corrections']['mean']:.4f}"
                    f" ({s['without_corrections']['worst']:.4f}); on the uncorrected texts: "
                    f"before {s['before_on_rest']['mean']:.4f}, with "
                    f"{results['corrections']} corrections {s['with_corrections']['mean']:.4f} "
                    f"({s['with_corrections']['worst']:.4f})"
                )
    lines.append("(before*: the base model on the texts left after the corrections)")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"
