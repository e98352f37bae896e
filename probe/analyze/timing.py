"""Final-reply timings as statistics: robust slopes and the noise of repeated measurements (pure).

A run's timed variants are measured several times each (`probe.plan.timing`) with the final dot
held until the hop has every byte, so each measurement splits into the upload and the wait after
the dot. `fit` summarises them: per size the median wait and the spread of its repeats, the
Theil-Sen slope of the wait over the size (the median of the pairwise slopes, which one outlier
cannot move) with Sen's rank confidence interval, and the same slope for the upload, the time
the path takes to carry a megabyte in the same run.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence

MB = 1_000_000
Z_95 = 1.96  # two-sided 95 % for Sen's interval
MAX_POINTS = 200  # pairwise slopes are quadratic: a run has a few dozen timed attempts at most


@dataclasses.dataclass(frozen=True)
class TimingPoint:
    """One measurement: a message of `size` bytes, its upload and the wait after its dot."""

    group: str  # the variant it measures (repeats share it)
    variant: str  # the variant id of this attempt
    size: int
    upload_ms: float
    wait_ms: float


@dataclasses.dataclass(frozen=True)
class SizeGroup:
    """The repeats of one variant: their median wait and how far apart they lie."""

    group: str
    size: int
    count: int
    median_ms: float
    spread_ms: float  # max - min of the repeats' waits
    median_upload_ms: float


@dataclasses.dataclass(frozen=True)
class Slope:
    """Theil-Sen slope in ms per MB with Sen's 95 % interval."""

    per_mb: float
    low: float
    high: float


@dataclasses.dataclass(frozen=True)
class TimingFit:
    groups: tuple[SizeGroup, ...]  # smallest size first
    wait: Slope
    upload: Slope
    baseline_ms: float  # median wait of the smallest size (the control)
    growth_ms: float  # median wait of the largest size minus the baseline
    noise_ms: float  # the largest spread among the repeats of one size

    @property
    def span_mb(self) -> float:
        return (self.groups[-1].size - self.groups[0].size) / MB

    @property
    def monotone(self) -> bool:
        """Each size waits at least as long as the smaller one, within the noise."""
        medians = [g.median_ms for g in self.groups]
        return all(b >= a - self.noise_ms for a, b in zip(medians, medians[1:], strict=False))


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> Slope:
    """The median of the slopes between every two points of different x, and Sen's interval
    (Hollander & Wolfe): the slopes ranked (N - C)/2 and (N + C)/2 + 1, C = z * sd of
    Kendall's S. Fewer than two distinct x: a zero slope."""
    slopes = sorted(
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    )
    if not slopes:
        return Slope(0.0, 0.0, 0.0)
    n, count = len(xs), len(slopes)
    c = Z_95 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    low = max(0, min(count - 1, round((count - c) / 2) - 1))
    high = max(0, min(count - 1, math.ceil((count + c) / 2)))
    return Slope(statistics.median(slopes), slopes[low], slopes[high])


def fit(points: Sequence[TimingPoint]) -> TimingFit | None:
    """The statistics of a run's timed measurements; None below two sizes."""
    points = sorted(points, key=lambda p: (p.size, p.variant))[:MAX_POINTS]
    by_group: dict[str, list[TimingPoint]] = {}
    for point in points:
        by_group.setdefault(point.group, []).append(point)
    if len(by_group) < 2:
        return None
    groups = tuple(
        sorted(
            (
                SizeGroup(
                    name,
                    round(statistics.median(p.size for p in repeats)),
                    len(repeats),
                    statistics.median(p.wait_ms for p in repeats),
                    max(p.wait_ms for p in repeats) - min(p.wait_ms for p in repeats),
                    statistics.median(p.upload_ms for p in repeats),
                )
                for name, repeats in by_group.items()
            ),
            key=lambda g: g.size,
        )
    )
    sizes = [p.size / MB for p in points]
    return TimingFit(
        groups=groups,
        wait=theil_sen(sizes, [p.wait_ms for p in points]),
        upload=theil_sen(sizes, [p.upload_ms for p in points]),
        baseline_ms=groups[0].median_ms,
        growth_ms=groups[-1].median_ms - groups[0].median_ms,
        noise_ms=max(g.spread_ms for g in groups),
    )
