"""VOCWATCH_REDIS_CLUSTER: how it is read, and what a cluster needs of the other settings."""

from __future__ import annotations

import pytest

from vocwatch.errors import ConfigError
from vocwatch.settings import ENVIRONMENT, Settings


def test_off_by_default() -> None:
    assert Settings().redis_cluster is False
    assert Settings.from_env({}).redis_cluster is False
    assert "redis_cluster" in ENVIRONMENT


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        (" True ", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_true_and_false_forms(raw: str, value: bool) -> None:
    assert Settings.from_env({"VOCWATCH_REDIS_CLUSTER": raw}).redis_cluster is value


@pytest.mark.parametrize("raw", ["2", "enabled", "tru", "y"])
def test_anything_else_is_an_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VOCWATCH_REDIS_CLUSTER": raw})
    assert str(info.value).startswith(f"VOCWATCH_REDIS_CLUSTER: cannot parse {raw!r}")


@pytest.mark.parametrize(
    "url",
    [
        "redis://node-1:7000",
        "redis://node-1:7000/0",
        "rediss://:secret@node-1:7000/",
        "redis://h:1/0?timeout=3",
    ],
)
def test_a_cluster_starts_from_a_node_url_of_database_0(url: str) -> None:
    settings = Settings.from_env({"VOCWATCH_REDIS_CLUSTER": "true", "VOCWATCH_REDIS_URL": url})
    assert (settings.redis_cluster, settings.redis_url) == (True, url)


@pytest.mark.parametrize(
    ("url", "message"),
    [("unix:///run/redis.sock", "not unix://"), ("redis://node-1:7000/2", "database 0 only")],
)
def test_what_a_cluster_cannot_use(url: str, message: str) -> None:
    env = {"VOCWATCH_REDIS_URL": url}
    assert Settings.from_env(env).redis_url == url  # fine for one server
    with pytest.raises(ConfigError, match=message) as info:
        Settings.from_env({**env, "VOCWATCH_REDIS_CLUSTER": "true"})
    assert info.value.source == "VOCWATCH_REDIS_URL"


@pytest.mark.parametrize("app_id", ["voc{prod}", "voc}", "{voc"])
def test_a_cluster_refuses_braces_in_the_key_prefix(app_id: str) -> None:
    with pytest.raises(ConfigError, match="hash tags") as info:
        Settings.from_env({"VOCWATCH_REDIS_CLUSTER": "1", "VOCWATCH_APP_ID": app_id})
    assert info.value.source == "VOCWATCH_APP_ID"
