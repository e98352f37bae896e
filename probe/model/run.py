"""One `probe run`, end to end, as data: what was planned, sent, collected, analysed, decided.

This is what `--json` prints and `--save` stores; `probe analyze RUN.json` loads it back with
`probe.model.from_data` and decides again offline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

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


@dataclasses.dataclass(frozen=True)
class VariantAnalysis:
    """Facts about one variant's delivered copy and bounces (from trace, diff and dsn)."""

    probe_id: str
    variant: str
    trace: Trace | None = None
    diff: DiffResult | None = None
    bounces: tuple[Bounce, ...] = ()


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
    advertised_size: int | None = None  # SIZE offered by hop 1 (relative variants used it)
    allow_eicar: bool = False
    variants: tuple[VariantSend, ...] = ()
    collect: CollectResult | None = None
    analyses: tuple[VariantAnalysis, ...] = ()
    threshold: ThresholdReport | None = None
    checks: tuple[tuple[str, CheckLevel], ...] = ()  # the profile's levels (others: defaults)
    decision: Decision | None = None
    status: Status = Status.UNKNOWN
