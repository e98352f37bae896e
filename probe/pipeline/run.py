"""`probe run` end to end: resolve -> hop 1 -> send -> threshold -> collect -> analyze -> decide.

The I/O stages fill a `RunState` as they observe, so whatever stops the run (Ctrl-C, SIGTERM,
the run's deadline, a mailbox error) still leaves a complete, honest `RunResult`
(`finish_run`), which the pure half (`analyze`, `decide`) turns into verdicts. `perform` is the
use case the command calls.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

from probe import __version__
from probe.analyze.bounce.dsn import parse_bounce
from probe.decide.decision import judge
from probe.errors import MeasurementError, ProbeError, SafetyError
from probe.model.collect import CollectResult
from probe.model.message import OutgoingMessage
from probe.model.run import RunResult
from probe.model.send import VariantSend
from probe.model.smtp import Outcome
from probe.model.status import Status, utcnow, worst
from probe.model.variant import VariantSpec
from probe.pipeline.hop1 import reach_hop1, unreachable
from probe.pipeline.interrupts import Stopped, run_stoppable, signals_raise
from probe.pipeline.request import RunRequest, check_recipients, check_target
from probe.pipeline.state import RunStage, RunState, new_state
from probe.pipeline.threshold import threshold_stage
from probe.plan.craft import craft
from probe.plan.variants import resolve_size
from probe.send.matrix import Job, job_key, send_matrix
from probe.send.options import ProgressFn
from probe.smtp.text import one_line

StepFn = Callable[[int, int, str], None]  # (done, total, variant): a progress bar's step


def _silent(_message: str) -> None:
    pass


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """A finished (or cut short) run, and the error that stopped it after it had begun."""

    result: RunResult
    error: ProbeError | None = None

    @property
    def status(self) -> Status:
        """The run's status; an error that stopped it means less was measured than asked."""
        if self.error is None:
            return self.result.status
        stopped = Status.CRITICAL if isinstance(self.error, SafetyError) else Status.UNKNOWN
        return worst([self.result.status, stopped])


def perform(
    req: RunRequest,
    *,
    deadline: float,
    progress: ProgressFn = _silent,
    step: StepFn | None = None,
) -> RunOutcome:
    """Run it; whatever stops it (Ctrl-C, SIGTERM, the deadline, a mailbox error), keep what
    was observed. An error before anything was sent is raised: there is no run to report."""
    state = new_state(req)
    error: ProbeError | None = None
    stopped: Stopped | None = None
    try:
        stopped = run_stoppable(execute(req, state, progress, step), deadline=deadline)
    except ProbeError as exc:
        if not state.keys:
            raise
        error = exc
    except KeyboardInterrupt as exc:  # a stop request just as the I/O stages ended
        stopped = Stopped.of(exc)
    except Exception as exc:  # a stage's own bug: what was observed is still the run's
        if not state.keys or debugging():
            raise
        error = StageFailed(f"the {state.stage} stage failed: {_what(exc)}")
    reason = str(error) if error else stopped.during(state.stage) if stopped else ""
    result, failed = _finish(req, state, interrupted=bool(reason), reason=reason, progress=progress)
    return RunOutcome(result, error or failed)


class StageFailed(MeasurementError):
    """A stage broke on what it met (a bug); the run keeps what was observed until then."""


def debugging() -> bool:
    """PROBE_DEBUG=1: let a bug's traceback through instead of keeping the run."""
    return bool(os.environ.get("PROBE_DEBUG"))


def _what(exc: BaseException) -> str:
    return one_line(f"{type(exc).__name__}: {exc}", 300)


def make_jobs(req: RunRequest, state: RunState) -> list[Job]:
    jobs = []
    for spec in req.variants:
        probe_id = f"{state.run_id}.{spec.id}"
        jobs.append(
            Job(
                spec.id,
                probe_id,
                spec.description,
                _builder(req, state, spec, probe_id),
            )
        )
    return jobs


def _builder(
    req: RunRequest, state: RunState, spec: VariantSpec, probe_id: str
) -> Callable[[int | None], OutgoingMessage]:
    def build(advertised: int | None) -> OutgoingMessage:
        crafted = craft(
            resolve_size(spec, advertised),
            probe_id=probe_id,
            mail_from=req.mail_from,
            rcpt_to=(req.to,),
            date=state.crafted_date,
            allow_eicar=req.allow_eicar,
        )
        check_recipients(req.to, crafted.rcpt_to)
        return dataclasses.replace(
            crafted, declare_size=crafted.declare_size and req.declare_size, dsn_envid=probe_id
        )

    return build


