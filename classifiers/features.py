"""Features of a whole batch of texts at once (批量特征): one sparse matrix that every model
multiplies once.

Every text of a batch is cleaned, masked and cut into words first; then, for the whole
batch in a handful of numpy operations (no Python loop over characters or features):

========  ===========================================================  ==================
family    what                                                         example (不好用!!)
========  ===========================================================  ==================
``w``     words (not white space or neutral punctuation)               不, 好用, !
``b``     pairs of adjacent words                                      不_好用, 好用_!
``n``     words in a negation's scope: up to three words after a       n:好用
          negator (不, 没有, 不太 …) within its clause
``c``     characters                                                   不, 好, 用, !
``c2``    pairs of adjacent characters                                 不好, 好用, 用!, !!
``c3``    triples of adjacent characters (off by default: they         不好用, 好用!
          learn one domain's nouns more than a category's words)
``e``     bracketed codes, whole: Weibo emoticons and placeholders     [哈哈], [PHONE]
========  ===========================================================  ==================

Each feature is hashed to one of ``2 ** bits`` columns (the hashing trick: no vocabulary in
memory; a stable 64-bit hash of the characters, not Python's per-process string hash), and
every occurrence weighs ``1 / sqrt(number of features of the text)``. Beside the hashed
columns, each text has a few *dense* columns, from tables of words (:class:`TermTable`):

* ``lexicon:<group>`` — the category lexicon's weights of the text's words, per group,
  summed and squashed to [0, 1) (classifiers/lexicon.py);
* ``teacher:<group>`` and ``teacher_max:<group>`` — the same from the teacher's word table
  (classifiers/teacher.py: what an offline multilingual embedding model says of some 70,000
  words, distilled), summed and squashed, and the largest value among the words;
* ``emoticons:positive`` / ``emoticons:negative`` — how many of the text's emoticon codes
  read positive or negative (classifiers/data/emoticons.tsv), up to three.

:class:`FeatureBatch` holds the result in compressed-row form: ``scipy.sparse.csr_matrix((
values, indices, indptr))`` is the training tools' view of it; at run time the models use
:meth:`FeatureBatch.dot` (numpy only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from classifiers.lexicon import Lexicon

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
Bools = npt.NDArray[np.bool_]

FEATURE_FORMAT = 1
FAMILIES = ("w", "b", "n", "c", "c2", "c3", "e")
DEFAULT_FAMILIES = ("w", "b", "n", "c", "c2", "e")
EMOTICONS_FILE = Path(__file__).resolve().parent / "data" / "emoticons.tsv"
#: Words that negate what follows them (否定词), up to the end of the clause.
_NEGATOR_WORDS = """
不 没 没有 无 别 未 非 不是 不太 不够 不怎么 不大 毫不 并不 并没有 绝不 从不 从来不 不会 不能
无法 难以 不要 不用 不再 没什么 不算 不怎么样 一点也不 一点都不 根本不 根本没有 不值 不可
"""
NEGATORS = tuple(_NEGATOR_WORDS.split())
NEGATION_SCOPE = 3
# White space and neutral punctuation: no word of their own (! ? and emoji are kept: they
# carry sentiment). Their characters still give character features.
NOISE = frozenset(" \t,，.。、;；:：\"'“”‘’()（）[]【】《》<>-—_/\\|~·…@#$%^&*=+\ufe0e\ufe0f")
# Marks that end a clause: a negation does not reach past them.
CLAUSE_END = frozenset(",，.。;；!！?？\n")
# [哈哈] [doge] [PHONE]: Weibo / Douyin emoticon codes and the masking placeholders.
BRACKET_CODE = re.compile(r"\[[^\[\]\s]{1,10}\]")

_SEPARATOR = 0  # between texts in the batch's array of code points
# Salts that keep the families apart, and multipliers of the hashes (odd, 64-bit).
_SALT = {
    "w": 0x9E3779B97F4A7C15,
    "b": 0xC2B2AE3D27D4EB4F,
    "n": 0x165667B19E3779F9,
    "c": 0xD6E8FEB86659FD93,
    "c2": 0xFF51AFD7ED558CCD,
    "c3": 0xC4CEB9FE1A85EC53,
    "e": 0x27D4EB2F165667C5,
}
_POSITION = np.array(
    [(0x100000001B3 * (2 * i + 1) + 0x9E3779B97F4A7C15 * i) % 2**64 | 1 for i in range(16)],
    dtype=np.uint64,
)
_PAIR = np.uint64(0x9DDFEA08EB382D69)
_CHAR = np.uint64(0xD1B54A32D192ED03)
_FIRST = np.uint64(0xA24BAED4963EE407)
_OTHER = np.uint64(0x9FB21C651E98DF25)
_LENGTH = np.uint64(0x2545F4914F6CDD1D)
_MIX = np.uint64(0xBF58476D1CE4E5B9)


@dataclass(frozen=True)
class FeatureConfig:
    """How texts become features; a model refuses a featurizer of another configuration."""

    bits: int = 19
    families: tuple[str, ...] = DEFAULT_FAMILIES
    format: int = FEATURE_FORMAT

    def __post_init__(self) -> None:
        unknown = set(self.families) - set(FAMILIES)
        if unknown or not 10 <= self.bits <= 24:
            raise ValueError(f"feature config: bits 10-24, families of {FAMILIES}")

    def to_json(self) -> dict[str, object]:
        return {"bits": self.bits, "families": list(self.families), "format": self.format}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> FeatureConfig:
        families, bits, format_ = data["families"], data["bits"], data["format"]
        if not (isinstance(families, list) and isinstance(bits, int) and isinstance(format_, int)):
            raise ValueError(f"not a feature config: {dict(data)}")
        return cls(bits=bits, families=tuple(str(f) for f in families), format=format_)


@dataclass(frozen=True)
class FeatureBatch:
    """The features of ``rows`` texts: the hashed part in CSR form (``indices`` and
    ``values`` of row i are ``[indptr[i]:indptr[i + 1]]``) and a dense part."""

    indices: I64
    values: F32
    indptr: I64
    dense: F32  # rows × dense columns
    columns: int  # hashed columns (2 ** bits)

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def dot(self, weights: F32, dense_weights: F32) -> F32:
        """``rows × k`` scores: the hashed part times ``weights`` (columns × k) plus the
        dense part times ``dense_weights`` (dense columns × k)."""
        scores = np.zeros((self.rows, weights.shape[1]), dtype=np.float32)
        if len(self.indices):
            contributions = weights[self.indices] * self.values[:, None]
            nonempty = np.flatnonzero(np.diff(self.indptr))
            scores[nonempty] = np.add.reduceat(contributions, self.indptr[nonempty], axis=0)
        if self.dense.shape[1]:
            scores += self.dense @ dense_weights
        return scores


@dataclass(frozen=True)
class TermTable:
    """Per word, a few numbers (the lexicon's group weights; the teacher's probabilities),
    looked up for a whole batch at once by the words' stable hashes."""

    columns: tuple[str, ...]
    hashes: U64 = field(repr=False)  # sorted
    values: F32 = field(repr=False)  # one row per hash

    @classmethod
    def build(cls, columns: Sequence[str], rows: Mapping[str, Sequence[float]]) -> TermTable:
        entries = sorted((stable_hash(word), tuple(values)) for word, values in rows.items())
        table: F32 = np.array([v for _, v in entries], dtype=np.float32)
        return cls(
            tuple(columns),
            np.array([h for h, _ in entries], dtype=np.uint64),
            table.reshape(len(entries), len(columns)),
        )

    @classmethod
    def from_lexicon(cls, lexicon: Lexicon) -> TermTable:
        rows: dict[str, list[float]] = {}
        for index, group in enumerate(lexicon.groups):
            for term, weight in lexicon.terms[group].items():
                rows.setdefault(term, [0.0] * len(lexicon.groups))[index] = weight
        return cls.build(lexicon.groups, rows)

    def lookup(self, word_hashes: U64) -> tuple[Bools, F32]:
        """Which words are in the table, and the values of those that are."""
        if not len(self.hashes) or not len(word_hashes):
            return np.zeros(len(word_hashes), dtype=bool), self.values[:0]
        where = np.minimum(np.searchsorted(self.hashes, word_hashes), len(self.hashes) - 1)
        found = self.hashes[where] == word_hashes
        return found, self.values[where[found]]

    def features(self, word_hashes: U64, word_text: I64, rows: int, *, maxima: bool) -> F32:
        """``rows × columns`` (``× 2 columns`` with ``maxima``): per text, the values of its
        words summed and squashed to [0, 1) by ``1 - exp(-sum / 3)`` (three weight points
        are 0.63); with ``maxima``, then the largest value of each column among its words."""
        sums = np.zeros((rows, len(self.columns)), dtype=np.float32)
        found, values = self.lookup(word_hashes)
        if len(values):
            np.add.at(sums, word_text[found], values)
        squashed: F32 = (1.0 - np.exp(-sums / 3.0)).astype(np.float32)
        if not maxima:
            return squashed
        largest = np.zeros_like(sums)
        if len(values):
            np.maximum.at(largest, word_text[found], values)
        both: F32 = np.hstack([squashed, largest])
        return both


