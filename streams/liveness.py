"""Liveness (存活检测): is the worker still moving through its input?

Faust has a known failure mode: after a broker outage a consumer can stop fetching some
partitions without an error. :class:`StallWatch` notices it: the worker is *stalled* when
input is waiting (lag > 0) and no processed offset has moved for ``limit_seconds``. The
worker then reports it (``/health`` 503, ``vocwatch_stalled_seconds``) and exits with
:data:`STALLED_EXIT_CODE` so that its supervisor (compose ``restart:``, Kubernetes,
``vocwatch dev``) restarts it — safe, since nothing is acknowledged before it is counted
and a redelivered event changes no window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

STALLED_EXIT_CODE = 3


@dataclass
class StallWatch:
    limit_seconds: float
    _since: float | None = None
    _progress: dict[tuple[str, int], int] = field(default_factory=dict)

    def observe(self, now: float, lag: int, progress: Mapping[tuple[str, int], int]) -> float:
        """Record one look at the worker; return for how long it has been stalled."""
        moved = dict(progress) != self._progress
        self._progress = dict(progress)
        if lag > 0 and not moved:
            if self._since is None:
                self._since = now
        else:
            self._since = None
        return self.stalled_for(now)

    def stalled_for(self, now: float) -> float:
        return now - self._since if self._since is not None else 0.0

    def stalled(self, now: float) -> bool:
        return self.stalled_for(now) >= self.limit_seconds


Partition = tuple[str, int]  # (topic, partition)


def consumer_lag(
    topics: Iterable[str],
    ends: Mapping[Partition, int],
    starts: Mapping[Partition, int],
    done: Mapping[Partition, int],
) -> dict[str, int]:
    """Messages waiting per topic: for each partition, its end offset minus the offset after
    the last message processed (``done``; the partition's start if none yet), summed."""
    lag = dict.fromkeys(topics, 0)
    for (topic, partition), end in ends.items():
        if topic in lag:
            processed = done.get((topic, partition), starts.get((topic, partition), 0))
            lag[topic] += max(0, end - processed)
    return lag
