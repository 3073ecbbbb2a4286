"""classifiers.model: linear heads, their calibration, and the model file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from classifiers.features import FeatureBatch, FeatureConfig, Featurizer
from classifiers.model import MODEL_FORMAT, Heads, TextModel, stack, weights_shape
from classifiers.tokenize import cut_all
from vocwatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = FeatureConfig(bits=10, families=("w", "c"))
DENSE = ("emoticons:positive", "emoticons:negative")


def toy(
    task: str = "sentiment",
    names: tuple[str, ...] = ("polar", "neutral"),
    config: FeatureConfig = CONFIG,
    dense: tuple[str, ...] = DENSE,
    seed: int = 1,
) -> TextModel:
    generator = np.random.default_rng(seed)
    count = len(names)
    return TextModel(
        task,
        Heads(
            names,
            generator.normal(size=(1 << config.bits, count)).astype(np.float32),
            generator.normal(size=(len(dense), count)).astype(np.float32),
            generator.normal(size=count).astype(np.float32),
            np.full(count, 1.5, dtype=np.float32),
            np.full(count, -0.25, dtype=np.float32),
        ),
        config,
        dense,
        {"version": f"{task}-test", "trained_on": [{"corpus": "vocwatch", "examples": 3}]},
    )


def batch(texts: list[str]) -> FeatureBatch:
    return Featurizer(CONFIG).transform(texts, cut_all(texts))


# --- heads ---------------------------------------------------------------------------------


def test_probabilities_are_the_calibrated_sigmoid_of_the_raw_scores() -> None:
    model = toy()
    features = batch(["快递没到", "好评", ""])
    raw = model.heads.raw(features)
    assert raw.shape == (3, 2)
    expected = features.dot(model.heads.weights, model.heads.dense_weights) + model.heads.bias
    assert np.allclose(raw, expected)
    probabilities = model.heads.probabilities(features)
    assert np.allclose(probabilities, 1 / (1 + np.exp(-(1.5 * raw - 0.25))), atol=1e-6)
    # an empty text: no features, only the bias
    assert np.allclose(raw[2], model.heads.bias)


def test_scores_far_beyond_the_calibration_are_zero_or_one() -> None:
    heads = toy().heads
    raw = np.array([[1e6, -1e6], [-1e30, 1e30]], dtype=np.float32)
    probabilities = heads.calibrated(raw)  # no overflow (warnings are errors here)
    assert np.allclose(probabilities, [[1.0, 0.0], [0.0, 1.0]], atol=1e-20)


def test_version_names_the_model() -> None:
    assert toy().version == "sentiment-test"
    unnamed = TextModel("categories", toy().heads, CONFIG, DENSE, {})
    assert unnamed.version == "categories-unversioned"


# --- the file ------------------------------------------------------------------------------


def test_a_model_round_trips_within_half_a_quantization_step(tmp_path: Path) -> None:
    model = toy()
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = TextModel.load(path, task="sentiment")
    step = np.abs(model.heads.weights).max(axis=0) / 127
    error = np.abs(loaded.heads.weights - model.heads.weights)
    assert (error <= step / 2 * (1 + 1e-5)).all()
    assert error.max() > 0  # the weights are quantized …
    for name in ("dense_weights", "bias", "scale", "offset"):  # … the rest is not
        assert np.array_equal(getattr(loaded.heads, name), getattr(model.heads, name)), name
    assert loaded.heads.names == model.heads.names
    assert (loaded.task, loaded.features, loaded.dense_columns) == ("sentiment", CONFIG, DENSE)
    assert loaded.meta["trained_on"] == model.meta["trained_on"]
    assert loaded.meta["format"] == MODEL_FORMAT
    features = batch(["快递三天没到", "非常满意"])
    assert np.allclose(
        loaded.heads.probabilities(features), model.heads.probabilities(features), atol=0.02
    )


def test_zero_weights_survive_quantization(tmp_path: Path) -> None:
    model = toy()
    heads = model.heads
    zero = TextModel(
        "sentiment",
        Heads(
            heads.names,
            np.zeros_like(heads.weights),
            heads.dense_weights,
            heads.bias,
            heads.scale,
            heads.offset,
        ),
        CONFIG,
        DENSE,
        {},
    )
    zero.save(tmp_path / "zero.npz")
    assert not TextModel.load(tmp_path / "zero.npz", task="sentiment").heads.weights.any()


def test_the_same_model_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    toy().save(first)
    toy().save(second)
    assert first.read_bytes() == second.read_bytes()
    toy(seed=2).save(second)
    assert first.read_bytes() != second.read_bytes()
    # and in another process, another day: no timestamps, no hash order
    code = (
        "import sys\nfrom pathlib import Path\n"
        "sys.path.insert(0, 'tests/classifiers')\n"
        "from test_model import toy\n"
        "toy().save(Path(sys.argv[1]))\n"
    )
    third = tmp_path / "c.npz"
    done = subprocess.run(
        [sys.executable, "-c", code, str(third)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "99"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert third.read_bytes() == first.read_bytes()


# --- files it cannot use --------------------------------------------------------------------


def arrays_of(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def rewritten(tmp_path: Path, name: str, **changes: Any) -> Path:
    """The toy model's file with some arrays changed (None: left out)."""
    good = tmp_path / "good.npz"
    toy().save(good)
    arrays = {**arrays_of(good), **changes}
    path = tmp_path / name
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def with_meta(tmp_path: Path, name: str, **changes: Any) -> Path:
    good = tmp_path / "good.npz"
    toy().save(good)
    meta = json.loads(str(arrays_of(good)["meta"]))
    meta.update(changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    return rewritten(tmp_path, name, meta=np.array(json.dumps(meta)))


def refused(path: Path, match: str, task: str = "sentiment") -> ConfigError:
    with pytest.raises(ConfigError, match=match) as caught:
        TextModel.load(path, task=task)
    assert caught.value.source == str(path)
    return caught.value


def test_a_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    refused(tmp_path / "nope.npz", "cannot read the model file")


@pytest.mark.parametrize(
    "content",
    [b"", b"not a model at all", b"PK\x03\x04 a broken zip"],
    ids=["empty", "text", "broken-zip"],
)
def test_a_file_that_is_not_a_model_is_a_config_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    refused(path, "model file")


def test_a_model_loads_into_the_array_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    toy().save(path)
    assert weights_shape(path) == (1 << CONFIG.bits, 2)  # from the header alone
    stacked = np.zeros((1 << CONFIG.bits, 3), np.float32)
    loaded = TextModel.load(path, task="sentiment", into=stacked[:, 1:])
    assert np.shares_memory(loaded.heads.weights, stacked)
    assert np.array_equal(stacked[:, 1:], TextModel.load(path, task="sentiment").heads.weights)
    assert not stacked[:, 0].any()  # nothing written beside it
    with pytest.raises(ConfigError, match=r"where .* were expected .*retrain both"):
        TextModel.load(path, task="sentiment", into=stacked)


def test_the_shape_of_a_file_without_weights_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(ConfigError, match="no weights"):
        weights_shape(path)
    with pytest.raises(ConfigError, match="cannot read the model file"):
        weights_shape(tmp_path / "missing.npz")


def test_a_single_numpy_array_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "array.npy"
    np.save(path, np.arange(3))
    refused(path, "not a vocwatch model file")


def test_an_archive_of_other_arrays_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, a=np.arange(3))
    refused(path, r"not a vocwatch model file \(missing \['bias'")
    refused(rewritten(tmp_path, "no-scale.npz", scale=None), r"missing \['scale'\]")


