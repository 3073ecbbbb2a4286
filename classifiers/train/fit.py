"""What training the text models shares: featurizing examples the way the worker does, fitting
linear heads, calibrating them on held-out domains, and leave-one-domain-out validation
(留一行业验证).

Validation leaves each service domain out in turn: the heads are trained on every other
domain (and the always-trained sources, minus any copy of a held-out text) and score the
held-out domain, which is then an industry the model has never seen. The held-out scores of
all folds, pooled, calibrate the final model (Platt scaling: ``sigmoid(a × raw + b)``), so
that its probabilities hold in a new industry; each fold's own figures are calibrated on
the *other* folds' scores, so that no figure has seen its own domain.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.analyze import featurizer_for_training
from classifiers.features import FeatureConfig, Featurizer
from classifiers.model import Heads
from classifiers.normalize import normalize
from classifiers.pii import mask_pii, without_placeholders
from classifiers.tokenize import cut_all
from classifiers.train import corpora
from classifiers.train.corpora import Example, training_set
from vocwatch.errors import ConfigError

CHUNK = 5000


@dataclass
class Matrix:
    """Examples as the training tools see them: one sparse row each (hashed columns, then
    the dense ones) and their examples."""

    rows: Any  # scipy.sparse.csr_matrix
    examples: list[Example]
    featurizer: Featurizer

    def select(self, keep: Sequence[bool] | np.ndarray) -> Matrix:
        mask = np.asarray(keep, dtype=bool)
        return Matrix(
            self.rows[mask],
            [e for e, k in zip(self.examples, mask, strict=True) if k],
            self.featurizer,
        )


def featurize(
    examples: Sequence[Example],
    config: FeatureConfig,
    *,
    teacher: bool,
    say: Callable[[str], None] | None = None,
    every: int = 10,
) -> Matrix:
    """The examples' features, computed exactly as the worker computes them; ``say`` hears
    of the progress every ``every`` chunks of 5,000 texts."""
    import scipy.sparse as sparse

    featurizer = featurizer_for_training(config, teacher=teacher)
    parts = []
    started = time.monotonic()
    for start in range(0, len(examples), CHUNK):
        chunk = examples[start : start + CHUNK]
        texts = [without_placeholders(mask_pii(normalize(e.text)).text) for e in chunk]
        batch = featurizer.transform(texts, cut_all(texts))
        hashed = sparse.csr_matrix(
            (batch.values, batch.indices, batch.indptr), shape=(batch.rows, batch.columns)
        )
        parts.append(sparse.hstack([hashed, sparse.csr_matrix(batch.dense)], format="csr"))
        if say is not None and start % (every * CHUNK) == 0:
            say(
                f"  features: {start + len(chunk)} of {len(examples)} texts "
                f"({time.monotonic() - started:.0f} s)"
            )
    return Matrix(sparse.vstack(parts, format="csr"), list(examples), featurizer)


@dataclass(frozen=True)
class Head:
    """One fitted head before calibration: hashed weights, dense weights, bias."""

    weights: np.ndarray
    dense: np.ndarray
    bias: float

    def raw(self, rows: Any) -> np.ndarray:
        columns = len(self.weights)
        scores = rows[:, :columns] @ self.weights + rows[:, columns:] @ self.dense + self.bias
        return np.asarray(scores, dtype=np.float64).ravel()


def fit_head(
    rows: Any,
    labels: np.ndarray,
    *,
    c: float,
    columns: int,
    weights: np.ndarray | None = None,
    name: str = "",
) -> Head:
    """A logistic regression (liblinear, L2) on binary ``labels``; a ConfigError naming
    the head ``name`` if they are all one class."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(labels)) < 2:
        raise ConfigError(
            f"cannot train the {name} head: its {len(labels)} training texts all have label "
            f"{labels[0] if len(labels) else None}, it needs both 0 and 1 (label more texts "
            "of it, or raise --limit)"
        )
    model = LogisticRegression(C=c, solver="liblinear", max_iter=300)
    model.fit(rows, labels.astype(int), sample_weight=weights)
    coef = model.coef_.ravel()
    return Head(
        coef[:columns].astype(np.float32),
        coef[columns:].astype(np.float32),
        float(model.intercept_[0]),
    )


