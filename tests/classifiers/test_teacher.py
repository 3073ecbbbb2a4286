"""classifiers.teacher: the teacher's word table, its file and its fit to the lexicon."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifiers.features import TermTable, stable_hash
from classifiers.lexicon import Lexicon
from classifiers.teacher import (
    WORD_TABLE_FILE,
    lexicon_checksum,
    load_word_table,
    save_word_table,
)
from vocwatch.errors import ConfigError


def test_a_table_round_trips_in_half_precision(tmp_path: Path) -> None:
    table = TermTable.build(["service", "price"], {"客服": [0.9, 0.01], "贵": [0.02, 0.7]})
    path = tmp_path / "words.npz"
    save_word_table(path, table, {"teacher": "test"})
    loaded, meta = load_word_table(path)
    assert meta == {"teacher": "test", "groups": ["service", "price"]}
    assert loaded.columns == table.columns
    assert np.array_equal(loaded.hashes, table.hashes)
    assert np.allclose(loaded.values, table.values, atol=1e-3)
    found, values = loaded.lookup(np.array([stable_hash("贵")], dtype=np.uint64))
    assert found.tolist() == [True] and values[0].tolist() == pytest.approx([0.02, 0.7], abs=1e-3)


@pytest.mark.parametrize("content", [None, b"", b"words", b"PK\x03\x04 broken"])
def test_a_missing_or_broken_table_is_a_config_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "words.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match="cannot read the teacher's word table") as caught:
        load_word_table(path)
    assert caught.value.source == str(path)


def test_a_table_without_its_groups_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "words.npz"
    np.savez(path, hashes=np.zeros(1, np.uint64), values=np.zeros((1, 1)), meta=np.array("{}"))
    with pytest.raises(ConfigError, match="word table"):
        load_word_table(path)


def test_the_packaged_table_is_built_from_the_current_lexicon() -> None:
    table, meta = load_word_table(WORD_TABLE_FILE)
    assert table.columns == Lexicon.load().groups
    assert meta["lexicon_sha256"] == lexicon_checksum(), "rebuild: vocwatch build-word-table"
    assert len(table.hashes) > 10_000
    assert (table.hashes[1:] >= table.hashes[:-1]).all()  # sorted: lookups search it
    assert ((table.values >= 0) & (table.values <= 1)).all()


def test_the_packaged_table_knows_words_the_lexicon_does_not_list() -> None:
    table, _ = load_word_table()
    lexicon_words = set(Lexicon.load().words())
    assert len(table.hashes) > 2 * len(lexicon_words)
