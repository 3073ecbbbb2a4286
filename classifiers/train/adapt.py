"""``vocwatch adapt``: text models adapted to one company's own traffic and corrections.

    vocwatch adapt --texts week.jsonl [--labels corrections.jsonl] --out models/acme
    VOCWATCH_MODEL_DIR=models/acme vocwatch worker      # or: vocwatch classify --model-dir …

``--texts``: JSON lines with at least ``text`` (and optionally ``channel``): a day or a week
of the company's complaints, calls and posts, unlabelled. ``--labels``: JSON lines of
corrections (``vocwatch corrections export`` writes them), each with ``text`` and any of
``category`` / ``categories`` / ``sentiment``. ``--base-dir``: start from these models
instead of the shipped ones; when it is an adapted folder, the models *it* was adapted from
(its ``base/``) are adapted again with its corrections and the new ones (a correction of
the same text replaces the fields it gives): adapting again never forgets a correction and
never counts one twice.

What it does (measured choices: docs/classifiers.md, "Adapting to your domain"):

* **sentiment** — self-training anchored at the base model (classifiers/adapt.py): the base
  model's confident answers on the user's texts, the offline teacher's confident answers on
  a sample of them (classifiers/train/sentence_teacher.py: the ``adapt`` extra; skipped,
  with a message, when it is not installed, and with ``--no-teacher``), and the corrections
  (weighing ``--correction-weight`` pseudo-labels each), fit a regularized correction of
  its weights;
* **categories** — the heads are retrained on the general texts (classifiers/train/
  adapt_base.py) plus the corrections; without category corrections they stay the base
  model's (every unsupervised variant measured below the base model, leaving each industry
  out);
* **guard** — both adapted models are scored against the base models on the general texts'
  test rows; one more than ``--guard`` below is not written, and the command says why.

It writes ``sentiment.npz``, ``categories.npz``, ``corrections.jsonl`` (every correction
learned from), ``manifest.json`` (base versions, sizes of the data, figures, time and
memory) and ``base/`` (the models adapted from) into ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from classifiers import adapt as numerics
from classifiers.analyze import Models
from classifiers.category import CATEGORIES
from classifiers.category import MODEL_FILE as CATEGORIES_FILE
from classifiers.corrections import Correction, merge, parse_correction
from classifiers.model import Heads, TextModel
from classifiers.sentiment import MODEL_FILE as SENTIMENT_FILE
from classifiers.train.adapt_base import BASE_FILE, BaseSet
from classifiers.train.corpora import Example
from classifiers.train.fit import Matrix, featurize, fit_head, say
from classifiers.train.sentence_teacher import TeacherHead, missing
from vocwatch.errors import ConfigError, InvalidCorrection
from vocwatch.vocabulary import Channel, Polarity

CORRECTIONS_FILE = "corrections.jsonl"
BASE_FOLDER = "base"  # in an adapted folder: the models it was adapted from
MANIFEST_FILE = "manifest.json"
MAX_TEXT = 2000  # characters: a longer text is cut (as the worker's events are)


#: What the teacher says of texts: each one's P(positive) (TeacherHead.rate).
Rater = Callable[[Sequence[str]], np.ndarray]


class AdaptRefused(ConfigError):
    """The guard found the adapted models worse than the base on the general texts."""


@dataclass(frozen=True)
class Recipe:
    """The adaptation's settings; the defaults are the measured ones."""

    confident: float = 0.9  # a pseudo-label needs the base model this sure
    l2: float = 1.0  # regularization of the sentiment correction (1 / C)
    correction_weight: float = 10.0  # a correction weighs this many pseudo-labels
    category_c: float = 8.0  # the category heads' inverse regularization (train-categories')
    guard: float = 0.01  # the most an adapted model may lose on the general texts
    # more texts than this: an even sample. What eval-adapt measures (at most 20,000 of an
    # industry); 50,000 shopping reviews drifted past the guard where 20,000 did not, and
    # the sample bounds the memory (~0.5 GB)
    max_texts: int = 20_000
    # fewer unlabelled texts than this: no self-training, corrections only (leaving each
    # industry out, dev split: every domain of 200-500 texts lost up to 1.5 points, every
    # one of 1,400 or more gained up to 2.2)
    min_texts: int = 2_000
    # the offline teacher's confident answers (docs/classifiers.md, "A sentence-level
    # teacher"): P(positive) this sure either way, on this many of the texts (an even
    # sample: about 70 s here), weighing this many pseudo-labels each; chosen on the dev
    # split leaving each industry out, as every value above
    teacher_confident: float = 0.8
    teacher_texts: int = 3_000
    teacher_weight: float = 3.0

    def to_json(self) -> dict[str, float | int]:
        return {
            "confident": self.confident,
            "l2": self.l2,
            "correction_weight": self.correction_weight,
            "category_c": self.category_c,
            "guard": self.guard,
            "max_texts": self.max_texts,
            "min_texts": self.min_texts,
            "teacher_confident": self.teacher_confident,
            "teacher_texts": self.teacher_texts,
            "teacher_weight": self.teacher_weight,
        }


