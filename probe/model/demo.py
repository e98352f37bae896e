"""`probe demo` as data: each lab scenario's run and whether its verdict was the expected one."""

from __future__ import annotations

import dataclasses

from probe.model.run import RunResult


@dataclasses.dataclass(frozen=True)
class DemoOutcome:
    scenario: str
    description: str
    matched: bool
    check: str  # what was expected and whether it came out
    run: RunResult


@dataclasses.dataclass(frozen=True)
class DemoReport:
    """The `probe.demo/1` document."""

    status: str
    seconds: float
    cases: tuple[DemoOutcome, ...]
