"""Whether the worker keeps up (过载): its backlog, how fast it drains, and when it will
have caught up.

Every ``VOCWATCH_EVALUATION_SECONDS`` the worker hands :meth:`OverloadMeter.observe` the
messages it has processed so far and the messages waiting in its partitions (consumer
lag). From two observations on, the meter knows the processing rate and the arrival rate
(processed + change of the backlog), smoothed over about half a minute, and so:

* ``backlog_seconds`` — how long the backlog takes to process at the current processing
  rate;
* ``catch_up_seconds`` — when the backlog will be gone at the current rates: backlog /
  (processing − arrivals); infinite while it is not shrinking;
* ``overloaded`` — on once ``backlog_seconds`` exceeds ``VOCWATCH_OVERLOAD_SECONDS``, off
  again below half of it (no flapping at the line).

An overloaded worker still counts every event exactly once and still alerts: it is only
late, and this says by how much (``vocwatch_overloaded``, ``vocwatch_backlog_messages``,
``vocwatch_catch_up_seconds``, and a warning at most every :data:`LOG_EVERY_SECONDS`).
Pure: the clock and the counts are handed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LOG_EVERY_SECONDS = 30.0
SMOOTHING_SECONDS = 30.0  # time constant of the rates' moving average


@dataclass(frozen=True)
class Load:
    backlog: int  # messages waiting in this worker's partitions
    processing_per_s: float  # smoothed
    arriving_per_s: float  # smoothed
    backlog_seconds: float  # backlog / processing rate (inf: nothing processed, 0: no backlog)
    catch_up_seconds: float  # backlog / (processing − arriving); inf while not shrinking
    overloaded: bool


IDLE = Load(0, 0.0, 0.0, 0.0, 0.0, False)


class OverloadMeter:
    def __init__(
        self,
        overload_seconds: float,
        *,
        smoothing_seconds: float = SMOOTHING_SECONDS,
        log_every_seconds: float = LOG_EVERY_SECONDS,
    ) -> None:
        self.overload_seconds = overload_seconds
        self.smoothing_seconds = smoothing_seconds
        self.log_every_seconds = log_every_seconds
        self.last = IDLE
        self._previous: tuple[float, int, int] | None = None  # time, processed, backlog
        self._rates: tuple[float, float] | None = None  # processing, arriving
        self._logged_at = -math.inf
        self._reported = False  # whether the last report said overloaded

    def observe(self, now: float, processed: int, backlog: int) -> Load:
        """The load after this observation: ``processed`` counts every message the worker
        has completed since it started, ``backlog`` the messages waiting now."""
        backlog = max(0, backlog)
        previous, self._previous = self._previous, (now, processed, backlog)
        if previous is None:
            self.last = self._load(backlog, None)
            return self.last
        elapsed = now - previous[0]
        if elapsed <= 0:
            return self.last
        done = max(0, processed - previous[1])
        rates = (done / elapsed, max(0.0, (done + backlog - previous[2]) / elapsed))
        if self._rates is None:
            self._rates = rates
        else:
            weight = 1 - math.exp(-elapsed / self.smoothing_seconds)
            self._rates = (
                self._rates[0] + weight * (rates[0] - self._rates[0]),
                self._rates[1] + weight * (rates[1] - self._rates[1]),
            )
        self.last = self._load(backlog, self._rates)
        return self.last

    def _load(self, backlog: int, rates: tuple[float, float] | None) -> Load:
        if not backlog:
            return Load(0, *(rates or (0.0, 0.0)), 0.0, 0.0, False)
        if rates is None:  # one observation: no rate known yet, nothing to say
            return Load(backlog, 0.0, 0.0, math.inf, math.inf, False)
        processing, arriving = rates
        backlog_seconds = backlog / processing if processing > 0 else math.inf
        shrinking = processing - arriving
        catch_up = backlog / shrinking if shrinking > 0 else math.inf
        limit = self.overload_seconds / 2 if self.last.overloaded else self.overload_seconds
        overloaded = backlog_seconds > limit
        return Load(backlog, processing, arriving, backlog_seconds, catch_up, overloaded)

    def report(self, now: float) -> str | None:
        """The line to log after an observation, if any: when the worker becomes
        overloaded, every ``log_every_seconds`` while it stays so, and once when it has
        caught up."""
        load, was = self.last, self._reported
        self._reported = load.overloaded
        if not load.overloaded:
            if not was:
                return None
            self._logged_at = -math.inf
            return (
                f"caught up: {load.backlog} messages waiting "
                f"({load.backlog_seconds:.1f} s of work at {load.processing_per_s:.0f} events/s)"
            )
        if was and now - self._logged_at < self.log_every_seconds:
            return None
        self._logged_at = now
        if math.isfinite(load.catch_up_seconds):
            when = f"in about {load.catch_up_seconds:.0f} s"
        else:
            when = "never at these rates (add workers and partitions, or wait for the surge to end)"
        return (
            f"overloaded: {load.backlog} messages waiting, {load.backlog_seconds:.0f} s of work "
            f"at {load.processing_per_s:.0f} events/s processed while "
            f"{load.arriving_per_s:.0f}/s arrive; expected to catch up {when}"
        )
