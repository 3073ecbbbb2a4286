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
  the base model**: the logit of head k is ``base_k + scale_k × (x·δ_k + b_k)``, so with no
  evidence ``δ = 0`` and the base model is unchanged, and an n-gram the base model never
  weighed (a domain word that co-occurs with confident complaints) gets a weight from the
  texts it appears in. Only the columns the user's texts use can move.

The result is an ordinary :class:`classifiers.model.TextModel` (base weights plus ``δ``,
the base calibration), which the worker loads like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


def top_pseudo_labels(probabilities: np.ndarray, *, confident: float, floor: float) -> Targets:
    """Targets for one-vs-rest category heads: a row's top category is a 1 when its
    probability is at least ``confident``; then every head below ``floor`` is a 0 for it
    (the rest of that row teaches nothing)."""
    rows = np.arange(len(probabilities))
    top = probabilities.argmax(axis=1)
    sure = probabilities[rows, top] >= confident
    values = np.zeros_like(probabilities, dtype=float)
    weights = np.zeros_like(probabilities, dtype=float)
    values[rows[sure], top[sure]] = 1.0
    weights[rows[sure], top[sure]] = 1.0
    weights[sure] = np.where(probabilities[sure] <= floor, 1.0, weights[sure])
    return Targets(values, weights)


@dataclass(frozen=True)
class Shift:
    """A correction of a model's heads: ``hashed`` weights on ``columns`` (the hashed
    columns the user's texts use), dense weights and biases, per head."""

    columns: np.ndarray  # int64, sorted
    hashed: np.ndarray  # len(columns) × heads
    dense: np.ndarray  # dense columns × heads
    bias: np.ndarray  # heads

    def applied_to(self, heads: Heads) -> Heads:
        weights = heads.weights.copy()
        weights[self.columns] += self.hashed.astype(np.float32)
        return Heads(
            heads.names,
            weights,
            (heads.dense_weights + self.dense).astype(np.float32),
            (heads.bias + self.bias).astype(np.float32),
            heads.scale,
            heads.offset,
        )

    @property
    def size(self) -> float:
        """The largest weight it moves (a sanity figure for the manifest)."""
        parts = [np.abs(self.hashed).max(initial=0.0), np.abs(self.dense).max(initial=0.0)]
        return float(max(parts))


def fit_shift(
    hashed: Any,  # scipy.sparse CSR, rows × 2**bits
    dense: np.ndarray,  # rows × dense columns
    base_logits: np.ndarray,  # rows × heads: the base model's calibrated logits
    scale: np.ndarray,  # heads: the calibration's scale
    targets: Targets,
    *,
    l2: float,
    max_iterations: int = 200,
) -> Shift:
    """The anchored correction that best fits ``targets`` (L-BFGS over the columns in use;
    every head at once)."""
    from scipy.optimize import minimize

    used = np.unique(hashed.indices)
    x = hashed[:, used].tocsr().astype(np.float64)
    xd = np.asarray(dense, dtype=np.float64)
    n_hashed, n_dense, n_heads = len(used), xd.shape[1], base_logits.shape[1]
    weights = np.asarray(targets.weights, dtype=np.float64)
    values = np.asarray(targets.values, dtype=np.float64)
    scale64 = np.asarray(scale, dtype=np.float64)
    base64 = np.asarray(base_logits, dtype=np.float64)
    shape_hashed, shape_dense = (n_hashed, n_heads), (n_dense, n_heads)
    split = n_hashed * n_heads, (n_hashed + n_dense) * n_heads

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w_h = theta[: split[0]].reshape(shape_hashed)
        w_d = theta[split[0] : split[1]].reshape(shape_dense)
        bias = theta[split[1] :]
        z = base64 + scale64 * (x @ w_h + xd @ w_d + bias)
        # log(1 + e^z) − t·z, stably; its derivative in z is σ(z) − t
        value = float((weights * (np.logaddexp(0.0, z) - values * z)).sum())
        residual = weights * (_sigmoid(z) - values) * scale64
        gradient_h = x.T @ residual + l2 * w_h
        gradient_d = xd.T @ residual + l2 * w_d
        value += 0.5 * l2 * float((w_h * w_h).sum() + (w_d * w_d).sum())
        gradient = np.concatenate([gradient_h.ravel(), gradient_d.ravel(), residual.sum(axis=0)])
        return value, gradient

    start = np.zeros(split[1] + n_heads)
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iterations})
    theta = result.x
    return Shift(
        used.astype(np.int64),
        theta[: split[0]].reshape(shape_hashed).astype(np.float32),
        theta[split[0] : split[1]].reshape(shape_dense).astype(np.float32),
        theta[split[1] :].astype(np.float32),
    )


def logits(heads: Heads, raw: np.ndarray) -> np.ndarray:
    """The calibrated logits of raw scores (rows × heads)."""
    return np.asarray(heads.scale * raw + heads.offset, dtype=np.float64)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def names_of(heads: Heads, wanted: Sequence[str]) -> list[int]:
    return [heads.names.index(name) for name in wanted]
