"""``vocwatch eval-categories``: the category model on real negative reviews.

    vocwatch eval-categories --zip ../shared/data/online_shopping_10_cats.zip
                             [--labels data/categories/review_labels.csv]
                             [--half all|dev|test] [--model FILE] [--json] [--show-errors]

The reviews stay in the zip (the ChineseNlpCorpus ``online_shopping_10_cats`` set, one CSV
``cat,label,review`` with a BOM); the project keeps only ``row,categories`` (row = 0-based
index of the data row). The rows were drawn by :func:`sample_rows` (``--print-sample``
prints them for labelling) and labelled by hand. Rows with an even index are the
development half, tuned on; rows with an odd index are the test half, looked at once.

Prints the share of reviews whose top predicted category is one of the true ones, overall
and per product category, and per issue category the precision and recall of the top label.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifiers.category import MODEL_FILE, CategoryClassifier, CategoryModel
from classifiers.train.category_data import (
    REVIEW_LABELS_CSV,
    CategoryFigures,
    figures,
    format_figures,
    parse_categories,
    text_tokens,
)
from vocwatch.errors import ConfigError

#: How the labelled rows were drawn: this many negative reviews per product category …
SAMPLE_PER_CATEGORY = 32
#: … with this seed.
SAMPLE_SEED = 20240611
HALVES = ("all", "dev", "test")


@dataclass(frozen=True)
class Review:
    row: int  # 0-based index of the data row in the CSV
    product: str  # the corpus' cat column: 书籍, 平板, 手机 …
    label: str  # 1 positive, 0 negative
    text: str


def read_reviews(path: Path) -> list[Review]:
    """All rows of the corpus zip (its one CSV, UTF-8 with or without a BOM)."""
    with zipfile.ZipFile(path) as archive:
        members = [name for name in archive.namelist() if name.endswith(".csv")]
        if len(members) != 1:
            raise ConfigError(f"expected one CSV in the zip, found {members}", source=str(path))
        text = archive.read(members[0]).decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    if not {"cat", "label", "review"} <= set(reader.fieldnames or ()):
        raise ConfigError(
            f"columns must include cat,label,review, not {reader.fieldnames}", source=str(path)
        )
    return [
        Review(row, record["cat"], record["label"], record["review"] or "")
        for row, record in enumerate(reader)
    ]


def sample_rows(
    reviews: Sequence[Review], per_category: int = SAMPLE_PER_CATEGORY, seed: int = SAMPLE_SEED
) -> list[int]:
    """Rows of non-empty negative reviews, ``per_category`` of each product category drawn
    with one seeded generator, categories in sorted order, rows sorted within each."""
    by_product: dict[str, list[int]] = {}
    for review in reviews:
        if review.label == "0" and review.text.strip():
            by_product.setdefault(review.product, []).append(review.row)
    generator = random.Random(seed)  # noqa: S311 — a reproducible sample, not a secret
    chosen: list[int] = []
    for product in sorted(by_product):
        rows = by_product[product]
        chosen.extend(sorted(generator.sample(rows, min(per_category, len(rows)))))
    return chosen


def read_labels(path: Path) -> dict[int, tuple[str, ...]]:
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        if reader.fieldnames != ["row", "categories"]:
            raise ConfigError(
                f"header must be row,categories, not {reader.fieldnames}", source=str(path)
            )
        labels: dict[int, tuple[str, ...]] = {}
        for number, record in enumerate(reader, 2):
            row = int(record["row"])
            if row in labels:
                raise ConfigError(f"line {number}: row {row} labelled twice", source=str(path))
            labels[row] = parse_categories(record["categories"], f"{path}:{number}")
        return labels


def in_half(row: int, half: str) -> bool:
    return half == "all" or (row % 2 == 0) == (half == "dev")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--zip",
        type=Path,
        required=True,
        help="online_shopping_10_cats.zip (from the project root: "
        "../shared/data/online_shopping_10_cats.zip)",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        default=REVIEW_LABELS_CSV,
        help="row,categories CSV (default: %(default)s)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=MODEL_FILE,
        help="category model file (default: the shipped one)",
    )
    parser.add_argument(
        "--half",
        choices=HALVES,
        default="all",
        help="dev = even rows (tuned on), test = odd rows (held out)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--show-errors",
        action="store_true",
        help="also list the reviews whose top category is wrong",
    )
    parser.add_argument(
        "--print-sample",
        action="store_true",
        help="print the sampled rows (row, product, text) for labelling and "
        "stop; nothing is evaluated",
    )


def run(args: argparse.Namespace) -> int:
    reviews = read_reviews(args.zip)
    if args.print_sample:
        for row in sample_rows(reviews):
            print(row, reviews[row].product, reviews[row].text.replace("\n", " "), sep="\t")
        return 0
    labels = read_labels(args.labels)
    missing = [row for row in labels if not 0 <= row < len(reviews)]
    if missing:
        raise ConfigError(f"rows {missing[:5]} are not in the zip", source=str(args.labels))
    classifier = CategoryClassifier(CategoryModel.load(args.model))
    rows = sorted(row for row in labels if in_half(row, args.half))
    predicted = [
        tuple(s.code for s in classifier.classify(text_tokens(reviews[row].text))) for row in rows
    ]
    report = _report(args.half, rows, predicted, labels, reviews)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    print(_format(report, args.model))
    if args.show_errors:
        for row, guess in zip(rows, predicted, strict=True):
            if guess[0] not in labels[row]:
                print(
                    f"{row}\t{reviews[row].product}\tpredicted {';'.join(guess)}\ttrue "
                    f"{';'.join(labels[row])}\t{reviews[row].text[:120]}"
                )
    return 0


def _report(
    half: str,
    rows: Sequence[int],
    predicted: Sequence[tuple[str, ...]],
    labels: dict[int, tuple[str, ...]],
    reviews: Sequence[Review],
) -> dict[str, Any]:
    overall = figures(predicted, [labels[row] for row in rows])
    per_product: dict[str, dict[str, float]] = {}
    for row, guess in zip(rows, predicted, strict=True):
        entry = per_product.setdefault(reviews[row].product, {"rows": 0, "hits": 0})
        entry["rows"] += 1
        entry["hits"] += guess[0] in labels[row]
    for entry in per_product.values():
        entry["top_in_true"] = round(entry["hits"] / entry["rows"], 4)
    return {
        "half": half,
        **overall.to_json(),
        "per_product_category": dict(sorted(per_product.items())),
    }


def _format(report: dict[str, Any], model: Path) -> str:
    hits = sum(int(entry["hits"]) for entry in report["per_product_category"].values())
    lines = [
        f"model {model}",
        f"{report['half']} half: top category in true {report['top_in_true']:.3f} "
        f"({hits}/{report['rows']})",
        "per product category:",
    ]
    for product, entry in report["per_product_category"].items():
        lines.append(
            f"  {product:<6}{entry['top_in_true']:>7.3f}  "
            f"({int(entry['hits'])}/{int(entry['rows'])})"
        )
    figures_only = {
        key: report[key]
        for key in ("rows", "top_in_true", "top_is_primary", "micro_f1", "per_category")
    }
    lines.append(format_figures("issue categories", CategoryFigures(**figures_only)))
    return "\n".join(lines)
