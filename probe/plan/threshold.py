"""k-ary search for the size (or count) at which a hop starts failing. Pure: no I/O here.

Each round probes k points that split the open interval (largest pass, smallest failure) into
k + 1 equal parts, so the interval shrinks by k + 1 per round: [1 KB, 50 MB] to 1 KB precision
takes ceil(log5(51,200)) = 7 rounds with k = 4. While the range end is untested (nobody has seen
it fail), a round splits (low, high] into k parts with high itself among the points instead, so
"no failure up to high" is known after one round and a failure narrows just as fast (4 * 5^6 >=
51,200: still 7 rounds). The driver sends the k probes of a round concurrently and feeds the
outcomes back with `record`.

An UNKNOWN (a timeout: some boxes hang on what they will not take) is not a failure, but the
search stays below the smallest one above the largest pass (`cap`), so a box that hangs from
some size on still yields its largest passing size. Every round of nothing but UNKNOWN lowers
the cap by a factor k; MAX_STALLS of them in a row stop the search, so nothing loops.
"""

from __future__ import annotations

import dataclasses
import math

from probe.model.threshold import ProbePoint, ProbeVerdict, SearchRound, SearchState

MAX_STALLS = 5  # rounds of nothing but UNKNOWN in a row (k = 4: the cap falls 256-fold)


def start(low: int, high: int, *, k: int = 4, precision: int = 1) -> SearchState:
    """Search (low, high]: `low` is assumed to pass (the control did), `high` is the range end."""
    if low < 0 or high <= low:
        raise ValueError(f"empty search range [{low}, {high}]")
    if k < 1 or precision < 1:
        raise ValueError("k and precision must be at least 1")
    return SearchState(low=low, high=high, high_tested=False, k=k, precision=precision)


def next_points(state: SearchState) -> tuple[int, ...]:
    """The values to probe in the next round (empty when the search is done)."""
    if state.done:
        return ()
    top = state.top
    end_known = state.high_tested and top == state.high
    span = top - state.low
    if span <= state.precision:
        # Converged; only an untested window end remains to be confirmed.
        return () if end_known or span <= 0 else (top,)
    if not end_known:
        # (low, top] in k parts, top included: its outcome is news either way.
        ends = {state.low + math.ceil(span * i / state.k) for i in range(1, state.k + 1)}
        return tuple(sorted(p for p in ends if state.low < p <= top))
    parts = state.k + 1
    points = sorted({state.low + math.ceil(span * i / parts) for i in range(1, parts)})
    return tuple(p for p in points if state.low < p < state.high) or (state.high,)


def record(state: SearchState, points: tuple[ProbePoint, ...]) -> SearchState:
    """Narrow the interval with one round's outcomes."""
    rounds = (*state.rounds, SearchRound(len(state.rounds) + 1, points))
    hard = [p for p in points if p.verdict is ProbeVerdict.HARD]
    if hard:
        first = min(hard, key=lambda p: p.value)
        return dataclasses.replace(
            state,
            rounds=rounds,
            stopped=f"failure unrelated to size at {first.value}: {first.detail}",
        )
    unknown = sorted((p for p in points if p.verdict is ProbeVerdict.UNKNOWN), key=_value)
    stalls = state.stalls + 1 if points and len(unknown) == len(points) else 0
    if stalls >= MAX_STALLS:
        return dataclasses.replace(
            state,
            rounds=rounds,
            stalls=stalls,
            stopped=f"could not measure at {unknown[0].value}: {unknown[0].detail}",
        )
    low, high, high_tested = state.low, state.high, state.high_tested
    passes = [p.value for p in points if p.verdict is ProbeVerdict.PASS]
    fails = [p.value for p in points if p.verdict is ProbeVerdict.FAIL]
    if fails:
        smallest_fail = min(fails)
        if smallest_fail < high or not high_tested:
            high, high_tested = smallest_fail, True
    if not high_tested and state.high in passes:
        return dataclasses.replace(
            state, low=state.high, rounds=rounds, stopped=f"no failure up to {state.high}"
        )
    below = [p for p in passes if p < high]
    if below:
        low = max(low, *below)
    if any(p > high for p in passes) and high_tested:
        bad = min(p for p in passes if p > high)
        return dataclasses.replace(
            state,
            low=low,
            high=high,
            high_tested=high_tested,
            rounds=rounds,
            stopped=f"inconsistent: {high} failed but {bad} passed (not a size limit?)",
        )
    # A pass above an UNKNOWN shows that the silence was not about the size: forget it.
    silent = [p for p in unknown if p.value > low]
    caps = [p.value for p in silent] + ([state.cap] if state.cap and state.cap > low else [])
    cap = min(caps, default=None)
    cap_or_none = cap if cap is not None and cap <= high else None
    new = dataclasses.replace(
        state,
        low=low,
        high=high,
        high_tested=high_tested,
        rounds=rounds,
        cap=cap_or_none,
        stalls=stalls,
    )
    if cap_or_none is not None and not new.done and new.top - low <= 0:
        detail = next((p.detail for p in silent if p.value == cap_or_none), "")
        return dataclasses.replace(
            new, stopped=f"could not measure above {low}: no answer at {cap_or_none} ({detail})"
        )
    return new


def _value(point: ProbePoint) -> int:
    return point.value
