"""One `probe run`, end to end, as data: what was planned, sent, collected, analysed, decided.

This is what `--json` prints and `--save` stores; `probe analyze RUN.json` loads it back with
`probe.model.from_data` and decides again offline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from probe.model.bounce import Bounce
from probe.model.collect import CollectResult
from probe.model.diff import DiffResult
from probe.model.mx import MxResult
from probe.model.send import VariantSend
from probe.model.smtp import Conversation
from probe.model.status import Status
from probe.model.threshold import SearchState
from probe.model.trace import Trace
from probe.model.variant import VariantSpec
from probe.model.verdict import CheckLevel, Decision

RUN_SCHEMA = "probe.run/1"


class AnalysisPart(enum.StrEnum):
    """What is read from a variant's copy or bounces."""

    TRACE = "trace"  # the delivered copy's Received path
    DIFF = "diff"  # the delivered copy against the message as sent
    BOUNCE = "bounce"  # a bounce (DSN) that names the variant


@dataclasses.dataclass(frozen=True)
class NotAnalysed:
    """A part of a variant's analysis that could not be done, and why in one line ("could not be
    parsed: RecursionError: ..."): whatever depended on it is unknown, the rest stands."""

    part: AnalysisPart
    reason: str


@dataclasses.dataclass(frozen=True)
class VariantAnalysis:
    """Facts about one variant's delivered copy and bounces (from trace, diff and dsn)."""

    probe_id: str
    variant: str
    trace: Trace | None = None
    diff: DiffResult | None = None
    bounces: tuple[Bounce, ...] = ()
    not_analysed: tuple[NotAnalysed, ...] = ()


@dataclasses.dataclass(frozen=True)
class ThresholdReport:
    kind: str  # "size"
    search: SearchState
    advertised_size: int | None
    boundary_reply: str = ""  # the reply at the first failing value
    target: str = ""


@dataclasses.dataclass(frozen=True)
class RunResult:
    run_id: str
    domain: str
    to: str
    mail_from: str
    profile: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    interrupted: bool = False
    stop_reason: str = ""
    mx: MxResult | None = None
    targets: tuple[str, ...] = ()
    hop1: Conversation | None = None  # the capability probe before the matrix
    specs: tuple[VariantSpec, ...] = ()
    crafted_date: dt.datetime | None = None  # the Date every message carried (to re-craft)
    craft_version: str = ""  # the probe version in their X-Probe ("": saved before it was kept)
    advertised_size: int | None = None  # SIZE offered by hop 1 (relative variants used it)
    allow_eicar: bool = False
    variants: tuple[VariantSend, ...] = ()
    collect: CollectResult | None = None
    analyses: tuple[VariantAnalysis, ...] = ()
    threshold: ThresholdReport | None = None
    checks: tuple[tuple[str, CheckLevel], ...] = ()  # the profile's levels (others: defaults)
    decision: Decision | None = None
    status: Status = Status.UNKNOWN
