"""Adapting a text model to one company's own words (领域自适应): the pure numerics of
``vocwatch adapt`` (classifiers/train/adapt.py reads the files and writes the folder).

A general model meets an industry it has not seen: its confident answers are mostly right,
its unsure ones are where the industry's own words sit. Adaptation keeps the base model and
learns a *correction* of its weights on the user's texts:

* **pseudo-labels** (self-training): each head's confident answers on the unlabelled texts
  become targets — a probability at or above ``confident`` is a 1, at or below
  ``1 − confident`` a 0, anything between teaches nothing;
* **corrections** (a supervisor's 类别不对 / 情感不对) are targets too, weighing
  ``correction_weight`` times a pseudo-label;
* the correction ``δ`` of the weights is an L2-regularized logistic regression **anchored at
  the base model**: the logit of head k is ``base_k + scale_k × (x·δ_k)``, so with no
  evidence ``δ = 0`` and the base model is unchanged, and an n-gram the base model never
  weighed (a domain word that co-occurs with confident complaints) gets a weight from the
  texts it appears in. Only the hashed columns the user's texts use can move; the dense
  columns, the biases and the calibration stay the base model's.

The result is an ordinary :class:`classifiers.model.TextModel` (base weights plus ``δ``,
the base calibration), which the worker loads like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from classifiers.model import Heads


@dataclass(frozen=True)
class Targets:
    """What the heads learn from: ``values`` (rows × heads, 0 or 1) where ``weights``
    (rows × heads) is positive; a weight of 0 means the row teaches that head nothing."""

    values: np.ndarray
    weights: np.ndarray

    @classmethod
    def empty(cls, rows: int, heads: int) -> Targets:
        return cls(np.zeros((rows, heads)), np.zeros((rows, heads)))

    def combined(self, other: Targets) -> Targets:
        """``other``'s targets where it has any for a row and head, ours elsewhere."""
        use_other = other.weights > 0
        return Targets(
            np.where(use_other, other.values, self.values),
            np.where(use_other, other.weights, self.weights),
        )

    @property
    def count(self) -> int:
        return int((self.weights > 0).any(axis=1).sum())


def pseudo_labels(probabilities: np.ndarray, *, confident: float) -> Targets:
    """Targets from the base model's own calibrated probabilities (rows × heads): 1 at or
    above ``confident``, 0 at or below ``1 − confident``, nothing between."""
    positive = probabilities >= confident
    negative = probabilities <= 1.0 - confident
    return Targets(positive.astype(float), (positive | negative).astype(float))


def with_teacher(
    targets: Targets,
    head: int,
    teacher: np.ndarray,
    *,
    eligible: np.ndarray,
    confident: float,
    weight: float,
) -> tuple[Targets, np.ndarray]:
    """``targets`` with the teacher's confident answers for ``head``: where ``teacher``
    (its P(positive) per row; NaN: not asked) is at least ``confident`` or at most
    ``1 − confident`` on an ``eligible`` row, the row's target is the teacher's answer,
    weighing at least ``weight`` — the teacher's answer wins where the base model's own
    pseudo-label says otherwise. Also returns the rows it answered."""
    asked = ~np.isnan(teacher)
    rated = np.where(asked, teacher, 0.5)
    sure = asked & eligible & ((rated >= confident) | (rated <= 1.0 - confident))
    values, weights = targets.values.copy(), targets.weights.copy()
    values[sure, head] = (rated[sure] >= 0.5).astype(float)
    weights[sure, head] = np.maximum(weights[sure, head], weight)
    return Targets(values, weights), sure


@dataclass(frozen=True)
class Shift:
    """A correction of a model's heads: weights on ``columns`` (the hashed columns the
    user's texts use), per head. The dense columns and the biases stay the base model's:
    measured leaving each industry out, moving them too shifted every text of a small
    domain the same way (a learned prior) and cost up to 3 points there."""

    columns: np.ndarray  # int64, sorted
    weights: np.ndarray  # len(columns) × heads

    def applied_to(self, heads: Heads) -> Heads:
        weights = heads.weights.copy()
        weights[self.columns] += self.weights.astype(np.float32)
        return replace(heads, weights=weights)

    def raw(self, hashed: Any) -> np.ndarray:
        """What the shift adds to the raw scores of rows of hashed features."""
        return np.asarray(hashed[:, self.columns] @ self.weights)

    @property
    def size(self) -> float:
        """The largest weight it moves (a sanity figure for the manifest)."""
        return float(np.abs(self.weights).max(initial=0.0))


def fit_shift(
    hashed: Any,  # scipy.sparse CSR, rows × 2**bits
    base_logits: np.ndarray,  # rows × heads: the base model's calibrated logits
    scale: np.ndarray,  # heads: the calibration's scale
    targets: Targets,
    *,
    l2: float,
    max_iterations: int = 200,
) -> Shift:
    """The anchored correction that best fits ``targets``: L-BFGS over the columns in use,
    every head at once, minimizing the weighted log-loss of
    ``base_logit + scale × (x · δ)`` plus ``l2 / 2 × |δ|²``."""
    from scipy.optimize import minimize

    used = np.unique(hashed.indices)
    x = hashed[:, used].tocsr().astype(np.float64)
    shape = (len(used), base_logits.shape[1])
    weights = np.asarray(targets.weights, dtype=np.float64)
    values = np.asarray(targets.values, dtype=np.float64)
    scale64 = np.asarray(scale, dtype=np.float64)
    base64 = np.asarray(base_logits, dtype=np.float64)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        delta = theta.reshape(shape)
        z = base64 + scale64 * (x @ delta)
        # log(1 + e^z) − t·z, stably; its derivative in z is σ(z) − t
        value = float((weights * (np.logaddexp(0.0, z) - values * z)).sum())
        value += 0.5 * l2 * float((delta * delta).sum())
        gradient = x.T @ (weights * (_sigmoid(z) - values) * scale64) + l2 * delta
        return value, np.asarray(gradient).ravel()

    result = minimize(
        loss,
        np.zeros(shape[0] * shape[1]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iterations},
    )
    return Shift(used.astype(np.int64), result.x.reshape(shape).astype(np.float32))


def logits(heads: Heads, raw: np.ndarray) -> np.ndarray:
    """The calibrated logits of raw scores (rows × heads)."""
    return np.asarray(heads.scale * raw + heads.offset, dtype=np.float64)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out
