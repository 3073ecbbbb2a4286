"""alerts.emerging_prior: the packaged document frequencies of the topic features, how they
are read, written and rebuilt."""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import pytest

from alerts.emerging_prior import PRIOR_FILE, EmergingPrior
from vocwatch.bench import emerging_prior
from vocwatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_a_prior_survives_dump_and_load(tmp_path: Path) -> None:
    prior = EmergingPrior.build([["瓶盖", "霉"], ["快递"], ["快递", "霉"]], weight=500)
    prior.dump(tmp_path / "prior.tsv.gz", "a comment\nof two lines")
    again = EmergingPrior.load(tmp_path / "prior.tsv.gz")
    assert again == prior
    assert (again.documents, again.weight) == (3, 500)
    assert again.share("快递") == 2.5 / 4 and again.share("没见过") == 0.5 / 4


def test_the_same_prior_gives_the_same_bytes(tmp_path: Path) -> None:
    prior = EmergingPrior.build([["瓶盖"], ["快递"]])
    prior.dump(tmp_path / "a.tsv.gz")
    prior.dump(tmp_path / "b.tsv.gz")
    assert (tmp_path / "a.tsv.gz").read_bytes() == (tmp_path / "b.tsv.gz").read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("weight\t3000\n霉\t1\n", "no 'documents' line"),
        ("documents\t10\n霉\tmany\n", "line 2: expected name<TAB>number"),
    ],
)
def test_a_bad_prior_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "prior.tsv.gz"
    path.write_bytes(gzip.compress(content.encode()))
    with pytest.raises(ConfigError, match=message):
        EmergingPrior.load(path)
    with pytest.raises(ConfigError, match="cannot read the topic prior"):
        EmergingPrior.load(tmp_path / "missing.tsv.gz")


def test_the_packaged_prior_is_what_the_command_builds_from_the_project_data(
    tmp_path: Path,
) -> None:
    packaged = EmergingPrior.load(PRIOR_FILE)
    assert packaged.documents > 5000 and packaged.weight == 3000
    assert packaged.share("快递") > 20 * packaged.share("霉斑")
    rebuilt = tmp_path / "prior.tsv.gz"
    emerging_prior.run(argparse.Namespace(data=ROOT / "data", out=rebuilt, weight=packaged.weight))
    assert EmergingPrior.load(rebuilt) == packaged
