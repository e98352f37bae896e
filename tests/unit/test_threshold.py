"""The k-ary threshold search as pure data: a predicate plays the hop, rounds are counted."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.model.threshold import ProbePoint, ProbeVerdict, SearchState
from probe.plan.threshold import MAX_STALLS, next_points, record, start

KB = 1024
MB = 1024 * 1024
LOW, HIGH = KB, 50 * MB
Hop = Callable[[int], ProbeVerdict]


def limit(threshold: int | None) -> Hop:
    """A hop that accepts below `threshold` bytes and rejects from it on (None: accepts all)."""
    return lambda size: (
        ProbeVerdict.FAIL if threshold is not None and size >= threshold else ProbeVerdict.PASS
    )


def search(
    hop: Hop,
    low: int = LOW,
    high: int = HIGH,
    *,
    k: int = 4,
    precision: int = 1,
    high_known_fail: bool = False,
    max_rounds: int = 40,
) -> SearchState:
    """Drive the planner like threshold_run does, checking that every round narrows."""
    state = start(low, high, k=k, precision=precision)
    if high_known_fail:
        state = dataclasses.replace(state, high_tested=True)
    for _ in range(max_rounds):
        points = next_points(state)
        if not points or state.done:
            break
        assert len(points) <= k and list(points) == sorted(set(points))
        assert all(state.low < p <= state.high for p in points)
        before = (state.low, state.high, state.high_tested, state.top)
        state = record(state, tuple(ProbePoint(p, hop(p), f"{hop(p)} {p}") for p in points))
        if not state.stopped:
            assert state.low >= before[0] and state.high <= before[1]  # monotonic narrowing
            assert (state.low, state.high, state.high_tested, state.top) != before  # progress
    else:
        raise AssertionError(f"search did not end within {max_rounds} rounds: {state}")
    assert next_points(state) == ()
    return state


@pytest.mark.parametrize(
    ("threshold", "max_rounds"),
    [(1_048_577, 12), (3_333_333, 12), (1_025, 12), (HIGH, 12), (HIGH - 1, 12)],
)
def test_exact_byte_at_awkward_sizes(threshold: int, max_rounds: int) -> None:
    state = search(limit(threshold))
    assert state.threshold == threshold
    assert state.low == threshold - 1
    assert state.done and not state.stopped
    assert len(state.rounds) <= max_rounds  # ceil(log5(50 MB / 4)) + 1


@pytest.mark.parametrize("threshold", [1_025, 1_048_577, 3_333_333, 17 * MB + 3, HIGH])
def test_one_kilobyte_precision_needs_at_most_seven_rounds(threshold: int) -> None:
    state = search(limit(threshold), precision=KB)
    assert state.threshold is not None
    assert threshold <= state.threshold < threshold + KB
    assert state.low < threshold
    assert state.threshold - state.low <= KB
    assert len(state.rounds) <= 7
    assert all(len(r.points) <= 4 for r in state.rounds)


@given(st.integers(min_value=LOW + 1, max_value=HIGH))
def test_seven_rounds_anywhere_in_the_range(threshold: int) -> None:
    state = search(limit(threshold), precision=KB)
    assert state.threshold is not None and 0 <= state.threshold - threshold < KB
    assert len(state.rounds) <= 7


@given(st.integers(min_value=2, max_value=50_000), st.integers(min_value=1, max_value=16))
def test_exact_for_any_k(threshold: int, k: int) -> None:
    state = search(limit(threshold), 1, 50_000, k=k)
    assert state.threshold == threshold
    assert len(state.rounds) <= math.ceil(math.log(50_000, k + 1)) + 2


def test_known_failing_end_keeps_the_k_plus_one_split() -> None:
    state = search(limit(1_048_577), high_known_fail=True)
    assert state.threshold == 1_048_577
    first = state.rounds[0].points
    assert HIGH not in [p.value for p in first] and len(first) == 4
    assert len(state.rounds) == math.ceil(math.log(HIGH - LOW, 5))


def test_no_failure_is_a_result_after_one_round() -> None:
    state = search(limit(None))
    assert state.no_failure and state.threshold is None
    assert state.stopped == f"no failure up to {HIGH}"
    assert state.low == HIGH and len(state.rounds) == 1
    assert HIGH in [p.value for p in state.rounds[0].points]


def test_range_end_is_the_threshold() -> None:
    state = search(limit(HIGH), HIGH - 10_000)
    assert state.threshold == HIGH and state.low == HIGH - 1


def test_tiny_range_still_probes_its_end() -> None:
    state = start(1_000, 1_001)
    assert not state.done and next_points(state) == (1_001,)
    assert search(limit(1_001), 1_000, 1_001).threshold == 1_001
    assert search(limit(None), 1_000, 1_001).no_failure


def test_hard_failure_stops_at_once() -> None:
    def hop(size: int) -> ProbeVerdict:
        return ProbeVerdict.HARD if size > 2 * MB else ProbeVerdict.PASS

    state = search(hop)
    assert state.done and state.threshold is None
    assert state.stopped.startswith("failure unrelated to size at")
    assert len(state.rounds) == 1
    assert next_points(state) == ()


def test_inconsistent_results_are_reported_not_averaged() -> None:
    # Fails in a band only: the round sees a failure below a pass.
    def hop(size: int) -> ProbeVerdict:
        return ProbeVerdict.FAIL if 10 * MB <= size < 20 * MB else ProbeVerdict.PASS

    state = search(hop)
    assert state.stopped.startswith("inconsistent:") and state.threshold is None
    assert len(state.rounds) == 1


def test_unknown_everywhere_does_not_loop() -> None:
    state = search(lambda _size: ProbeVerdict.UNKNOWN)
    assert state.stopped.startswith("could not measure at") and len(state.rounds) == MAX_STALLS
    assert state.threshold is None and state.low == LOW
    # every round stayed below the previous round's silence
    for before, after in zip(state.rounds, state.rounds[1:], strict=False):
        assert max(p.value for p in after.points) < min(p.value for p in before.points)


def test_timeouts_above_a_limit_end_with_the_largest_pass() -> None:
    # A box that hangs (timeout: UNKNOWN) on messages of 3,333,333 bytes and more.
    def hop(size: int) -> ProbeVerdict:
        return ProbeVerdict.UNKNOWN if size >= 3_333_333 else ProbeVerdict.PASS

    state = search(hop)
    assert state.stopped.startswith("could not measure above 3333332: no answer at 3333333")
    assert state.low == 3_333_332 and state.threshold is None
    assert len(state.rounds) <= 16


def test_unknown_points_are_probed_again_while_others_narrow() -> None:
    flaky = {1_000}

    def hop(size: int) -> ProbeVerdict:
        if size in flaky:
            flaky.discard(size)
            return ProbeVerdict.UNKNOWN
        return limit(1_500)(size)

    state = search(hop, 0, 5_000, k=4)
    assert state.threshold == 1_500


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(ValueError):
        start(5, 5)
    with pytest.raises(ValueError):
        start(-1, 5)
    with pytest.raises(ValueError):
        start(1, 5, k=0)


def test_silence_below_a_failure_is_searched_around() -> None:
    # No answer from 2 MB on, but a clean rejection from 1,048,577: the failure wins.
    def hop(size: int) -> ProbeVerdict:
        if size >= 2 * MB:
            return ProbeVerdict.UNKNOWN
        return limit(1_048_577)(size)

    state = search(hop)
    assert state.threshold == 1_048_577 and not state.stopped


def test_precision_with_a_cap_ends() -> None:
    def hop(size: int) -> ProbeVerdict:
        return ProbeVerdict.UNKNOWN if size >= 777_777 else ProbeVerdict.PASS

    state = search(hop, precision=KB)
    assert state.stopped.startswith("could not measure") and state.low < 777_777
    assert 777_777 - state.low <= KB