# --- reading the user's files ----------------------------------------------------------------


def read_texts(path: Path, *, limit: int) -> tuple[list[str], list[Channel | None], int]:
    """The texts of a JSON-lines file (``text``, optional ``channel``), at most ``limit`` (an
    even sample beyond), and how many lines there were. A ConfigError names the line of any
    that is not such an object."""
    texts: list[str] = []
    channels: list[Channel | None] = []
    for where, record in _json_lines(path):
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError("needs a non-empty string 'text'", source=where)
        texts.append(text.strip()[:MAX_TEXT])
        channels.append(_channel(record.get("channel"), where))
    if not texts:
        raise ConfigError("has no texts to adapt to", source=str(path))
    total = len(texts)
    if total > limit:
        chosen = np.linspace(0, total - 1, limit).astype(int)
        texts = [texts[i] for i in chosen]
        channels = [channels[i] for i in chosen]
    return texts, channels, total


def read_labels(path: Path) -> list[Correction]:
    """The corrections of a LABELS file (JSON lines: classifiers/corrections.py); a
    ConfigError names the line and the field of a bad one."""
    labels = []
    for where, record in _json_lines(path):
        try:
            labels.append(parse_correction(record))
        except InvalidCorrection as exc:
            raise ConfigError(str(exc), source=where) from None
    return labels


def merge_labels(older: Iterable[Correction], newer: Iterable[Correction]) -> list[Correction]:
    """One correction per text, the newer over the older (classifiers.corrections.merge),
    in the order first seen."""
    merged: dict[str, Correction] = {}
    for label in [*older, *newer]:
        merged[label.key] = merge(merged[label.key], label) if label.key in merged else label
    return list(merged.values())


def _json_lines(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    try:
        stream = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror}", source=str(path)) from None
    with stream:
        for number, line in enumerate(stream, 1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"not JSON: {exc}", source=where) from None
            if not isinstance(record, dict):
                raise ConfigError("not a JSON object", source=where)
            yield where, record


def _channel(value: object, where: str) -> Channel | None:
    if value is None:
        return None
    try:
        return Channel(str(value))
    except ValueError:
        known = ", ".join(c.value for c in Channel)
        raise ConfigError(f"unknown channel {value!r} (one of {known})", source=where) from None


# --- adapting ---------------------------------------------------------------------------------


@dataclass
class Adapted:
    sentiment: TextModel
    categories: TextModel
    report: dict[str, Any]


