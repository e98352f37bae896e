"""What `probe threshold` measured and what it means: the limit judged against the advertised
SIZE (pure). The search itself is `plan.threshold` (the state machine) driven by
`pipeline.threshold` over the network."""

from __future__ import annotations

import dataclasses

from probe.model.run import ThresholdReport
from probe.model.status import Status
from probe.model.threshold import ProbePoint, ProbeVerdict

THRESHOLD_SCHEMA = "probe.threshold/1"
NOT_SIZE = "stops at the first hard failure that is not size-related"


@dataclasses.dataclass(frozen=True)
class ThresholdResult:
    """What `probe threshold` measured and what it means (`--json`: probe.threshold/1)."""

    domain: str
    to: str
    target: str
    low: int  # --min: the lower bound, probed first
    high: int  # --max: the range end (not assumed to fail)
    k: int
    precision: int
    advertised_size: int | None
    lower_bound: ProbePoint | None = None
    report: ThresholdReport | None = None  # None when the lower bound did not pass
    threshold: int | None = None  # smallest failing size (exact to `precision`)
    largest_pass: int | None = None
    rounds: int = 0
    meaning: str = ""
    status: Status = Status.UNKNOWN


def threshold_verdict(result: ThresholdResult) -> tuple[Status, str]:
    """The status and a one-line meaning: the threshold judged against the advertised SIZE.

    Threshold at or below the advertised SIZE: the hop breaks its word (CRITICAL). Above it:
    the hop enforces SIZE (OK). No SIZE advertised but a limit found: WARNING (senders learn the
    limit only by rejection). No failure up to the range end: OK. Not measurable: UNKNOWN.
    """
    lower, adv = result.lower_bound, result.advertised_size
    if lower is not None and lower.verdict is not ProbeVerdict.PASS:
        if lower.verdict is ProbeVerdict.HARD:
            return Status.UNKNOWN, f"{NOT_SIZE}: {lower.detail} (at {lower.value:,} bytes)"
        if lower.verdict is ProbeVerdict.FAIL:
            return Status.UNKNOWN, (
                f"already rejected at the lower bound of {lower.value:,} bytes ({lower.detail}):"
                " lower --min, or this is not a size limit"
            )
        return Status.UNKNOWN, f"could not measure at {lower.value:,} bytes: {lower.detail}"
    if result.report is None:  # interrupted before the search began
        if lower is not None:
            return Status.UNKNOWN, f"{lower.value:,} bytes pass; the search did not begin"
        return Status.UNKNOWN, "nothing was measured"
    search = result.report.search
    t, low = search.threshold, search.low
    if t is not None:
        if adv is None:
            return Status.WARNING, (
                f"rejects messages of {t:,} bytes and more; it advertises no SIZE, so senders "
                "learn the limit only from the rejection"
            )
        if t <= adv:
            return Status.CRITICAL, (
                f"rejects messages of {t:,} bytes and more although it advertises SIZE {adv:,}: "
                "the hop breaks its word"
            )
        if low >= adv:
            how = "exactly" if t == adv + 1 else f"with {t - adv - 1:,} bytes of slack"
            return Status.OK, f"enforces its advertised SIZE {adv:,} {how}"
        return Status.WARNING, (
            f"the limit lies between {low + 1:,} and {t:,} bytes, around the advertised SIZE "
            f"{adv:,}: measure again with --precision 1"
        )
    if search.no_failure:
        beyond = f", more than its advertised SIZE {adv:,}" if adv is not None and low > adv else ""
        return Status.OK, f"no failure up to {low:,} bytes{beyond}"
    if search.stopped.startswith("failure unrelated to size"):
        return Status.UNKNOWN, f"{NOT_SIZE}: {search.stopped}"
    passed = f"; largest passing size {low:,} bytes" if low > result.low else ""
    return Status.UNKNOWN, f"{search.stopped or 'not found'}{passed}"


def conclude(result: ThresholdResult) -> ThresholdResult:
    """The result with its summary fields, meaning and status filled in."""
    search = result.report.search if result.report is not None else None
    status, meaning = threshold_verdict(result)
    return dataclasses.replace(
        result,
        threshold=search.threshold if search else None,
        largest_pass=(
            search.low if search else (result.low if _passed(result.lower_bound) else None)
        ),
        rounds=len(search.rounds) if search else 0,
        meaning=meaning,
        status=status,
    )


def _passed(point: ProbePoint | None) -> bool:
    return point is not None and point.verdict is ProbeVerdict.PASS
