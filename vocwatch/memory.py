"""Garbage-collector settings for the long-running processes (worker, analysis process).

Measured on a worker draining a backlog (docs/performance.md): with CPython's defaults the
cyclic collector ran a full collection every second or so, each walking the ~110,000
objects of the loaded libraries (Faust, aiokafka, the models) for ~90 ms — about a tenth
of the event loop's time, and 90 ms pauses. The objects that exist once a process has
started live as long as it does, so they are moved out of the collector's sight
(``gc.freeze``), and young collections run every 20,000 allocations instead of 700: a
batch of 1,000 events allocates tens of thousands of short-lived objects that reference
counting frees anyway.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Call once start-up is done: collect, freeze what is left, collect less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