def adapt(
    base: Models,
    texts: Sequence[str],
    labels: Sequence[Correction],
    general: BaseSet,
    recipe: Recipe = Recipe(),
    *,
    channels: Sequence[Channel | None] | None = None,
    teacher: Rater | None = None,
    progress: Callable[[str], None] = say,
) -> Adapted:
    """Adapt ``base`` to ``texts`` and ``labels``, and guard the result on ``general``;
    with ``teacher``, its confident answers on a sample of the texts are pseudo-labels too
    (when there are enough texts to self-train). An AdaptRefused when an adapted model is
    worse than the base beyond ``recipe.guard``."""
    _check_features(base, general)
    examples = [
        Example("user", f"text:{i}", text, None, channel=(channels or [None] * len(texts))[i])
        for i, text in enumerate(texts)
    ] + [
        Example("user", f"label:{i}", label.text, label.sentiment, label.categories)
        for i, label in enumerate(labels)
    ]
    progress(f"features of {len(texts)} texts and {len(labels)} corrections …")
    matrix = featurize(
        examples, base.sentiment.features, teacher=_uses_teacher(base), say=progress, every=1
    )
    corrections = np.arange(len(examples)) >= len(texts)
    rated, teacher_report = teacher_answers(teacher, texts, len(examples), recipe, progress)
    progress("sentiment: self-training anchored at the base model …")
    sentiment, sentiment_report = adapt_sentiment(
        base.sentiment, matrix, corrections, recipe, teacher=rated
    )
    sentiment_report["teacher"] = teacher_report
    progress("categories …")
    categories, reference, category_report = adapt_categories(
        base.categories, matrix, corrections, general, recipe
    )
    progress("guard: the general texts …")
    guard = check_guard(base.sentiment, sentiment, reference, categories, general, recipe)
    report = {
        "texts": len(texts),
        "corrections": {
            "sentiment": sum(label.sentiment is not None for label in labels),
            "categories": sum(bool(label.categories) for label in labels),
        },
        "sentiment": sentiment_report,
        "categories": category_report,
        "guard": guard,
    }
    return Adapted(sentiment, categories, report)


