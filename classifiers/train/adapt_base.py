"""The general texts ``vocwatch adapt`` starts from (通用基准集): the features, categories and
polarity of the project's own labelled texts of 14 industries, shipped as
``classifiers/data/adapt_base.npz`` so that adapting needs no corpus on the user's machine.

Only the texts the project wrote itself are in it (data/labelled rows with a ``text``; the
rows that point at a corpus are left out), and only as hashed features: no text is shipped.
It serves twice:

* the category heads are retrained on its ``dev`` rows plus the supervisors' corrections
  (classifiers/train/adapt.py), so that a correction moves a head *against* the general
  evidence rather than alone;
* its ``test`` rows are the guard's general validation: an adapted model that scores more
  than a point below the base model there is not written.

``vocwatch train-categories`` writes it next to the model it trains (same features); build it
alone with ``python -m classifiers.train.adapt_base``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.category import CATEGORIES, load_model
from classifiers.category import MODEL_FILE as CATEGORIES_FILE
from classifiers.features import FeatureConfig
from classifiers.model import save_arrays
from classifiers.train import corpora
from classifiers.train.corpora import Example
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Polarity

BASE_FILE = Path(__file__).resolve().parents[1] / "data" / "adapt_base.npz"
_POLARITY_CODES = {None: -1, Polarity.NEGATIVE: 0, Polarity.NEUTRAL: 1, Polarity.POSITIVE: 2}


@dataclass(frozen=True)
class BaseSet:
    """Rows of general labelled features: ``rows`` (scipy CSR: the hashed columns, then the
    dense ones), ``categories`` (rows × categories, bool), ``polarity`` (−1 none, 0
    negative, 1 neutral, 2 positive), ``test`` (bool: the guard's rows) and ``domains``."""

    rows: Any
    categories: np.ndarray
    polarity: np.ndarray
    test: np.ndarray
    domains: tuple[str, ...]
    meta: dict[str, Any]

    @property
    def features(self) -> FeatureConfig:
        return FeatureConfig.from_json(self.meta["features"])

    @property
    def dense_columns(self) -> tuple[str, ...]:
        return tuple(self.meta["dense_columns"])

    def select(self, keep: np.ndarray) -> BaseSet:
        return BaseSet(
            self.rows[keep],
            self.categories[keep],
            self.polarity[keep],
            self.test[keep],
            tuple(d for d, k in zip(self.domains, keep, strict=True) if k),
            self.meta,
        )

    def save(self, path: Path) -> None:
        rows = self.rows.tocsr()
        arrays = {
            "indices": rows.indices.astype(np.int32),
            "indptr": rows.indptr.astype(np.int64),
            "values": rows.data.astype(np.float32),
            "categories": self.categories.astype(bool),
            "polarity": self.polarity.astype(np.int8),
            "test": self.test.astype(bool),
            "domains": np.array(self.domains),
            "meta": np.array(json.dumps(self.meta, ensure_ascii=False, sort_keys=True)),
        }
        save_arrays(path, arrays)

    @classmethod
    def load(cls, path: Path = BASE_FILE) -> BaseSet:
        import scipy.sparse as sparse

        try:
            with path.open("rb") as stream, np.load(stream, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            meta = json.loads(str(arrays["meta"]))
            width = (1 << int(meta["features"]["bits"])) + len(meta["dense_columns"])
            rows = sparse.csr_matrix(
                (arrays["values"], arrays["indices"], arrays["indptr"]),
                shape=(len(arrays["indptr"]) - 1, width),
            )
            return cls(
                rows,
                arrays["categories"],
                arrays["polarity"],
                arrays["test"],
                tuple(str(d) for d in arrays["domains"]),
                meta,
            )
        except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as exc:
            raise ConfigError(
                f"cannot read the general texts adapting starts from: {type(exc).__name__} {exc}"
                " (rebuild it: python -m classifiers.train.adapt_base)",
                source=str(path),
            ) from None


def from_matrix(rows: Any, examples: Sequence[Example], meta: dict[str, Any]) -> BaseSet:
    """The base set of featurized project examples (the rows of ``rows``)."""
    own = np.array([not e.text_from and e.corpus == "vocwatch" for e in examples])
    chosen = [e for e, keep in zip(examples, own, strict=True) if keep]
    return BaseSet(
        rows[own],
        np.array([[c in e.categories for c in CATEGORIES] for e in chosen], dtype=bool),
        np.array([_POLARITY_CODES[e.polarity] for e in chosen], dtype=np.int8),
        np.array([e.split == "test" for e in chosen], dtype=bool),
        tuple(e.domain for e in chosen),
        {
            **meta,
            "texts": len(chosen),
            "source": "data/labelled/<domain>.csv rows written for the project (the project's "
            "own licence); hashed features only, no text",
        },
    )


def build(
    path: Path = BASE_FILE,
    *,
    model: Path = CATEGORIES_FILE,
    labelled: Path = corpora.LABELLED,
    corpora_dir: Path = corpora.DEFAULT_CORPORA,
) -> BaseSet:
    """Featurize the project's labelled texts as the category model ``model`` does, and
    save them to ``path``."""
    from classifiers.train.fit import featurize

    category_model = load_model(model)
    examples = [
        e for e in corpora.labelled(labelled, corpora_dir) if not e.text_from and e.categories
    ]
    teacher = any(column.startswith("teacher:") for column in category_model.dense_columns)
    matrix = featurize(examples, category_model.features, teacher=teacher)
    meta = {
        "features": category_model.features.to_json(),
        "dense_columns": list(matrix.featurizer.dense_columns),
    }
    base = from_matrix(matrix.rows, matrix.examples, meta)
    base.save(path)
    return base


if __name__ == "__main__":
    built = build()
    print(f"wrote {BASE_FILE}: {len(built.domains)} texts")
