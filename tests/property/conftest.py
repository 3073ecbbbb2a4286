"""Hypothesis settings for the property tests, and the analyzer they share.

The default profile is deterministic and database-less, for CI: the same examples on every
run, no example database (hypothesis still caches Unicode tables in its self-ignored
``.hypothesis/``), no per-example deadline (a megabyte text takes
longer than hypothesis' 200 ms default; the tests assert their own time bounds). Set
``HYPOTHESIS_PROFILE=explore`` to search with fresh random examples, ten times as
many of them. (Not a ``VOCWATCH_`` name: that prefix is the service's, and
``Settings.from_env`` refuses variables of it that it does not know.)
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from classifiers.analyze import Analyzer
from streams.analysis import build_analyzer
from vocwatch.settings import Settings

settings.register_profile(
    "ci",
    database=None,
    derandomize=True,
    deadline=None,
    max_examples=60,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "explore", parent=settings.get_profile("ci"), derandomize=False, max_examples=600
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    """The analyzer as a worker builds it (streams.app.create_service), default settings."""
    return build_analyzer(Settings())
