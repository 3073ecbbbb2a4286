"""What the category tools share: the labelled CSV, the text → tokens path, the figures.

Pure Python (no numpy / scikit-learn), so the CLI can import the tools cheaply.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from classifiers.category import CATEGORIES
from classifiers.normalize import normalize
from classifiers.pii import mask_pii
from classifiers.tokenize import tokenize
from vocwatch.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LABELLED_CSV = PROJECT_ROOT / "data" / "categories" / "labelled.csv"
REVIEW_LABELS_CSV = PROJECT_ROOT / "data" / "categories" / "review_labels.csv"


@dataclass(frozen=True)
class LabelledText:
    text: str
    channel: str
    categories: tuple[str, ...]  # first = primary

    @property
    def primary(self) -> str:
        return self.categories[0]


def parse_categories(field: str, where: str) -> tuple[str, ...]:
    """``a;b`` → ("a", "b"), checked: known codes, no repeats, ``other`` alone."""
    codes = tuple(code.strip() for code in field.split(";") if code.strip())
    unknown = [code for code in codes if code not in CATEGORIES]
    if not codes or unknown:
        raise ConfigError(f"categories {field!r}: unknown or empty {unknown}", source=where)
    if len(set(codes)) != len(codes) or ("other" in codes and len(codes) > 1):
        raise ConfigError(f"categories {field!r}: repeated, or 'other' with others", source=where)
    return codes


def load_labelled(path: Path) -> list[LabelledText]:
    """Rows of a ``text,channel,categories`` CSV (UTF-8, header line)."""
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        if reader.fieldnames != ["text", "channel", "categories"]:
            raise ConfigError(
                f"header must be text,channel,categories, not {reader.fieldnames}", source=str(path)
            )
        return [
            LabelledText(
                row["text"], row["channel"], parse_categories(row["categories"], f"{path}:{number}")
            )
            for number, row in enumerate(reader, 2)
        ]


def text_tokens(text: str) -> list[str]:
    """The tokens the service would see: normalize → mask personal data → tokenize."""
    return tokenize(mask_pii(normalize(text)).text)


@dataclass(frozen=True)
class CategoryFigures:
    """How predicted category lists compare with true ones (both best / primary first)."""

    rows: int
    top_in_true: float  # the predicted top category is one of the true ones
    top_is_primary: float  # ... and is the first (primary) true one
    micro_f1: float  # all predicted labels against all true labels
    per_category: dict[str, dict[str, float]]

    def to_json(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "top_in_true": self.top_in_true,
            "top_is_primary": self.top_is_primary,
            "micro_f1": self.micro_f1,
            "per_category": self.per_category,
        }


def figures(predicted: Sequence[Sequence[str]], true: Sequence[Sequence[str]]) -> CategoryFigures:
    """Top-label accuracy, label-set micro F1, and per category the precision and recall of
    the top label: precision = of the rows whose top label is c, the share where c is true;
    recall = of the rows where c is true, the share whose top label is c (a row with two
    true categories can count for one of them only)."""
    if len(predicted) != len(true):
        raise ValueError("predicted and true differ in length")
    pairs = list(zip(predicted, true, strict=True))
    n = len(pairs) or 1
    hits = sum(1 for p, t in pairs if p[0] in t)
    primary = sum(1 for p, t in pairs if p[0] == t[0])
    tp = sum(len(set(p) & set(t)) for p, t in pairs)
    n_pred = sum(len(set(p)) for p, _ in pairs)
    n_true = sum(len(set(t)) for _, t in pairs)
    per_category: dict[str, dict[str, float]] = {
        code: _top_label_figures(code, pairs) for code in CATEGORIES
    }
    return CategoryFigures(
        rows=len(pairs),
        top_in_true=round(hits / n, 4),
        top_is_primary=round(primary / n, 4),
        micro_f1=round(_f1(tp, n_pred, n_true), 4),
        per_category=per_category,
    )


def _top_label_figures(
    code: str, pairs: Iterable[tuple[Sequence[str], Sequence[str]]]
) -> dict[str, float]:
    top = true = both = 0
    for predicted, actual in pairs:
        top += predicted[0] == code
        true += code in actual
        both += predicted[0] == code and code in actual
    return {
        "precision": round(both / top, 4) if top else 0.0,
        "recall": round(both / true, 4) if true else 0.0,
        "predicted": top,
        "support": true,
    }


def _f1(tp: int, n_pred: int, n_true: int) -> float:
    return 2 * tp / (n_pred + n_true) if n_pred + n_true else 0.0


def format_figures(title: str, result: CategoryFigures) -> str:
    lines = [
        f"{title}: {result.rows} rows, top category in true {result.top_in_true:.3f}, "
        f"top = primary {result.top_is_primary:.3f}, label micro-F1 {result.micro_f1:.3f}",
        f"  {'category':<16}{'support':>8}{'top':>6}{'precision':>11}{'recall':>8}",
    ]
    for code, row in result.per_category.items():
        lines.append(
            f"  {code:<16}{row['support']:>8}{row['predicted']:>6}"
            f"{row['precision']:>11.3f}{row['recall']:>8.3f}"
        )
    return "\n".join(lines)