class Featurizer:
    """Texts and their pieces → :class:`FeatureBatch`. Pure: no I/O, no state but its
    configuration and tables."""

    def __init__(
        self,
        config: FeatureConfig | None = None,
        *,
        lexicon: TermTable | None = None,
        teacher: TermTable | None = None,
        emoticons: Mapping[str, int] | None = None,
    ) -> None:
        self.config = config or FeatureConfig()
        self.columns = 1 << self.config.bits
        self._shift = np.uint64(64 - self.config.bits)
        self.lexicon = lexicon
        self.teacher = teacher
        self.emoticons = dict(emoticons or {})
        self._negators = np.unique(np.array([stable_hash(w) for w in NEGATORS], dtype=np.uint64))
        self._noise = np.array(sorted(ord(c) for c in NOISE), dtype=np.uint64)
        self._clause_end = np.array(sorted(ord(c) for c in CLAUSE_END), dtype=np.uint64)
        self._salt = {family: np.uint64(_SALT[family]) for family in self.config.families}

    @property
    def dense_columns(self) -> tuple[str, ...]:
        """Names of the dense columns, in order: a model records them and must match."""
        columns: list[str] = []
        if self.lexicon is not None:
            columns += [f"lexicon:{g}" for g in self.lexicon.columns]
        if self.teacher is not None:
            columns += [f"teacher:{g}" for g in self.teacher.columns]
            columns += [f"teacher_max:{g}" for g in self.teacher.columns]
        return (*columns, "emoticons:positive", "emoticons:negative")

    def transform(self, texts: Sequence[str], pieces: Sequence[Sequence[str]]) -> FeatureBatch:
        """The features of ``texts``, each with its pieces (:func:`classifiers.tokenize.cut`),
        which must cover it: the pieces of a text joined are the text."""
        rows = len(texts)
        lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=rows)
        points: U64 = np.frombuffer("\x00".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(
            np.uint64
        )

        # pieces: their length, their text, where they start in `points` (the pieces of the
        # texts before cover those texts, plus one separator each)
        counts = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=rows)
        length = np.fromiter(
            (len(piece) for text_pieces in pieces for piece in text_pieces),
            dtype=np.int64,
            count=int(counts.sum()),
        )
        text_of = np.repeat(np.arange(rows, dtype=np.int64), counts)
        start = np.cumsum(length) - length + text_of
        hashes = _hashes(points, start, length)
        single = length == 1
        first = points[start] if len(start) else points[:0]
        word = ~(single & np.isin(first, self._noise))
        clause_end = single & np.isin(first, self._clause_end)

        hashed = _HashedColumns(self)
        word_hash, word_text = hashes[word], text_of[word]
        hashed.add("w", word_hash, word_text)
        same = word_text[1:] == word_text[:-1]
        hashed.add("b", (word_hash[:-1] * _PAIR + word_hash[1:])[same], word_text[1:][same])
        in_scope = self._negation_scope(hashes, text_of, clause_end) & word
        hashed.add("n", hashes[in_scope], text_of[in_scope])
        self._characters(hashed, points, lengths, rows)
        emoticons = self._bracket_codes(hashed, texts)

        dense: list[F32] = []
        if self.lexicon is not None:
            dense.append(self.lexicon.features(word_hash, word_text, rows, maxima=False))
        if self.teacher is not None:
            dense.append(self.teacher.features(word_hash, word_text, rows, maxima=True))
        dense.append((np.minimum(emoticons, 3.0) / 3.0).astype(np.float32))
        return hashed.batch(rows, np.hstack(dense).astype(np.float32))

    # --- pieces -------------------------------------------------------------------------
    def _characters(self, hashed: _HashedColumns, points: U64, lengths: I64, rows: int) -> None:
        """Characters, and pairs and triples of adjacent characters, not across texts."""
        text_of = np.repeat(np.arange(rows, dtype=np.int64), lengths + 1)[: len(points)]
        real = points != _SEPARATOR
        hashed.add("c", points[real] * _CHAR, text_of[real])
        if len(points) >= 2:
            both = real[:-1] & real[1:]
            hashed.add("c2", (points[:-1] * _FIRST + points[1:])[both], text_of[:-1][both])
        if len(points) >= 3 and "c3" in self.config.families:
            three = real[:-2] & real[1:-1] & real[2:]
            triples = points[:-2] * _OTHER + points[1:-1] * _FIRST + points[2:]
            hashed.add("c3", triples[three], text_of[:-2][three])

    def _bracket_codes(self, hashed: _HashedColumns, texts: Sequence[str]) -> F32:
        """Each bracketed code as a feature of its own; per text, how many read positive
        and negative (the only Python loop, over texts with a "[" only)."""
        emoticons = np.zeros((len(texts), 2), dtype=np.float32)
        codes: list[int] = []
        rows: list[int] = []
        for row, text in enumerate(texts):
            if "[" not in text:
                continue
            for code in BRACKET_CODE.findall(text):
                codes.append(stable_hash(code))
                rows.append(row)
                polarity = self.emoticons.get(code, 0)
                if polarity:
                    emoticons[row, 0 if polarity > 0 else 1] += 1.0
        if codes:
            hashed.add("e", np.array(codes, dtype=np.uint64), np.array(rows, dtype=np.int64))
        return emoticons

    def _negation_scope(self, hashes: U64, text: I64, clause_end: Bools) -> Bools:
        """Whether each piece follows a negator by 1 to NEGATION_SCOPE pieces of the same
        text, with no end of clause between (the piece itself included)."""
        open_ = np.isin(hashes, self._negators)  # a scope reaching this piece, uncut
        scope = np.zeros(len(hashes), dtype=bool)
        continues = np.zeros(len(hashes), dtype=bool)
        continues[1:] = (text[1:] == text[:-1]) & ~clause_end[1:]
        for _ in range(NEGATION_SCOPE):
            reached = np.zeros(len(hashes), dtype=bool)
            reached[1:] = open_[:-1]
            open_ = reached & continues
            scope |= open_
        return scope


