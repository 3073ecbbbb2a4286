"""Which asyncio event loop a process runs on (事件循环): uvloop when it is installed.

uvloop (libuv under asyncio's interface) makes the event loop's own work cheaper — Faust's
fetching, its stream machinery, the Kafka and Redis clients' sockets and timers, which are
most of a worker's time once text analysis runs in its own process. It is installed with
vocwatch; without it (a platform it does not build for) the worker runs on asyncio's own
loop and says so once. ``VOCWATCH_EVENT_LOOP`` chooses: ``auto``, ``uvloop`` (refuse to
start without it) or ``asyncio``.

The choice is made before anything creates a loop (the worker and the benchmark's
pass-through agent call :func:`install_event_loop` first thing): objects made on one loop
must not be used on another.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from types import ModuleType

from vocwatch.errors import ConfigError

log = logging.getLogger(__name__)


def install_event_loop(
    choice: str, *, load: Callable[[str], ModuleType] = importlib.import_module
) -> str:
    """Make ``choice`` (``auto``, ``uvloop`` or ``asyncio``) the loop of every loop this
    process creates from now on; return the one it is, ``"uvloop"`` or ``"asyncio"``."""
    if choice == "asyncio":
        asyncio.set_event_loop_policy(None)  # the interpreter's default
        return "asyncio"
    if choice not in ("auto", "uvloop"):
        raise ConfigError("must be auto, uvloop or asyncio", source="VOCWATCH_EVENT_LOOP")
    try:
        uvloop = load("uvloop")
    except ImportError as exc:
        if choice == "uvloop":
            raise ConfigError(
                f"uvloop is not installed ({exc}); install it (pip install uvloop) or set "
                "auto or asyncio",
                source="VOCWATCH_EVENT_LOOP",
            ) from None
        log.warning("uvloop is not installed: running on asyncio's own event loop (slower)")
        asyncio.set_event_loop_policy(None)
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def running_loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``"uvloop"`` or ``"asyncio"``: what ``loop`` is, for the log and /health."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
