"""StallWatch: stalled means input waits and no offset moves, for long enough."""

from __future__ import annotations

from streams.liveness import StallWatch, consumer_lag


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


def test_consumer_lag_sums_what_waits_per_topic_from_where_processing_got() -> None:
    ends = {("a", 0): 100, ("a", 1): 50, ("b", 0): 10, ("other", 0): 999}
    starts = {("a", 0): 0, ("a", 1): 20, ("b", 0): 0}
    done = {("a", 0): 90, ("b", 0): 10}
    # a/0: 100-90; a/1 nothing processed yet: 50-20 from its start; b/0 caught up;
    # a topic that is not an input is ignored, and an input without partitions reports 0
    assert consumer_lag(["a", "b", "c"], ends, starts, done) == {"a": 40, "b": 0, "c": 0}


def test_consumer_lag_is_never_negative() -> None:
    # the broker's end offsets can be older than what was processed since they were read
    assert consumer_lag(["a"], {("a", 0): 5}, {}, {("a", 0): 8}) == {"a": 0}
