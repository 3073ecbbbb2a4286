"""Clean stops (优雅停止) for the long-running commands and the processes they start.

Two promises, whatever stops a command:

* **SIGTERM and SIGINT are requests to stop.** A service manager (systemd, supervisord,
  ``kill PID``) sends SIGTERM to the command's own pid only; a terminal's Ctrl-C sends SIGINT
  to its whole process group. Inside :func:`stop_on_signals` either one raises
  :class:`StopRequested` in the main thread, once: the command's ``with`` blocks then stop
  what they started, in reverse order (the worker, then the broker and Redis), and the
  command exits with code 0. Further signals are ignored while it cleans up, so that a
  second Ctrl-C cannot orphan a half-stopped child.
* **A child never outlives its parent.** If the parent dies without cleaning up (SIGKILL, an
  out-of-memory kill), the kernel sends each child SIGTERM (Linux ``PR_SET_PDEATHSIG``, set
  by :func:`die_with_parent` in the child): the worker then stops as it would on any
  SIGTERM, leaving its batch in hand unacknowledged, and the broker and Redis exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

PR_SET_PDEATHSIG = 1  # linux/prctl.h
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(BaseException):
    """SIGTERM or SIGINT arrived: stop what was started and exit with code 0. A
    :class:`BaseException`, like KeyboardInterrupt, so that ``except Exception`` in the
    code it interrupts does not swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stop requested ({signal.Signals(signum).name})")
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise :class:`StopRequested` in the main thread while the block
    runs, the first time; later ones are ignored until the block has exited. Outside the
    main thread (where Python cannot set handlers) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def request_stop(signum: int, frame: FrameType | None) -> None:
        for sig in STOP_SIGNALS:  # once: the clean-up that follows is not interrupted
            signal.signal(sig, signal.SIG_IGN)
        raise StopRequested(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, request_stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    function: Callable[..., int] = libc.prctl
    return function


# Looked up once, in the parent: a child between fork and exec should call nothing that
# loads libraries or takes locks.
_prctl = _load_prctl()


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets ``sig`` when this process
    (the one calling ``die_with_parent``) exits. See :func:`stop_with_parent`."""
    parent = os.getpid()
    return functools.partial(stop_with_parent, parent, sig)


def stop_with_parent(parent: int, sig: int = signal.SIGTERM) -> None:
    """Called in a child process whose parent is ``parent`` (in ``preexec_fn``, or first
    thing in a ``multiprocessing`` child): the kernel sends ``sig`` to the child when the
    parent exits. The kernel ties this to the *thread* that started the child: start
    children from a thread that lives as long as they should (the main thread). If the
    parent is already gone, the child signals itself at once. Elsewhere than Linux it does
    nothing."""
    if _prctl is None:
        return
    _prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), sig)


def child_options() -> dict[str, Any]:
    """``subprocess.Popen`` options for a server or worker child of a command: its own
    session (so that a terminal's Ctrl-C reaches the command first, which then stops its
    children in order), and stopped with its parent (:func:`die_with_parent`)."""
    return {"start_new_session": True, "preexec_fn": die_with_parent()}


def descendants(pid: int) -> list[int]:
    """The pids of every living descendant of ``pid`` (children first), from /proc; an empty
    list where there is no /proc or ``pid`` is gone."""
    children: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        return []
    return children + [d for child in children for d in descendants(child)]


def running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