def platt(raw: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Scale and offset so that ``sigmoid(scale × raw + offset)`` is calibrated."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e6, max_iter=1000)
    model.fit(raw.reshape(-1, 1), labels.astype(int))
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def sigmoid(values: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-values))
    return out


def heads(
    names: Sequence[str], fitted: Sequence[Head], calibration: Sequence[tuple[float, float]]
) -> Heads:
    """The fitted, calibrated heads as a model holds them."""
    return Heads(
        tuple(names),
        np.column_stack([h.weights for h in fitted]).astype(np.float32),
        np.column_stack([h.dense for h in fitted]).astype(np.float32),
        np.array([h.bias for h in fitted], dtype=np.float32),
        np.array([a for a, _ in calibration], dtype=np.float32),
        np.array([b for _, b in calibration], dtype=np.float32),
    )


@dataclass
class Fold:
    """One held-out domain: the raw scores of its examples, per head, and which examples."""

    domain: str
    examples: list[Example]
    raw: dict[str, np.ndarray]


def leave_one_domain_out(
    matrix: Matrix,
    domains: Sequence[str],
    fit: Callable[[Matrix], dict[str, Head]],
    evaluate_on: Callable[[Example], bool],
    *,
    say: Callable[[str], None],
    train_on: Callable[[Example, str], bool] | None = None,
) -> list[Fold]:
    """For each domain: fit on the training set without it (only the examples
    ``train_on(example, held_out_domain)`` keeps, when given: a learning curve), score its
    examples that ``evaluate_on`` selects."""
    folds = []
    for domain in domains:
        started = time.monotonic()
        train_examples = {
            id(e)
            for e in training_set(matrix.examples, domain)
            if train_on is None or train_on(e, domain)
        }
        fitted = fit(matrix.select([id(e) in train_examples for e in matrix.examples]))
        held = matrix.select([e.domain == domain and evaluate_on(e) for e in matrix.examples])
        raw = {name: head.raw(held.rows) for name, head in fitted.items()}
        folds.append(Fold(domain, held.examples, raw))
        say(f"  {domain}: {len(held.examples)} held-out texts ({time.monotonic() - started:.0f} s)")
    return folds


def calibrate_without(
    folds: Sequence[Fold],
    head: str,
    labels: Callable[[Example], int | None],
    left_out: str | None = None,
) -> tuple[float, float]:
    """Platt scaling of ``head`` on the pooled held-out scores of the folds (but
    ``left_out``'s), on the examples ``labels`` gives a 0 / 1 label."""
    raws, ys = [], []
    for fold in folds:
        if fold.domain == left_out:
            continue
        for score, example in zip(fold.raw[head], fold.examples, strict=True):
            label = labels(example)
            if label is not None:
                raws.append(score)
                ys.append(label)
    return platt(np.array(raws), np.array(ys))


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_training_arguments(parser: argparse.ArgumentParser, *, out: Path, c: float) -> None:
    """The arguments both training tools take (train-sentiment, train-categories)."""
    parser.add_argument(
        "--corpora",
        type=Path,
        default=corpora.DEFAULT_CORPORA,
        help="the folder of the corpora (../shared/data from the project root)",
    )
    parser.add_argument(
        "--labelled",
        type=Path,
        default=corpora.LABELLED,
        help="the project's labelled sets (data/labelled)",
    )
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--c", type=float, default=c, help="inverse regularization")
    parser.add_argument("--bits", type=int, default=FeatureConfig().bits)
    parser.add_argument(
        "--no-teacher",
        action="store_true",
        help="without the teacher's word table (dense features)",
    )
    parser.add_argument(
        "--test", action="store_true", help="also score the test split, leaving each domain out"
    )
    parser.add_argument(
        "--limit", type=int, default=0, help="at most this many texts per domain (a quick run)"
    )