class _HashedColumns:
    """The hashed features of a batch as they are found, family by family."""

    def __init__(self, featurizer: Featurizer) -> None:
        self.salt = featurizer._salt
        self.shift = featurizer._shift
        self.columns = featurizer.columns
        self.index: list[U64] = []
        self.row: list[I64] = []

    def add(self, family: str, hashes: U64, rows: I64) -> None:
        salt = self.salt.get(family)
        if salt is None or not len(hashes):
            return
        mixed = hashes ^ salt
        mixed = (mixed ^ (mixed >> np.uint64(31))) * _MIX
        self.index.append(mixed >> self.shift)
        self.row.append(rows)

    def batch(self, rows: int, dense: F32) -> FeatureBatch:
        index = np.concatenate(self.index).astype(np.int64) if self.index else np.zeros(0, np.int64)
        row = np.concatenate(self.row) if self.row else np.zeros(0, np.int64)
        order = np.argsort(row, kind="stable")
        index, row = index[order], row[order]
        per_row = np.bincount(row, minlength=rows)
        indptr = np.zeros(rows + 1, dtype=np.int64)
        np.cumsum(per_row, out=indptr[1:])
        scale = (1.0 / np.sqrt(np.maximum(per_row, 1))).astype(np.float32)
        return FeatureBatch(index, scale[row], indptr, dense, self.columns)


