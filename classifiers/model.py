"""A trained text model on disk and in memory (模型文件): linear *heads* over the features of
:mod:`classifiers.features`, each with its calibration, and the metadata that says what it
was trained on and how it was validated.

A head's raw score is the features times its weights plus its bias; its probability is
``sigmoid(scale × raw + offset)`` (Platt scaling, fitted on domains held out in training, so
that a probability means the same in an industry the model has not seen). The sentiment
model has the heads ``polar`` (positive rather than negative) and ``neutral``; the category
model one head per category.

File format: one ``.npz`` (numpy, no pickle) with the hashed weights as int8 with a scale
per head (about 4.7 MB for nine heads at 2¹⁹ columns), the dense weights, biases and
calibration as float32, and ``meta``: a JSON document with the task, the format, the feature
configuration, the dense columns, the corpora trained on with their licences (a data sheet),
the validation figures and the training recipe. :meth:`TextModel.load` checks it and says
what is wrong with a file it cannot use.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.features import F32, FeatureBatch, FeatureConfig
from vocwatch.errors import ConfigError

MODEL_FORMAT = 2
TASKS = ("sentiment", "categories")


@dataclass(frozen=True)
class Heads:
    """Linear heads: ``weights`` (hashed columns × heads), ``dense_weights`` (dense
    columns × heads), and per head a bias and the calibration (scale, offset)."""

    names: tuple[str, ...]
    weights: F32 = field(repr=False)
    dense_weights: F32 = field(repr=False)
    bias: F32
    scale: F32
    offset: F32

    def raw(self, batch: FeatureBatch) -> F32:
        """``rows × heads`` raw scores."""
        return batch.dot(self.weights, self.dense_weights) + self.bias

    def calibrated(self, raw: F32) -> F32:
        """Probabilities from raw scores (of these heads, in their order)."""
        # beyond ±60 the probability is 0 or 1 in float32 anyway, and exp cannot overflow
        logits = np.clip(self.scale * raw + self.offset, -60.0, 60.0)
        probabilities: F32 = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return probabilities

    def probabilities(self, batch: FeatureBatch) -> F32:
        return self.calibrated(self.raw(batch))


@dataclass(frozen=True)
class TextModel:
    task: str
    heads: Heads
    features: FeatureConfig
    dense_columns: tuple[str, ...]
    meta: Mapping[str, Any]

    @property
    def version(self) -> str:
        """What names this model in /health and metric labels, e.g. ``sentiment-2026-12-06``."""
        return str(self.meta.get("version", f"{self.task}-unversioned"))

    def save(self, path: Path) -> None:
        """Write the model (deterministic bytes for the same model: no timestamps)."""
        quantized, steps = _quantize(self.heads.weights)
        meta = {
            **self.meta,
            "format": MODEL_FORMAT,
            "task": self.task,
            "heads": list(self.heads.names),
            "features": self.features.to_json(),
            "dense_columns": list(self.dense_columns),
        }
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "weights": quantized,
            "weight_steps": steps,
            "dense_weights": self.heads.dense_weights.astype(np.float32),
            "bias": self.heads.bias.astype(np.float32),
            "scale": self.heads.scale.astype(np.float32),
            "offset": self.heads.offset.astype(np.float32),
            "meta": np.array(json.dumps(meta, ensure_ascii=False, sort_keys=True)),
        }
        save_arrays(path, arrays)

    @classmethod
    def load(cls, path: Path, *, task: str, into: F32 | None = None) -> TextModel:
        """The model in ``path``; its hashed weights are written into ``into`` when given (a
        float32 array, or a view of one, of their shape: see :func:`weights_shape`), else
        into a new array."""
        where = str(path)
        arrays = _read_arrays(path)
        missing = {
            "weights",
            "weight_steps",
            "dense_weights",
            "bias",
            "scale",
            "offset",
            "meta",
        } - arrays.keys()
        if missing:
            raise ConfigError(
                f"not a vocwatch model file (missing {sorted(missing)})", source=where
            )
        meta = _read_meta(arrays["meta"], where)
        if meta.get("format") != MODEL_FORMAT:
            raise ConfigError(
                f"model format {meta.get('format')}, expected {MODEL_FORMAT}: "
                "retrain it with this version",
                source=where,
            )
        if meta.get("task") != task:
            raise ConfigError(
                f"a {meta.get('task')} model where a {task} model is needed", source=where
            )
        try:
            names = tuple(str(name) for name in meta["heads"])
            dense_columns = tuple(str(column) for column in meta["dense_columns"])
            features = FeatureConfig.from_json(meta["features"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(
                f"not a vocwatch model file (its metadata: {type(exc).__name__} {exc})",
                source=where,
            ) from None
        count = len(names)
        if arrays["weights"].shape != (1 << features.bits, count):
            raise ConfigError(
                f"weights of shape {arrays['weights'].shape} do not fit the feature "
                f"configuration ({features.bits} bits, {count} heads)",
                source=where,
            )
        expected = {
            "weight_steps": (count,),
            "dense_weights": (len(dense_columns), count),
            "bias": (count,),
            "scale": (count,),
            "offset": (count,),
        }
        for name, shape in expected.items():
            if arrays[name].shape != shape:
                raise ConfigError(
                    f"{name} of shape {arrays[name].shape} do not fit {count} heads and "
                    f"{len(dense_columns)} dense columns",
                    source=where,
                )
        if into is None:
            into = np.empty(arrays["weights"].shape, np.float32)
        elif into.shape != arrays["weights"].shape or into.dtype != np.float32:
            raise ConfigError(
                f"weights of shape {arrays['weights'].shape} where {into.shape} were expected "
                "(a model trained on other features than the other one: retrain both)",
                source=where,
            )
        # int8 × step straight into float32: no float32 temporary of the whole table
        np.multiply(arrays["weights"], arrays["weight_steps"], out=into)
        heads = Heads(
            names,
            into,
            arrays["dense_weights"],
            arrays["bias"],
            arrays["scale"],
            arrays["offset"],
        )
        return cls(task, heads, features, dense_columns, meta)


def save_arrays(path: Path, arrays: Mapping[str, np.ndarray[Any, Any]]) -> None:
    """Arrays as a compressed ``.npz`` (no pickle), with the same bytes for the same arrays:
    no timestamps, names in order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.save(buffer, arrays[name], allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def _read_arrays(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """The arrays of a ``.npz`` file; a ConfigError for anything else."""
    where = str(path)
    try:  # our own file object: numpy leaves its own open when a zip is broken
        with path.open("rb") as stream:
            data = np.load(stream, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ConfigError(
                    "not a vocwatch model file (one array, not an archive)", source=where
                )
            with data:
                return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ConfigError(f"cannot read the model file: {exc}", source=where) from None


def _read_meta(raw: np.ndarray[Any, Any], where: str) -> dict[str, Any]:
    try:
        meta = json.loads(str(raw))
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise ConfigError(
            "not a vocwatch model file (its metadata is not a JSON object)", source=where
        )
    return meta


def weights_shape(path: Path) -> tuple[int, int]:
    """The shape of a model file's hashed weights (columns × heads), from the array's header
    alone; a ConfigError if the file has none."""
    where = str(path)
    try:
        with zipfile.ZipFile(path) as archive, archive.open("weights.npy") as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, _ = np.lib.format.read_array_header_1_0(member)
            else:
                shape, _, _ = np.lib.format.read_array_header_2_0(member)
    except KeyError:
        raise ConfigError("not a vocwatch model file (no weights)", source=where) from None
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise ConfigError(f"cannot read the model file: {exc}", source=where) from None
    if len(shape) != 2:
        raise ConfigError(f"weights of shape {shape}, not columns × heads", source=where)
    return int(shape[0]), int(shape[1])


def stack(models: Sequence[TextModel], weights: F32 | None = None) -> Heads:
    """The heads of several models as one: one multiplication scores them all. They must
    share their features (configuration and dense columns). ``weights``: the stacked
    weights, when the models were loaded into views of it (``TextModel.load(into=…)``, no
    copy); else they are copied into a new array."""
    first = models[0]
    for model in models[1:]:
        if (model.features, model.dense_columns) != (first.features, first.dense_columns):
            raise ConfigError(
                f"the {model.task} model was trained on other features than the {first.task} "
                "model: retrain both with this version"
            )
    parts = [model.heads for model in models]
    return Heads(
        tuple(name for heads in parts for name in heads.names),
        np.hstack([h.weights for h in parts]) if weights is None else weights,
        np.hstack([h.dense_weights for h in parts]),
        np.concatenate([h.bias for h in parts]),
        np.concatenate([h.scale for h in parts]),
        np.concatenate([h.offset for h in parts]),
    )


def sharing(models: Sequence[TextModel], heads: Heads) -> list[TextModel]:
    """The models with their weights replaced by views of ``heads`` (their :func:`stack`):
    one copy of the weights in memory, not two (about 19 MB of the analysis process's at
    2¹⁹ columns)."""
    shared, start = [], 0
    for model in models:
        end = start + len(model.heads.names)
        shared.append(
            replace(
                model,
                heads=replace(
                    model.heads,
                    weights=heads.weights[:, start:end],
                    dense_weights=heads.dense_weights[:, start:end],
                ),
            )
        )
        start = end
    return shared


def _quantize(weights: F32) -> tuple[np.ndarray[Any, np.dtype[np.int8]], F32]:
    """int8 weights and the step of each head: ``weights ≈ int8 × step`` (error ≤ step / 2,
    a 254th of the head's largest weight)."""
    largest = np.abs(weights).max(axis=0)
    steps: F32 = np.where(largest > 0, largest / 127.0, 1.0).astype(np.float32)
    quantized = np.round(weights / steps).astype(np.int8)
    return quantized, steps
