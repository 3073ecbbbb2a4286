"""StallWatch: stalled means input waits and no offset moves, for long enough."""

from __future__ import annotations

from streams.liveness import StallWatch


def test_waiting_input_with_no_progress_becomes_stalled_after_the_limit() -> None:
    watch = StallWatch(limit_seconds=30)
    progress = {("t", 0): 10}
    assert watch.observe(0, lag=5, progress=progress) == 0  # first look: it moved
    assert watch.observe(10, lag=5, progress=progress) == 0  # stall starts here
    assert watch.observe(25, lag=5, progress=progress) == 15
    assert not watch.stalled(39)
    assert watch.stalled(40)


def test_progress_or_an_empty_input_resets_the_clock() -> None:
    watch = StallWatch(limit_seconds=30)
    watch.observe(0, lag=5, progress={("t", 0): 10})
    watch.observe(10, lag=5, progress={("t", 0): 10})
    assert watch.observe(20, lag=5, progress={("t", 0): 11}) == 0  # an offset moved
    watch.observe(30, lag=5, progress={("t", 0): 11})
    assert watch.observe(40, lag=0, progress={("t", 0): 11}) == 0  # nothing waits
    assert not watch.stalled(100)