def _hashes(points: U64, start: I64, length: I64) -> U64:
    """A stable 64-bit hash of each piece's characters (the first 16 weighed by position,
    any further ones like the 16th)."""
    if not len(start):
        return np.zeros(0, dtype=np.uint64)
    position = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    chars = points[np.repeat(start, length) + position]
    weighted = chars * _POSITION[np.minimum(position, 15)]
    hashes: U64 = np.add.reduceat(weighted, np.cumsum(length) - length)
    return hashes + length.astype(np.uint64) * _LENGTH


def stable_hash(text: str) -> int:
    """The hash a piece ``text`` has in a batch (for tables of words)."""
    points: U64 = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    hashed = _hashes(points, np.zeros(1, dtype=np.int64), np.array([len(points)]))
    return int(hashed[0])


def read_emoticons(lines: Iterable[str]) -> dict[str, int]:
    """``token<TAB>polarity<TAB>note`` lines (a header first) → bracketed code → polarity."""
    polarities = {}
    for number, line in enumerate(lines):
        fields = line.rstrip("\n").split("\t")
        if number == 0 or len(fields) < 2 or not fields[0].startswith("["):
            continue
        polarities[fields[0]] = int(fields[1])
    return polarities


def load_emoticons(path: Path = EMOTICONS_FILE) -> dict[str, int]:
    with path.open(encoding="utf-8") as lines:
        return read_emoticons(lines)