def teacher_answers(
    teacher: Rater | None,
    texts: Sequence[str],
    rows: int,
    recipe: Recipe,
    progress: Callable[[str], None],
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The teacher's P(positive) per row of the examples (NaN where not asked: the texts
    outside its sample and the corrections), and what the manifest says of it."""
    if teacher is None:
        return None, {"used": False, "why": "no teacher"}
    if len(texts) < recipe.min_texts:
        return None, {"used": False, "why": f"fewer than {recipe.min_texts} texts"}
    sample = np.arange(len(texts))
    if len(texts) > recipe.teacher_texts:  # an even sample, the same for the same texts
        sample = np.sort(
            np.random.default_rng(0).choice(len(texts), recipe.teacher_texts, replace=False)
        )
    progress(f"teacher: {len(sample)} of the texts …")
    started = time.monotonic()
    rated = np.full(rows, np.nan)
    rated[sample] = teacher([texts[i] for i in sample.tolist()])
    return rated, {
        "used": True,
        "texts": len(sample),
        "seconds": round(time.monotonic() - started, 1),
    }


def adapt_sentiment(
    base: TextModel,
    matrix: Matrix,
    corrections: np.ndarray,
    recipe: Recipe,
    *,
    teacher: np.ndarray | None = None,
) -> tuple[TextModel, dict[str, Any]]:
    """The sentiment model adapted to ``matrix``'s examples: the rows ``corrections`` marks
    are corrections (their labels count), the others unlabelled texts. ``teacher``: the
    offline teacher's P(positive) per row (NaN: not asked); its confident answers on texts
    the base model does not call neutral are pseudo-labels too."""
    hashed, dense = _parts(matrix.rows, base)
    heads = base.heads
    raw = _raw(heads, hashed, dense)
    logits = numerics.logits(heads, raw)
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    polar, neutral = heads.names.index("polar"), heads.names.index("neutral")
    is_label = corrections
    # pseudo-labels: the polar head's confident answers on texts it calls polar at all
    pseudo = numerics.pseudo_labels(probabilities, confident=recipe.confident)
    pseudo.weights[:, neutral] = 0.0
    polar_text = probabilities[:, neutral] < 0.5
    pseudo.weights[~polar_text, polar] = 0.0
    taught: dict[str, int] = {}
    if teacher is not None and (~is_label).sum() >= recipe.min_texts:
        own = pseudo
        pseudo, sure = numerics.with_teacher(
            own,
            polar,
            teacher,
            eligible=polar_text & ~is_label,
            confident=recipe.teacher_confident,
            weight=recipe.teacher_weight,
        )
        overruled = (
            sure & (own.weights[:, polar] > 0) & (own.values[:, polar] != pseudo.values[:, polar])
        )
        taught = {
            "teacher_pseudo_labels": int(sure.sum()),
            "teacher_overruled": int(overruled.sum()),
        }
    pseudo.weights[is_label] = 0.0
    if (~is_label).sum() < recipe.min_texts:
        pseudo.weights[:] = 0.0
    corrected = numerics.Targets.empty(len(matrix.examples), len(heads.names))
    for row, example in enumerate(matrix.examples):
        if not is_label[row] or example.polarity is None:
            continue
        corrected.weights[row, neutral] = recipe.correction_weight
        corrected.values[row, neutral] = float(example.polarity == Polarity.NEUTRAL)
        if example.polarity != Polarity.NEUTRAL:
            corrected.weights[row, polar] = recipe.correction_weight
            corrected.values[row, polar] = float(example.polarity == Polarity.POSITIVE)
    targets = pseudo.combined(corrected)
    shift = numerics.fit_shift(hashed, logits, heads.scale, targets, l2=recipe.l2)
    adapted = shift.applied_to(heads)
    new_raw = _raw(adapted, hashed, dense)
    changed: np.ndarray = _changed_polarity(heads, adapted, raw, new_raw)
    report: dict[str, Any] = {
        "pseudo_labels": int((pseudo.weights[:, polar] > 0).sum()),
        **taught,
        "corrections": corrected.count,
        "columns_moved": len(shift.columns),
        "largest_weight_moved": round(shift.size, 4),
        "texts_changing_polarity": round(float(changed[~is_label].mean()), 4)
        if (~is_label).any()
        else 0.0,
    }
    return replace(base, heads=adapted), report


def adapt_categories(
    base: TextModel, matrix: Matrix, corrections: np.ndarray, general: BaseSet, recipe: Recipe
) -> tuple[TextModel, TextModel, dict[str, Any]]:
    """The category model retrained on the general texts' dev rows plus the corrections
    (the rows of ``matrix`` that ``corrections`` marks and that have categories), and its
    reference: the same without corrections, which the guard compares it with (the base
    model itself was trained on the guard's rows)."""
    corrected = [i for i, e in enumerate(matrix.examples) if corrections[i] and e.categories]
    if not corrected:
        return base, base, {"retrained": False, "why": "no category corrections"}
    train = general.select(~general.test)
    adapted = _retrained(base, train, matrix.select(_mask(len(matrix.examples), corrected)), recipe)
    reference = _retrained(base, train, None, recipe)
    return (
        adapted,
        reference,
        {
            "retrained": True,
            "general_texts": int(train.rows.shape[0]),
            "corrections": len(corrected),
        },
    )


def _retrained(
    base: TextModel, general: BaseSet, corrections: Matrix | None, recipe: Recipe
) -> TextModel:
    import scipy.sparse as sparse

    rows, weights, truth = general.rows, np.ones(general.rows.shape[0]), general.categories
    if corrections is not None:
        rows = sparse.vstack([rows, corrections.rows], format="csr")
        weights = np.concatenate(
            [weights, np.full(len(corrections.examples), recipe.correction_weight)]
        )
        corrected = np.array(
            [[code in e.categories for code in CATEGORIES] for e in corrections.examples]
        )
        truth = np.vstack([truth, corrected])
    columns = 1 << base.features.bits
    fitted = [
        fit_head(
            rows,
            truth[:, index].astype(int),
            c=recipe.category_c,
            columns=columns,
            weights=weights,
            name=code.value,
        )
        for index, code in enumerate(CATEGORIES)
    ]
    heads = Heads(
        base.heads.names,
        np.column_stack([h.weights for h in fitted]).astype(np.float32),
        np.column_stack([h.dense for h in fitted]).astype(np.float32),
        np.array([h.bias for h in fitted], dtype=np.float32),
        base.heads.scale,
        base.heads.offset,
    )
    return replace(base, heads=heads)


def _mask(size: int, chosen: Sequence[int]) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[list(chosen)] = True
    return mask


def check_guard(
    base_sentiment: TextModel,
    sentiment: TextModel,
    base_categories: TextModel,
    categories: TextModel,
    general: BaseSet,
    recipe: Recipe,
) -> dict[str, Any]:
    """Base and adapted figures on the general texts' test rows; AdaptRefused beyond the
    guard. (The base sentiment model was trained on these rows among 100,000 others: the
    figure measures forgetting, not a new industry.)"""
    check = general.select(general.test)
    hashed, dense = _parts(check.rows, base_sentiment)
    pairs = {
        "sentiment_binary_accuracy": {
            "base": _binary_accuracy(base_sentiment.heads, hashed, dense, check.polarity),
            "adapted": _binary_accuracy(sentiment.heads, hashed, dense, check.polarity),
        },
        "category_top_in_gold": {
            "base": _top_in_gold(base_categories.heads, hashed, dense, check.categories),
            "adapted": _top_in_gold(categories.heads, hashed, dense, check.categories),
        },
    }
    for name, pair in pairs.items():
        if pair["adapted"] < pair["base"] - recipe.guard:
            raise AdaptRefused(
                f"the adapted model's {name.replace('_', ' ')} on the general texts is "
                f"{pair['adapted']:.4f}, more than {recipe.guard:.2f} below the base model's "
                f"{pair['base']:.4f}: not written (fewer or more consistent corrections, or a "
                "larger --guard if that is what you want)"
            )
    return {"texts": int(check.rows.shape[0]), **pairs}


def _binary_accuracy(heads: Heads, hashed: Any, dense: np.ndarray, polarity: np.ndarray) -> float:
    polar_rows = (polarity == 0) | (polarity == 2)
    raw = _raw(heads, hashed[polar_rows], dense[polar_rows])
    polar = heads.names.index("polar")
    positive = raw[:, polar] * heads.scale[polar] + heads.offset[polar] >= 0
    return round(float((positive == (polarity[polar_rows] == 2)).mean()), 4)


def _top_in_gold(heads: Heads, hashed: Any, dense: np.ndarray, truth: np.ndarray) -> float:
    top = numerics.logits(heads, _raw(heads, hashed, dense)).argmax(axis=1)
    return round(float(truth[np.arange(len(top)), top].mean()), 4)


def _changed_polarity(
    before: Heads, after: Heads, raw: np.ndarray, new_raw: np.ndarray
) -> np.ndarray:
    from classifiers.sentiment import three_way

    def answer(heads: Heads, scores: np.ndarray) -> np.ndarray:
        p = heads.calibrated(scores.astype(np.float32))
        chosen: np.ndarray = three_way(p[:, 0], p[:, 1]).argmax(axis=1)
        return chosen

    changed: np.ndarray = np.not_equal(answer(before, raw), answer(after, new_raw))
    return changed


def _parts(rows: Any, model: TextModel) -> tuple[Any, np.ndarray]:
    columns = 1 << model.features.bits
    return rows[:, :columns].tocsr(), np.asarray(rows[:, columns:].todense(), dtype=np.float64)


def _raw(heads: Heads, hashed: Any, dense: np.ndarray) -> np.ndarray:
    return np.asarray(hashed @ heads.weights + dense @ heads.dense_weights + heads.bias)


def _uses_teacher(models: Models) -> bool:
    return any(column.startswith("teacher:") for column in models.sentiment.dense_columns)


def _check_features(base: Models, general: BaseSet) -> None:
    if (base.categories.features, base.categories.dense_columns) != (
        general.features,
        general.dense_columns,
    ):
        raise ConfigError(
            "the general texts were featurized for another category model: rebuild them "
            "(python -m classifiers.train.adapt_base) or retrain (vocwatch train-categories)"
        )


# --- the command -------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--texts", type=Path, required=True, help="JSON lines: text, channel")
    parser.add_argument("--labels", type=Path, help="JSON lines of corrections")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write")
    parser.add_argument(
        "--base-dir", type=Path, help="adapt these models (default: the shipped ones)"
    )
    parser.add_argument(
        "--general",
        type=Path,
        default=BASE_FILE,
        help="the general texts' features (default: the shipped ones, for the shipped models)",
    )
    recipe = Recipe()
    parser.add_argument("--correction-weight", type=float, default=recipe.correction_weight)
    parser.add_argument("--confident", type=float, default=recipe.confident)
    parser.add_argument("--guard", type=float, default=recipe.guard)
    parser.add_argument("--max-texts", type=int, default=recipe.max_texts)
    parser.add_argument(
        "--no-teacher",
        action="store_true",
        help="self-train on the base model's answers alone, without the offline teacher's",
    )


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    recipe = Recipe(
        confident=args.confident,
        correction_weight=args.correction_weight,
        guard=args.guard,
        max_texts=args.max_texts,
    )
    base = _base_models(args.base_dir)
    earlier = _earlier_labels(args.base_dir)
    texts, channels, lines = read_texts(args.texts, limit=recipe.max_texts)
    labels = merge_labels(earlier, read_labels(args.labels) if args.labels else [])
    kept = f" ({len(earlier)} kept from {args.base_dir})" if earlier else ""
    say(
        f"adapting {base.version} to {len(texts)} texts (of {lines}) and {len(labels)} "
        f"corrections{kept}"
    )
    teacher = None if args.no_teacher else _teacher()
    try:
        adapted = adapt(
            base,
            texts,
            labels,
            BaseSet.load(args.general),
            recipe,
            channels=channels,
            teacher=teacher,
        )
    except AdaptRefused as refused:
        say(f"vocwatch adapt: {refused}")
        return 1
    write(args.out, base, adapted, labels, recipe, started=started, texts_file=args.texts)
    print(json.dumps(adapted.report, ensure_ascii=False, indent=2))
    say(f"wrote {args.out} in {time.monotonic() - started:.0f} s")
    return 0


def write(
    out: Path,
    base: Models,
    adapted: Adapted,
    labels: Sequence[Correction],
    recipe: Recipe,
    *,
    started: float,
    texts_file: Path | None = None,
) -> None:
    """The adapted models, their corrections and the manifest into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for model, path in ((base.sentiment, SENTIMENT_FILE), (base.categories, CATEGORIES_FILE)):
        model.save(out / BASE_FOLDER / path.name)
    today = datetime.date.today().isoformat()
    stamp = hashlib.sha1(
        json.dumps(adapted.report, sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()[:8]
    meta_common = {"adapted_from": None, "adaptation": {"recipe": recipe.to_json(), "date": today}}
    for model, path in ((adapted.sentiment, SENTIMENT_FILE), (adapted.categories, CATEGORIES_FILE)):
        original = base.sentiment if model.task == "sentiment" else base.categories
        meta = {
            **model.meta,
            **meta_common,
            "adapted_from": original.version,
            "version": f"{model.task}-adapted-{today}-{stamp}",
        }
        replace(model, meta=meta).save(out / path.name)
    with (out / CORRECTIONS_FILE).open("w", encoding="utf-8") as stream:
        for label in labels:
            stream.write(label.to_line() + "\n")
    manifest = {
        "version": f"adapted-{today}-{stamp}",
        "base": {"sentiment": base.sentiment.version, "categories": base.categories.version},
        "date": today,
        "texts_file": str(texts_file) if texts_file else None,
        "recipe": recipe.to_json(),
        **adapted.report,
        "seconds": round(time.monotonic() - started, 1),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")


def _teacher() -> Rater | None:
    """The offline teacher's sentiment head, or None (and why) when it cannot run here:
    adapting then goes on without it."""
    reason = missing()
    if reason is not None:
        say(f"without the teacher: {reason}")
        return None
    return TeacherHead.load().rate


def _base_models(base_dir: Path | None) -> Models:
    """The models to adapt: the shipped ones, those of ``base_dir``, or — when ``base_dir``
    is an adapted folder — the models *it* was adapted from, so that adapting again with
    its corrections does not count them twice."""
    if base_dir is None:
        return Models.load()
    if (base_dir / BASE_FOLDER).is_dir():
        return Models.load_from(base_dir / BASE_FOLDER)
    return Models.load_from(base_dir)


def _earlier_labels(base_dir: Path | None) -> list[Correction]:
    """The corrections an adapted base folder learned from (none for other folders)."""
    if base_dir is None or not (base_dir / CORRECTIONS_FILE).exists():
        return []
    return read_labels(base_dir / CORRECTIONS_FILE)
