"""What a run observed so far, filled as it happens, and the stage it is in.

Everything a stage observes lands here at once, so an interruption (Ctrl-C, SIGTERM, the run's
deadline) at any stage still leaves what was seen; `pipeline.run.finish_run` turns it into a
`RunResult`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import secrets

from probe.model.collect import CollectResult
from probe.model.mx import MxResult
from probe.model.run import ThresholdReport
from probe.model.smtp import Conversation
from probe.model.status import utcnow
from probe.pipeline.request import RunRequest
from probe.send.matrix import SendLog, Target


class RunStage(enum.StrEnum):
    """The stages of a run, in order; the value is what a stop reason names ("during send")."""

    MAILBOX = "mailbox"  # logging in to the mailboxes before anything is sent
    RESOLVE = "resolve"
    HOP1 = "hop1"  # the capability conversation with hop 1
    SEND = "send"
    THRESHOLD = "threshold"
    COLLECT = "collect"
    ANALYZE = "analyze"  # analysing the copies and deciding (offline, no I/O)
    DONE = "done"


@dataclasses.dataclass
class RunState:
    """Mutable record of what a run observed so far."""

    run_id: str
    started_at: dt.datetime
    crafted_date: dt.datetime
    mx: MxResult | None = None
    targets: list[Target] = dataclasses.field(default_factory=list)
    hop1: Conversation | None = None
    advertised: int | None = None
    log: SendLog = dataclasses.field(default_factory=SendLog)
    keys: list[str] = dataclasses.field(default_factory=list)
    threshold: ThresholdReport | None = None
    collect: CollectResult | None = None
    stage: RunStage = RunStage.RESOLVE


def new_run_id(now: dt.datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def new_state(req: RunRequest) -> RunState:
    now = (req.now or utcnow()).replace(microsecond=0)
    return RunState(run_id=req.run_id or new_run_id(now), started_at=now, crafted_date=now)
