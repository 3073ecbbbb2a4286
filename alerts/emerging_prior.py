"""The prior of the topic features' document frequencies (文档频率先验): in how many of a
set of customer-service texts each feature of :mod:`alerts.emerging_features` appears.

A worker learns document frequencies from its own traffic, but in its first minutes it has
seen too little to tell 质量 (in every other complaint) from 霉斑 (news). The prior is what
it assumes before: the share of texts with each feature in the project's own labelled
customer-service texts (``data/labelled/``, ``data/categories/labelled.csv``: eleven
consumer-service domains, written for the project), weighing as much as ``weight`` texts
of traffic. It is packaged as ``alerts/emerging_prior.tsv.gz`` and rebuilt with
``vocwatch train-emerging-prior`` when the word lists or the tokenizer change.

File format, UTF-8 text, gzip-compressed: ``#`` comment lines, then ``documents<TAB>N``,
``weight<TAB>M``, then one ``feature<TAB>texts`` line per feature.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vocwatch.errors import ConfigError

PRIOR_FILE = Path(__file__).resolve().parent / "emerging_prior.tsv.gz"
DEFAULT_WEIGHT = 3000  # texts of traffic the prior is worth
_HEADER = ("documents", "weight")
RARE_SHARE = 0.007  # 50 of 7,000 texts
KNOWN_TEXTS = 3


@dataclass(frozen=True)
class EmergingPrior:
    documents: int
    weight: float
    frequencies: Mapping[str, int] = field(repr=False)

    def share(self, feature: str) -> float:
        """The prior share of texts with ``feature`` (an unseen one: half a text)."""
        return (self.frequencies.get(feature, 0) + 0.5) / (self.documents + 1)

    def known(self, word: str) -> bool:
        """A word of at least :data:`KNOWN_TEXTS` of the prior's texts."""
        return self.frequencies.get(word, 0) >= KNOWN_TEXTS

    def rare(self, feature: str) -> bool:
        """In less than :data:`RARE_SHARE` of the prior's texts (any, without a prior)."""
        return not self.documents or self.share(feature) < RARE_SHARE

    @classmethod
    def empty(cls) -> EmergingPrior:
        """No prior knowledge: every feature is equally rare."""
        return cls(0, 0.0, {})

    @classmethod
    def build(
        cls, feature_sets: Iterable[Iterable[str]], weight: float = DEFAULT_WEIGHT
    ) -> EmergingPrior:
        frequencies: Counter[str] = Counter()
        documents = 0
        for features in feature_sets:
            frequencies.update(dict.fromkeys(features, 1))  # once per text
            documents += 1
        return cls(documents, weight, dict(frequencies))

    def dump(self, path: Path, comment: str = "") -> None:
        lines = [f"# {line}" for line in comment.splitlines()]
        lines += [f"documents\t{self.documents}", f"weight\t{self.weight:g}"]
        lines += [f"{f}\t{n}" for f, n in sorted(self.frequencies.items(), key=lambda i: -i[1])]
        data = ("\n".join(lines) + "\n").encode()
        with path.open("wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as file:
            file.write(data)  # mtime 0: the same prior gives the same bytes

    @classmethod
    def load(cls, path: Path = PRIOR_FILE) -> EmergingPrior:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as file:
                text = file.read()
        except (OSError, EOFError) as exc:
            raise ConfigError(f"cannot read the topic prior: {exc}", source=str(path)) from exc
        header: dict[str, float] = {}
        frequencies: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line or line.startswith("#"):
                continue
            name, _, value = line.rpartition("\t")
            try:
                if name in _HEADER and name not in header:
                    header[name] = float(value)
                else:
                    frequencies[name] = int(value)
            except ValueError:
                raise ConfigError(
                    f"line {number}: expected name<TAB>number, got {line[:40]!r}", source=str(path)
                ) from None
        if "documents" not in header:
            raise ConfigError("no 'documents' line", source=str(path))
        return cls(int(header["documents"]), header.get("weight", DEFAULT_WEIGHT), frequencies)
