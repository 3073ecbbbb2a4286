"""vocwatch.loops: uvloop when installed, asyncio's own loop otherwise; refused when it is
required and missing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from types import ModuleType

import pytest

from vocwatch.errors import ConfigError
from vocwatch.loops import install_event_loop, running_loop_name


@pytest.fixture(autouse=True)
def default_policy() -> Iterator[None]:
    """Each test leaves the interpreter's own policy behind."""
    yield
    asyncio.set_event_loop_policy(None)


def missing(name: str) -> ModuleType:
    raise ImportError(f"No module named {name!r}")


def loop_of_a_new_run() -> str:
    async def name() -> str:
        return running_loop_name(asyncio.get_running_loop())

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(name())
    finally:
        loop.close()


def test_auto_runs_on_uvloop_when_it_is_installed() -> None:
    pytest.importorskip("uvloop")
    assert install_event_loop("auto") == "uvloop"
    assert loop_of_a_new_run() == "uvloop"


def test_auto_falls_back_to_asyncio_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="vocwatch.loops"):
        assert install_event_loop("auto", load=missing) == "asyncio"
    assert loop_of_a_new_run() == "asyncio"
    assert "uvloop is not installed" in caplog.text


def test_uvloop_required_and_missing_is_refused() -> None:
    with pytest.raises(ConfigError, match="uvloop is not installed") as error:
        install_event_loop("uvloop", load=missing)
    assert error.value.source == "VOCWATCH_EVENT_LOOP"


def test_asyncio_never_uses_uvloop() -> None:
    pytest.importorskip("uvloop")
    install_event_loop("auto")
    assert install_event_loop("asyncio") == "asyncio"
    assert loop_of_a_new_run() == "asyncio"


def test_an_unknown_choice_is_refused() -> None:
    with pytest.raises(ConfigError):
        install_event_loop("trio")