async def execute(
    req: RunRequest,
    state: RunState,
    progress: ProgressFn,
    step: StepFn | None = None,
) -> None:
    """Run every I/O stage, filling `state`; exceptions only for what stops the whole run."""
    check_target(req)
    if req.mailbox:
        state.stage = RunStage.MAILBOX
        await check_mailboxes(req)
    await reach_hop1(req, state, progress)
    if unreachable(state.hop1):
        assert state.hop1 is not None
        progress(
            f"no MX address answered ({state.hop1.outcome} at {state.hop1.stage}): nothing sent"
        )
        state.stage = RunStage.DONE
        return
    state.stage = RunStage.SEND
    jobs = make_jobs(req, state)
    done = 0

    def sent(key: str, result: VariantSend) -> None:
        nonlocal done
        done += 1
        where = f" at {result.stage}" if result.outcome is not Outcome.ACCEPTED else ""
        progress(f"[{done}/{len(state.keys)}] {result.variant}: {result.outcome}{where}")
        if step is not None:
            step(done, len(state.keys), result.variant)

    state.keys = [
        job_key(j, t) for j in jobs for t in (state.targets if req.send.all_mx else [None])
    ]
    await send_matrix(
        jobs, state.targets, req.send, state.log, advertised_size=state.advertised, on_sent=sent
    )
    if req.threshold:
        state.stage = RunStage.THRESHOLD
        await threshold_stage(req, state, progress)
    if req.mailbox:
        state.stage = RunStage.COLLECT
        await _collect(req, state, progress)
    state.stage = RunStage.DONE


def _ca_path(req: RunRequest) -> Path | None:
    return None if req.mailbox_ca_file is None else Path(req.mailbox_ca_file)


async def check_mailboxes(req: RunRequest) -> None:
    """Log in (or open) before anything is sent: probes that cannot be collected are noise."""
    from probe.collect.mailboxes import open_mailbox

    for url in (req.mailbox, req.bounce_mailbox):
        if url:
            box = await open_mailbox(
                url, password=req.password, ca_file=_ca_path(req), insecure=req.insecure
            )
            await box.close()


async def _collect(req: RunRequest, state: RunState, progress: ProgressFn) -> None:
    from probe.collect.mailboxes import open_mailbox
    from probe.collect.wait import collect

    assert req.mailbox is not None
    sends = state.log.results(state.keys)
    expected = {s.probe_id: s.variant for s in sends if s.outcome is Outcome.ACCEPTED}
    if not expected:
        progress("collect: nothing was accepted, nothing to wait for")
        return
    progress(f"collecting {len(expected)} copies from {req.mailbox.split('?')[0]}")
    ca = _ca_path(req)
    mailbox = await open_mailbox(
        req.mailbox, password=req.password, ca_file=ca, insecure=req.insecure
    )
    bounce_box = None
    try:
        if req.bounce_mailbox:
            bounce_box = await open_mailbox(
                req.bounce_mailbox, password=req.password, ca_file=ca, insecure=req.insecure
            )

        def keep(found: CollectResult) -> None:  # what was found when the stage is cut short
            state.collect = found

        state.collect = await collect(
            mailbox,
            expected,
            deadline=time.monotonic() + req.collect_for,
            bounce_mailbox=bounce_box,
            is_bounce_for=_bounce_ids,
            on_interrupt=keep,
        )
        if req.cleanup and state.collect.delivered:
            await mailbox.delete(state.collect.delivered)
    finally:
        await mailbox.close()
        if bounce_box is not None:
            await bounce_box.close()


def _bounce_ids(raw: bytes) -> tuple[str, ...]:
    bounce = parse_bounce(raw)
    return bounce.probe_ids if bounce is not None else ()


def finish_run(
    req: RunRequest,
    state: RunState,
    *,
    interrupted: bool = False,
    reason: str = "",
    progress: ProgressFn = _silent,
) -> RunResult:
    """Assemble, analyse and decide what was observed (also after an interruption).

    Ctrl-C or SIGTERM during the analysis, or an analysis that breaks, ends it: the
    observations are kept, undecided (UNKNOWN), so they are saved and can be decided again with
    `probe analyze`."""
    return _finish(req, state, interrupted=interrupted, reason=reason, progress=progress)[0]


def _finish(
    req: RunRequest,
    state: RunState,
    *,
    interrupted: bool,
    reason: str,
    progress: ProgressFn,
) -> tuple[RunResult, StageFailed | None]:
    """`finish_run`, and the analysis's own failure when it broke."""
    result = observed(req, state, interrupted=interrupted, reason=reason)
    state.stage = RunStage.ANALYZE
    progress("analysing what was observed")
    try:
        with signals_raise():
            return judge(result), None
    except KeyboardInterrupt as exc:
        stop = Stopped.of(exc).during(RunStage.ANALYZE)
        why = f"{reason}; {stop}" if reason else stop
        undecided = dataclasses.replace(
            result, interrupted=True, stop_reason=why, status=Status.UNKNOWN
        )
        return undecided, None
    except Exception as exc:
        if debugging():
            raise
        failed = StageFailed(f"the analysis failed: {_what(exc)}")
        return dataclasses.replace(result, status=Status.UNKNOWN), failed


def observed(
    req: RunRequest, state: RunState, *, interrupted: bool = False, reason: str = ""
) -> RunResult:
    """What the run observed, not yet analysed."""
    return RunResult(
        run_id=state.run_id,
        domain=req.domain,
        to=req.to,
        mail_from=req.mail_from,
        profile=req.profile,
        started_at=state.started_at,
        finished_at=utcnow(),
        interrupted=interrupted,
        stop_reason=reason,
        mx=state.mx,
        targets=tuple(t.label for t in state.targets),
        hop1=state.hop1,
        specs=req.variants,
        crafted_date=state.crafted_date,
        craft_version=__version__,
        advertised_size=state.advertised,
        allow_eicar=req.allow_eicar,
        variants=state.log.results(state.keys) if state.keys else (),
        collect=state.collect,
        threshold=state.threshold,
        checks=req.checks,
    )
