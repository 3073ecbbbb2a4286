"""``vocwatch eval-sentiment``: the sentiment model's leave-one-domain-out table, its accuracy
on a labelled file of yours, and its speed against stock snownlp, measured in one run.

    vocwatch eval-sentiment --corpora ../shared/data [--split dev|test]   # the LODO table
    vocwatch eval-sentiment --shipped                                     # stored figures
    vocwatch eval-sentiment --file labelled.csv                           # your texts
    vocwatch eval-sentiment --compare-stock --corpora ../shared/data      # speed

``--file``: a CSV with columns ``label,text`` (label ``positive`` / ``negative`` / ``neutral``
or 1 / 0), scored by the shipped model. ``--compare-stock``: short reviews (at most 40
characters) of the shopping corpus, analysed the way ``vocwatch classify`` does (batches of
1,000 texts, the whole analysis) and by stock ``SnowNLP(text).sentiments``, one after the
other in this process; prints both speeds and their ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from pathlib import Path
from typing import Any

from classifiers.features import FeatureConfig
from classifiers.sentiment import load_model
from classifiers.train import corpora
from classifiers.train.fit import featurize, leave_one_domain_out, say
from classifiers.train.sentiment import DEFAULT_C, Trainer, figures, format_validation
from vocwatch.errors import ConfigError

SHORT = 40
SPEED_TEXTS = 20_000
STOCK_TEXTS = 1_000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpora", type=Path, default=corpora.DEFAULT_CORPORA)
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--c", type=float, default=DEFAULT_C)
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="print the shipped model's stored figures, do not recompute",
    )
    parser.add_argument("--file", type=Path, help="a labelled CSV (label,text) to score")
    parser.add_argument(
        "--compare-stock",
        action="store_true",
        help="speed against stock snownlp on short reviews, in one run",
    )
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    result: dict[str, Any] = {}
    if args.file:
        result["file"] = evaluate_file(args.file)
    if args.compare_stock:
        result["speed"] = compare_stock(args.corpora)
    if args.shipped:
        result["validation"] = load_model().meta["validation"]
    elif not result:
        result["validation"] = _recompute(args)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    if "validation" in result:
        print(format_validation(result["validation"]))
    if "file" in result:
        print(f"{args.file}: " + ", ".join(f"{k} {v}" for k, v in result["file"].items()))
    if "speed" in result:
        s = result["speed"]
        print(
            f"short reviews (≤ {SHORT} characters): vocwatch {s['vocwatch_per_s']:,.0f} texts/s "
            f"(whole analysis, batches of 1,000), stock snownlp {s['snownlp_per_s']:,.0f} "
            f"texts/s: {s['ratio']:.1f}×"
        )
    return 0


def _recompute(args: argparse.Namespace) -> dict[str, Any]:
    examples = corpora.everything(args.corpora)
    shipped = load_model().features
    matrix = featurize(
        examples, FeatureConfig(bits=shipped.bits, families=shipped.families), teacher=True, say=say
    )
    trainer = Trainer(c=args.c)
    dev = matrix.select([e.split == "dev" for e in matrix.examples])
    folds = leave_one_domain_out(dev, corpora.DOMAINS, trainer.fit, lambda e: True, say=say)
    if args.split == "dev":
        return {"dev": figures(folds, folds)}
    test = leave_one_domain_out(
        matrix, corpora.DOMAINS, trainer.fit, lambda e: e.split == "test", say=say
    )
    return {"test": figures(test, folds)}


def evaluate_file(path: Path) -> dict[str, Any]:
    """Accuracy of the shipped model on ``label,text`` rows: binary (P(positive) against
    P(negative)) on the positive and negative ones, three-way on all when some are neutral."""
    from classifiers.analyze import Analyzer
    from classifiers.sentiment import NEGATIVE, POSITIVE

    labels = {
        "1": "positive",
        "0": "negative",
        "positive": "positive",
        "negative": "negative",
        "neutral": "neutral",
        "pos": "positive",
        "neg": "negative",
    }
    try:
        rows = _labelled_rows(path, labels)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 at byte {exc.start}", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
    analyses = Analyzer().analyze_batch([text for _, text in rows])
    polar = [(label, a) for (label, _), a in zip(rows, analyses, strict=True) if label != "neutral"]
    binary = sum(
        (a.probabilities[POSITIVE] >= a.probabilities[NEGATIVE]) == (label == "positive")
        for label, a in polar
    )
    figures_: dict[str, Any] = {
        "texts": len(rows),
        "binary_accuracy": round(binary / len(polar), 4) if polar else None,
    }
    if any(label == "neutral" for label, _ in rows):
        right = sum(a.polarity == label for (label, _), a in zip(rows, analyses, strict=True))
        figures_["three_way_accuracy"] = round(right / len(rows), 4)
    return figures_


def _labelled_rows(path: Path, labels: dict[str, str]) -> list[tuple[str, str]]:
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        if not {"label", "text"} <= set(reader.fieldnames or ()):
            raise ConfigError("needs columns label,text", source=str(path))
        for line, row in enumerate(reader, 2):
            label = labels.get((row["label"] or "").strip().lower())
            if label is None:
                raise ConfigError(
                    f"line {line}: label {row['label']!r} is not positive, "
                    "negative, neutral, 1 or 0",
                    source=str(path),
                )
            rows.append((label, row["text"] or ""))
    return rows


def compare_stock(corpora_dir: Path) -> dict[str, float]:
    """Texts per second of the whole analysis (as ``vocwatch classify`` runs it) and of
    stock snownlp, on the same short reviews, in this process, one after the other."""
    from snownlp import SnowNLP

    from classifiers.analyze import Analyzer

    texts = short_reviews(corpora_dir)
    analyzer = Analyzer()
    analyzer.analyze_batch(texts[:100])  # warm: the first batch builds caches
    started = time.perf_counter()
    for start in range(0, len(texts), 1000):
        analyzer.analyze_batch(texts[start : start + 1000])
    ours = len(texts) / (time.perf_counter() - started)
    sample = texts[:STOCK_TEXTS]
    SnowNLP(sample[0]).sentiments  # noqa: B018 — warm: loads the model
    started = time.perf_counter()
    for text in sample:
        SnowNLP(text).sentiments  # noqa: B018 — the work being timed
    stock = len(sample) / (time.perf_counter() - started)
    return {
        "texts": len(texts),
        "vocwatch_per_s": round(ours, 1),
        "snownlp_per_s": round(stock, 1),
        "ratio": round(ours / stock, 2),
    }


def short_reviews(corpora_dir: Path, count: int = SPEED_TEXTS) -> list[str]:
    """A fixed sample of the shopping corpus' reviews of at most 40 characters."""
    short = [e.text for e in corpora.shopping(corpora_dir) if len(e.text) <= SHORT]
    return random.Random(40).sample(short, min(count, len(short)))  # noqa: S311
