"""A threshold search as data: each probe's verdict, the rounds, the interval it narrowed to.

`probe.plan.threshold` moves the state from round to round; a run's `ThresholdReport` and
`probe threshold --json` carry it.
"""

from __future__ import annotations

import dataclasses
import enum


class ProbeVerdict(enum.StrEnum):
    PASS = "pass"  # accepted
    FAIL = "fail"  # rejected in a way that depends on the size
    HARD = "hard"  # failed for a reason unrelated to size: stop the search
    UNKNOWN = "unknown"  # could not tell (timeout, temp failure): probe again


@dataclasses.dataclass(frozen=True)
class ProbePoint:
    value: int
    verdict: ProbeVerdict
    detail: str = ""  # the reply text, for the report


@dataclasses.dataclass(frozen=True)
class SearchRound:
    number: int
    points: tuple[ProbePoint, ...]


@dataclasses.dataclass(frozen=True)
class SearchState:
    low: int  # largest value known (or assumed) to pass
    high: int  # smallest value known to fail, or the upper bound of the range when untested
    high_tested: bool
    k: int
    precision: int
    rounds: tuple[SearchRound, ...] = ()
    stopped: str = ""  # why the search stopped early (hard failure, inconsistency)
    cap: int | None = None  # smallest value above `low` that got no answer (UNKNOWN)
    stalls: int = 0  # rounds in a row with nothing but UNKNOWN

    @property
    def done(self) -> bool:
        if self.stopped:
            return True
        return self.high - self.low <= self.precision and self.high_tested

    @property
    def threshold(self) -> int | None:
        """The smallest failing value found (to `precision`), None when nothing failed."""
        return self.high if self.high_tested and not self.stopped else None

    @property
    def no_failure(self) -> bool:
        return self.stopped.startswith("no failure")

    @property
    def top(self) -> int:
        """The largest value still worth probing: the range end, or just below the cap."""
        return self.high if self.cap is None else min(self.high, self.cap - 1)
