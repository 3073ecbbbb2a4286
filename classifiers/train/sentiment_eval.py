"""``vocwatch eval-sentiment FILE.csv``: accuracy, macro-F1 and speed on a labelled CSV.

The CSV has ``label,text`` columns (label 1/0). Texts are scored from raw text to
probability, exactly as the pipeline does (normalize → mask → tokens → model), and a text
counts as positive when its probability is ≥ 0.5. ``--compare-stock`` also runs
``SnowNLP(text).sentiments`` on the same texts in the same run and prints both speeds and
their ratio.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from classifiers.train.corpora import labelled_csv
from classifiers.train.sentiment import scores


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("csv", type=Path, help="labelled CSV with columns label,text")
    parser.add_argument("--model", type=Path, help="a model file (default: the packaged one)")
    parser.add_argument(
        "--compare-stock",
        action="store_true",
        help="also score with stock SnowNLP(text).sentiments and compare",
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N texts")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    examples = list(labelled_csv(args.csv))
    if args.limit:
        examples = examples[: args.limit]
    if not examples:
        print(f"{args.csv}: no labelled texts")
        return 2
    texts = [e.text for e in examples]
    labels = [e.label for e in examples]
    report: dict[str, Any] = {
        "file": str(args.csv),
        "texts": len(texts),
        "model": evaluate(_shipped(args.model), texts, labels),
    }
    if args.compare_stock:
        report["snownlp_stock"] = evaluate(_stock(), texts, labels)
        report["speed_ratio"] = round(
            report["model"]["texts_per_s"] / report["snownlp_stock"]["texts_per_s"], 1
        )
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        for name in ("model", "snownlp_stock"):
            if name in report:
                r = report[name]
                print(
                    f"{name:<14} accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
                    f"{r['texts_per_s']:,.0f} texts/s"
                )
        if "speed_ratio" in report:
            print(
                f"speed ratio (model / stock snownlp, same texts, same run): "
                f"{report['speed_ratio']}×"
            )
    return 0


def evaluate(
    score: Callable[[str], float], texts: Sequence[str], labels: Sequence[int]
) -> dict[str, float]:
    started = time.perf_counter()
    probabilities = [score(t) for t in texts]
    seconds = time.perf_counter() - started
    predicted = [int(p >= 0.5) for p in probabilities]
    return {**scores(predicted, labels), "texts_per_s": round(len(texts) / seconds, 1)}


def _shipped(path: Path | None) -> Callable[[str], float]:
    from classifiers.normalize import normalize
    from classifiers.pii import mask_pii
    from classifiers.sentiment import DEFAULT_MODEL_FILE, LinearSentimentModel
    from classifiers.tokenize import tokenize, warm_up

    warm_up()
    model = LinearSentimentModel.load(path or DEFAULT_MODEL_FILE)

    def score(text: str) -> float:
        clean = mask_pii(normalize(text)).text
        return model.score(tokenize(clean), clean)

    return score


def _stock() -> Callable[[str], float]:
    from snownlp import SnowNLP

    def score(text: str) -> float:
        return float(SnowNLP(text).sentiments) if text.strip() else 0.5

    return score
