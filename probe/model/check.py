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
from probe.model.verdict import Action

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
class Limit:
    """A figure with a warning and a critical bound; `above` says which side is bad."""

    warning: float | None = None
    critical: float | None = None
    above: bool = True  # True: a value above the bound is bad (delay); False: below (size, days)

    def level(self, value: float) -> Status:
        def bad(bound: float | None) -> bool:
            return bound is not None and (value > bound if self.above else value < bound)

        if bad(self.critical):
            return Status.CRITICAL
        return Status.WARNING if bad(self.warning) else Status.OK


@dataclasses.dataclass(frozen=True)
class Expectations:
    """What a target must show; None switches an expectation off. Levels are WARNING/CRITICAL."""

    reachable: Status = Status.CRITICAL
    starttls: Status | None = Status.WARNING
    certificate_days: Limit | None = Limit(warning=21, critical=7, above=False)
    max_size: Limit | None = None  # bytes the path must accept
    no_actions: tuple[tuple[Action, Status], ...] = ()  # actions no hop may take, with levels
    allow_injects: tuple[str, ...] = ()  # header names a hop may add (lower case)
    delivered_within: Limit | None = None  # seconds
    not_junk: Status | None = Status.WARNING
    same_hops: Status | None = Status.WARNING
    same_mx: Status | None = Status.WARNING
    drift: Status | None = Status.WARNING


@dataclasses.dataclass(frozen=True)
class TargetSpec:
    """One target of a check config (or of the command line)."""

    target: str  # a domain, or a host name or address when `direct`
    direct: bool = False  # talk to the host itself, not to its MX
    profile: str = "capabilities"
    to: str = ""  # the recipient, for profiles that send
    mailbox: str = ""  # the cooperating mailbox URL (no secret in it)
    password_env: str = ""  # the environment variable holding the mailbox password
    password_file: str = ""
    port: int = 25
    threshold_every: int = 0  # run the size threshold search every K-th run (0: never)
    expect: Expectations = Expectations()


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
