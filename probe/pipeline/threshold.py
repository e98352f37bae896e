"""The size search as a use case: `probe threshold`, and the threshold stage of `probe run`.

Both begin with the run's prologue (resolve, hop 1) and call the network search
(`send.threshold.size_search`) through `search_sizes`, its one call site. `probe threshold`
first confirms that the lower bound passes; the range end is not assumed to fail ("no failure
up to X" is a result), while in a run a variant of that size was already rejected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from probe.decide.threshold import ThresholdResult, conclude
from probe.errors import MeasurementError, UsageError
from probe.model.run import ThresholdReport
from probe.model.smtp import SIZE_STAGES, Outcome
from probe.model.threshold import ProbeVerdict
from probe.pipeline.hop1 import reach_hop1, target_of
from probe.pipeline.interrupts import Stopped, run_stoppable
from probe.pipeline.request import RunRequest, check_target
from probe.pipeline.state import RunState, new_state
from probe.send.matrix import Target
from probe.send.options import ProgressFn
from probe.send.threshold import check_size, size_search

DEFAULT_MIN = 1024
DEFAULT_MAX = 50 * 1024 * 1024


async def search_sizes(
    req: RunRequest,
    state: RunState,
    target: Target,
    *,
    low: int,
    high: int,
    k: int,
    precision: int = 1,
    high_known_fail: bool = True,
    progress: ProgressFn,
    on_interrupt: Callable[[ThresholdReport], None],
) -> ThresholdReport:
    """Search (low, high] at `target` for the smallest size it rejects."""
    return await size_search(
        target,
        req.options,
        state.run_id,
        low=low,
        high=high,
        k=k,
        precision=precision,
        mail_from=req.mail_from,
        to=req.to,
        date=state.crafted_date,
        advertised=state.advertised,
        high_known_fail=high_known_fail,
        progress=progress,
        on_interrupt=on_interrupt,
    )


async def threshold_stage(req: RunRequest, state: RunState, progress: ProgressFn) -> None:
    """After the matrix: when a size was rejected and a smaller one passed, search between."""
    sends = state.log.results(state.keys)
    size_fail = [
        s for s in sends if s.outcome is Outcome.REJECTED and s.size and s.stage in SIZE_STAGES
    ]
    passed = [s.size for s in sends if s.outcome is Outcome.ACCEPTED and s.size]
    if not size_fail or not passed:
        progress("threshold: no size-dependent rejection to search")
        return
    high = min(s.size for s in size_fail if s.size)
    low = max((p for p in passed if p < high), default=0)
    if not low:
        progress(f"threshold: no size below the rejected {high:,} bytes passed, nothing to search")
        return
    target = target_of(state.targets, size_fail[0].target)
    progress(f"threshold: searching between {low:,} and {high:,} bytes at {target.label}")

    def keep(report: ThresholdReport) -> None:  # the search so far, when interrupted
        state.threshold = report

    state.threshold = await search_sizes(
        req,
        state,
        target,
        low=low,
        high=high,
        k=req.threshold_k,
        progress=progress,
        on_interrupt=keep,
    )


async def measure(
    req: RunRequest,
    *,
    low: int,
    high: int | None,
    k: int,
    precision: int,
    progress: ProgressFn,
    observed: list[ThresholdResult],
) -> ThresholdResult:
    """Measure; `observed` gets the result so far at each step (and the search in flight when
    the task is cancelled), so an interrupted command still reports what it measured."""
    state = new_state(req)
    await reach_hop1(req, state, progress)
    hop1 = state.hop1
    if hop1 is None or hop1.outcome is not Outcome.OK:
        where = hop1.host if hop1 else req.domain
        why = f"{hop1.outcome} at {hop1.stage}: {hop1.reason}" if hop1 else "no target"
        raise MeasurementError(f"could not talk to {where}: {why}")
    target = target_of(state.targets, Target(hop1.host, hop1.address, hop1.port).label)
    adv = state.advertised
    end = high if high is not None else min(adv + 1, DEFAULT_MAX) if adv else DEFAULT_MAX
    if end <= low:
        why = f" (the default is the advertised SIZE {adv:,} + 1)" if high is None and adv else ""
        raise UsageError(f"--max {end:,} must be above --min {low:,}{why}")
    result = ThresholdResult(
        req.domain, req.to, target.label, low, end, k, precision, adv, lower_bound=None
    )
    progress(f"lower bound: {low:,} bytes")
    lower = await check_size(
        target,
        req.options,
        state.run_id,
        low,
        mail_from=req.mail_from,
        to=req.to,
        date=state.crafted_date,
    )
    result = dataclasses.replace(result, lower_bound=lower)
    observed.append(conclude(result))
    if lower.verdict is not ProbeVerdict.PASS:
        return conclude(result)
    progress(f"searching ({low:,}, {end:,}] bytes at {target.label}, {k} probes per round")
    report = await search_sizes(
        req,
        state,
        target,
        low=low,
        high=end,
        k=k,
        precision=precision,
        high_known_fail=False,
        progress=progress,
        on_interrupt=lambda partial: observed.append(
            conclude(dataclasses.replace(result, report=partial))
        ),
    )
    return conclude(dataclasses.replace(result, report=report))


def perform_threshold(
    req: RunRequest,
    *,
    low: int,
    high: int | None,
    k: int,
    precision: int,
    deadline: float,
    progress: ProgressFn,
) -> ThresholdResult:
    """`probe threshold`: measure within `deadline`; stopped early, what was measured so far
    (UNKNOWN: the search did not end), or an error when nothing was."""
    check_target(req)
    observed: list[ThresholdResult] = []
    search = measure(
        req, low=low, high=high, k=k, precision=precision, progress=progress, observed=observed
    )
    outcome = run_stoppable(search, deadline=deadline)
    if not isinstance(outcome, Stopped):
        return outcome
    if not observed:
        raise MeasurementError(f"{outcome}: the search measured nothing")
    progress(f"{outcome}: reporting what was measured")
    return dataclasses.replace(observed[-1], meaning=f"{outcome}: {observed[-1].meaning}")
