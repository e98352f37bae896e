"""`probe check`: per target, what was measured, what was expected, and what changed.

A target's result is stored in the history on its own (kind `check`), so drift and the
monitoring outputs work per target; the whole check is the `probe.check/1` document.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from probe.model.drift import Drift
from probe.model.mx import MxResult
from probe.model.run import RunResult
from probe.model.smtp import Conversation
from probe.model.snapshot import PathSnapshot
from probe.model.status import Status

CHECK_SCHEMA = "probe.check/1"


class Expectation(enum.StrEnum):
    """What a target's config can expect; each is rated warning or critical there."""

    REACHABLE = "reachable"  # the MX resolves and at least one address answers
    STARTTLS = "starttls"  # STARTTLS offered at every address
    CERTIFICATE = "certificate"  # valid for the MX name for at least N days
    MAX_SIZE = "max-size"  # the largest accepted size is at least N bytes
    NO_ACTIONS = "no-actions"  # no hop rejects / rewrites / strips / injects beyond an allow-list
    DELIVERED_WITHIN = "delivered-within"  # the control arrives within T seconds
    NOT_JUNK = "not-junk"  # no copy lands in a junk folder
    SAME_HOPS = "same-hops"  # no new, removed or changed hop
    SAME_MX = "same-mx"  # the MX set is unchanged
    DRIFT = "drift"  # anything else that changed against the previous run or the baseline


@dataclasses.dataclass(frozen=True)
class CheckFinding:
    expectation: Expectation
    status: Status  # OK when met
    summary: str


@dataclasses.dataclass(frozen=True)
class TargetCheck:
    result_id: str
    target: str
    profile: str
    vantage: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: Status
    interrupted: bool = False
    reason: str = ""  # why nothing (or not everything) was measured
    mx: MxResult | None = None
    conversations: tuple[Conversation, ...] = ()  # the capability conversations
    run: RunResult | None = None  # profiles that send
    snapshot: PathSnapshot | None = None
    findings: tuple[CheckFinding, ...] = ()
    drift: Drift | None = None

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclasses.dataclass(frozen=True)
class CheckResult:
    vantage: str
    config: str  # the config file, or "" for a target given on the command line
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: Status
    targets: tuple[TargetCheck, ...] = ()
    interrupted: bool = False
    stop_reason: str = ""
    shard: str = ""  # "I/N" when the config's targets were split across machines
    not_in_shard: int = 0
