"""The category lexicon (问题分类词表): hand-written, weighted terms per category across
consumer-service industries, kept in ``data/category_lexicon.txt`` (its header says how to
edit it).

It is prior knowledge for industries the model never saw in training: each of its groups
(the seven categories and feature groups such as ``product_words``) becomes one feature of
a text — the weights of the group's terms among the text's words, squashed — and the model
learns how far to trust each. Its terms are also added to the tokenizer's dictionary, so
that a term is one word.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vocwatch.errors import ConfigError

LEXICON_FILE = Path(__file__).resolve().parent / "data" / "category_lexicon.txt"
_SECTION = re.compile(r"^\[(?P<name>[a-z_]+)\]$")


@dataclass(frozen=True)
class Lexicon:
    """group → term → weight; a term may be in several groups."""

    terms: Mapping[str, Mapping[str, float]]

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(self.terms)

    def words(self) -> list[str]:
        """The terms of two characters or more, for the tokenizer's dictionary."""
        return sorted(
            {term for weighted in self.terms.values() for term in weighted if len(term) >= 2}
        )

    @classmethod
    def parse(cls, text: str, source: str = "lexicon") -> Lexicon:
        terms: dict[str, dict[str, float]] = {}
        section: dict[str, float] | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if header := _SECTION.match(line):
                section = terms.setdefault(header.group("name"), {})
                continue
            if section is None:
                raise ConfigError(f"line {number}: a term before any [group] line", source=source)
            for entry in line.split():
                term, _, weight = entry.rpartition(":")
                try:
                    section[term.lower()] = float(weight)
                except ValueError:
                    raise ConfigError(
                        f"line {number}: {entry!r} is not term:weight", source=source
                    ) from None
                if not term:
                    raise ConfigError(f"line {number}: {entry!r} has no term", source=source)
        return cls(terms)

    @classmethod
    def load(cls, path: Path = LEXICON_FILE) -> Lexicon:
        return cls.parse(path.read_text(encoding="utf-8"), str(path))
