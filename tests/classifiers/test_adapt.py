"""The numerics of adapting (classifiers/adapt.py): pseudo-labels, and the correction of a
model's weights anchored at the base model."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sparse

from classifiers.adapt import Shift, Targets, fit_shift, pseudo_labels, with_teacher
from classifiers.model import Heads


def test_pseudo_labels_keep_only_the_confident_answers() -> None:
    probabilities = np.array([[0.95, 0.5], [0.05, 0.91], [0.5, 0.09]])
    targets = pseudo_labels(probabilities, confident=0.9)
    assert targets.weights.tolist() == [[1, 0], [1, 1], [0, 1]]
    assert targets.values.tolist() == [[1, 0], [0, 1], [0, 0]]
    assert targets.count == 3


def test_corrections_override_pseudo_labels_where_they_say_something() -> None:
    pseudo = Targets(np.array([[1.0, 0.0], [1.0, 1.0]]), np.ones((2, 2)))
    corrected = Targets(np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[10.0, 0.0], [0.0, 0.0]]))
    combined = pseudo.combined(corrected)
    assert combined.values.tolist() == [[0, 0], [1, 1]]
    assert combined.weights.tolist() == [[10, 1], [1, 1]]


def test_the_teachers_confident_answers_join_and_win_on_eligible_rows() -> None:
    # rows: base says positive, teacher sure negative | base unsure, teacher sure positive |
    # teacher unsure | teacher not asked | teacher sure but the row is not eligible
    own = Targets(
        np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]),
        np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]),
    )
    teacher = np.array([0.1, 0.85, 0.6, np.nan, 0.99])
    eligible = np.array([True, True, True, True, False])
    taught, sure = with_teacher(own, 0, teacher, eligible=eligible, confident=0.8, weight=3.0)
    assert sure.tolist() == [True, True, False, False, False]
    assert taught.values[:, 0].tolist() == [0, 1, 1, 0, 0]
    assert taught.weights[:, 0].tolist() == [3, 3, 1, 1, 0]
    # the other head and the targets given are untouched
    assert taught.weights[:, 1].tolist() == own.weights[:, 1].tolist() == [1, 0, 0, 0, 0]
    assert own.values[0, 0] == 1 and own.weights[1, 0] == 0


def _rows(columns_per_row: list[list[int]], width: int = 64) -> sparse.csr_matrix:
    data = [(r, c) for r, cols in enumerate(columns_per_row) for c in cols]
    rows, cols = zip(*data, strict=True)
    return sparse.csr_matrix(
        (np.ones(len(data)), (rows, cols)), shape=(len(columns_per_row), width)
    )


def test_nothing_to_learn_leaves_the_base_model_as_it_is() -> None:
    hashed = _rows([[1, 2], [3]])
    shift = fit_shift(hashed, np.zeros((2, 1)), np.ones(1), Targets.empty(2, 1), l2=1.0)
    assert np.abs(shift.weights).max() < 1e-9


def test_a_domain_word_learns_the_side_of_the_texts_it_appears_in() -> None:
    # column 5: a word the base model never weighed, in texts confidently negative for
    # other reasons (column 1); column 9 likewise with positive texts (column 2)
    hashed = _rows([[1, 5]] * 20 + [[2, 9]] * 20)
    base = np.array([[-3.0]] * 20 + [[3.0]] * 20)
    targets = pseudo_labels(1 / (1 + np.exp(-base)), confident=0.9)
    shift = fit_shift(hashed, base, np.ones(1), targets, l2=1.0)
    learned = dict(zip(shift.columns.tolist(), shift.weights[:, 0].tolist(), strict=True))
    assert learned[5] < -0.1 < 0.1 < learned[9]
    # a new text with only the domain word now leans the way its texts did
    assert shift.raw(_rows([[5], [9]]))[:, 0].tolist()[0] < 0 < shift.raw(_rows([[5], [9]]))[1, 0]


def test_a_shift_adds_to_the_base_weights_of_its_columns_only() -> None:
    heads = Heads(
        ("polar",),
        np.ones((8, 1), dtype=np.float32),
        np.zeros((2, 1), dtype=np.float32),
        np.array([0.5], dtype=np.float32),
        np.ones(1, dtype=np.float32),
        np.zeros(1, dtype=np.float32),
    )
    shifted = Shift(np.array([3]), np.array([[2.0]], dtype=np.float32)).applied_to(heads)
    assert shifted.weights[:, 0].tolist() == [1, 1, 1, 3, 1, 1, 1, 1]
    assert shifted.bias.tolist() == [0.5]
    assert heads.weights[3, 0] == 1  # the base model is not changed in place