@pytest.mark.parametrize(
    "meta",
    [np.array("{not json"), np.array(json.dumps(["a", "list"])), np.array(json.dumps({}))],
    ids=["not-json", "not-an-object", "empty"],
)
def test_unreadable_metadata_is_a_config_error(tmp_path: Path, meta: Any) -> None:
    refused(rewritten(tmp_path, "bad-meta.npz", meta=meta), "model")


@pytest.mark.parametrize("key", ["heads", "features", "dense_columns"])
def test_metadata_without_a_key_is_a_config_error(tmp_path: Path, key: str) -> None:
    refused(with_meta(tmp_path, "no-key.npz", **{key: None}), key)


def test_a_model_of_the_other_task_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    toy().save(path)
    refused(path, "a sentiment model where a categories model is needed", task="categories")


def test_a_model_of_another_format_says_to_retrain(tmp_path: Path) -> None:
    refused(with_meta(tmp_path, "old.npz", format=1), "model format 1, expected 2: retrain")


def test_an_impossible_feature_config_is_a_config_error(tmp_path: Path) -> None:
    features = {"bits": 40, "families": ["w"], "format": 1}
    refused(with_meta(tmp_path, "bits.npz", features=features), "feature config")


def test_weights_that_do_not_fit_the_feature_config_are_refused(tmp_path: Path) -> None:
    features = {"bits": 12, "families": ["w"], "format": 1}
    refused(
        with_meta(tmp_path, "bits.npz", features=features),
        r"weights of shape \(1024, 2\) do not fit the feature configuration \(12 bits, 2 heads\)",
    )
    refused(with_meta(tmp_path, "heads.npz", heads=["polar"]), "do not fit")


def test_dense_weights_that_do_not_fit_the_dense_columns_are_refused(tmp_path: Path) -> None:
    refused(with_meta(tmp_path, "dense.npz", dense_columns=["emoticons:positive"]), "dense")
    three = np.zeros((3, 2), dtype=np.float32)
    refused(rewritten(tmp_path, "dense-weights.npz", dense_weights=three), "dense")


def test_a_bias_per_head(tmp_path: Path) -> None:
    one = np.zeros(1, dtype=np.float32)
    refused(rewritten(tmp_path, "bias.npz", bias=one), "bias")


# --- several models, one multiplication ----------------------------------------------------


def test_stacked_heads_score_like_each_model_alone() -> None:
    sentiment = toy()
    categories = toy("categories", ("price", "service", "other"), seed=3)
    heads = stack([sentiment, categories])
    assert heads.names == ("polar", "neutral", "price", "service", "other")
    features = batch(["快递没到", "太贵了", ""])
    assert np.allclose(
        heads.probabilities(features),
        np.hstack(
            [sentiment.heads.probabilities(features), categories.heads.probabilities(features)]
        ),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "other",
    [
        toy("categories", ("price",), config=FeatureConfig(bits=11, families=("w", "c"))),
        toy("categories", ("price",), config=FeatureConfig(bits=10, families=("w",))),
        toy("categories", ("price",), dense=("emoticons:positive",)),
    ],
    ids=["bits", "families", "dense-columns"],
)
def test_models_of_different_features_are_not_stacked(other: TextModel) -> None:
    with pytest.raises(ConfigError, match="categories model was trained on other features"):
        stack([toy(), other])
