"""`probe run` end to end: resolve -> hop-1 capabilities -> send -> threshold -> collect.

The I/O half of a run. Everything it observes lands in a `RunState` as it happens, so Ctrl-C
or a deadline still leaves a complete, honest `RunResult` (`finish_run`), which the pure half
(`analyze`, `decide`) turns into verdicts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from probe.analyze.bounce.dsn import parse_bounce
from probe.collect.secrets import Secret
from probe.decide.decision import judge
from probe.errors import DnsError, SafetyError, UsageError
from probe.model.collect import CollectResult
from probe.model.mx import MxResult, MxSource
from probe.model.run import RunResult, ThresholdReport
from probe.model.send import VariantSend
from probe.model.smtp import SIZE_STAGES, Conversation, Outcome
from probe.model.status import utcnow
from probe.model.variant import VariantSpec
from probe.plan.craft import craft, resolve_size
from probe.send.converse import converse
from probe.send.matrix import Built, Job, SendLog, SendSettings, Target, send_matrix
from probe.send.options import ConverseOptions
from probe.send.threshold import size_search
from probe.smtp.hosts import ip_literal
from probe.smtp.replies import size_limit


@dataclasses.dataclass(frozen=True)
class RunRequest:
    domain: str
    to: str
    mail_from: str
    profile: str
    variants: tuple[VariantSpec, ...]
    checks: tuple[tuple[str, str], ...]
    options: ConverseOptions
    send: SendSettings
    via: tuple[str, int] | None = None
    nameservers: tuple[tuple[str, int], ...] = ()
    dns_timeout: float = 5.0
    allow_eicar: bool = False
    declare_size: bool = True
    mailbox: str | None = None
    bounce_mailbox: str | None = None
    password: Secret | None = dataclasses.field(default=None, repr=False)
    mailbox_ca_file: str | None = None
    insecure: bool = False
    collect_for: float = 300.0
    cleanup: bool = False
    threshold: bool = False
    threshold_k: int = 4
    run_id: str = ""
    now: dt.datetime | None = None


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
    stage: str = "resolve"


ProgressFn = Callable[[str], None]


def new_run_id(now: dt.datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def new_state(req: RunRequest) -> RunState:
    now = (req.now or utcnow()).replace(microsecond=0)
    return RunState(run_id=req.run_id or new_run_id(now), started_at=now, crafted_date=now)


def check_recipients(to: str, rcpts: tuple[str, ...]) -> None:
    """Every recipient is --to or one of its subaddresses (local+N@domain)."""
    local, _, domain = to.rpartition("@")
    for rcpt in rcpts:
        r_local, _, r_domain = rcpt.rpartition("@")
        base = r_local.split("+", 1)[0]
        if r_domain.lower() != domain.lower() or (rcpt != to and base != local.split("+")[0]):
            raise SafetyError(f"refusing to send to {rcpt}: only {to} and its subaddresses")


def check_target(req: RunRequest) -> None:
    """Only the target domain's own MX, unless --via names a relay the user controls."""
    if "@" not in req.to:
        raise UsageError(f"--to {req.to!r} is not an address")
    if req.via is None and req.to.rpartition("@")[2].lower() != req.domain.lower():
        # a bad argument (exit 3, like every usage error), not a finding about the domain
        raise UsageError(
            f"--to {req.to} is not in {req.domain}: probe only sends to the target domain's "
            "own MX (use --via HOST:PORT for a relay you control)"
        )


async def resolve_targets(req: RunRequest, state: RunState) -> list[Target]:
    if req.via is not None:
        host, port = req.via
        from probe.send.resolve import resolve_addresses

        literal = ip_literal(host)
        addresses = (
            (literal,)
            if literal
            else await resolve_addresses(host, nameservers=req.nameservers, timeout=req.dns_timeout)
        )
        return [Target(host, a, port) for a in addresses]
    from probe.send.resolve import delivery_order, resolve_mx

    mx = await resolve_mx(req.domain, nameservers=req.nameservers, timeout=req.dns_timeout)
    state.mx = mx
    if mx.source is MxSource.NULL_MX:
        raise SafetyError(
            f"{req.domain} publishes a null MX (RFC 7505): it accepts no mail; nothing was sent"
        )
    if mx.source not in (MxSource.MX, MxSource.IMPLICIT):
        raise DnsError(f"{req.domain}: {mx.detail or mx.source}")
    targets = [Target(h.exchange, a, req.options.port, h.preference) for h, a in delivery_order(mx)]
    if not targets:
        raise DnsError(f"{req.domain}: no mail exchanger has an address")
    return targets


async def probe_hop1(req: RunRequest, state: RunState) -> None:
    """A capability conversation first: SIZE for relative variants, the hop-1 fingerprint."""

    def keep(conv: Conversation) -> None:  # also the one an interruption cuts short
        state.hop1 = conv
        state.advertised = size_limit(conv.capabilities_after_tls or conv.capabilities)

    for target in state.targets:
        options = dataclasses.replace(req.options, port=target.port)
        keep(await converse(target.host, target.address, options, on_interrupt=keep))
        if state.hop1 is not None and state.hop1.outcome is Outcome.OK:
            break


_UNREACHABLE = {
    Outcome.REFUSED,
    Outcome.UNREACHABLE,
    Outcome.TIMEOUT,
    Outcome.RESET,
    Outcome.DISCONNECTED,
    Outcome.GARBAGE,
}


def unreachable(hop1: Conversation | None) -> bool:
    """Every address failed before a usable banner: sending the matrix would only wait more."""
    return hop1 is not None and hop1.outcome in _UNREACHABLE and hop1.stage in ("connect", "banner")


def make_jobs(req: RunRequest, state: RunState) -> list[Job]:
    jobs = []
    for spec in req.variants:
        probe_id = f"{state.run_id}.{spec.id}"
        jobs.append(
            Job(
                spec.id,
                probe_id,
                spec.description,
                req.mail_from,
                _builder(req, state, spec, probe_id),
            )
        )
    return jobs


def _builder(
    req: RunRequest, state: RunState, spec: VariantSpec, probe_id: str
) -> Callable[[int | None], Built]:
    def build(advertised: int | None) -> Built:
        crafted = craft(
            resolve_size(spec, advertised),
            probe_id=probe_id,
            mail_from=req.mail_from,
            rcpt_to=(req.to,),
            date=state.crafted_date,
            allow_eicar=req.allow_eicar,
        )
        check_recipients(req.to, crafted.rcpt_to)
        return Built(
            crafted.data,
            crafted.manifest,
            crafted.rcpt_to,
            needs_8bit=crafted.needs_8bit,
            needs_smtputf8=crafted.needs_smtputf8,
            declare_size=crafted.declare_size and req.declare_size,
            mail_from=crafted.mail_from,
        )

    return build


async def execute(
    req: RunRequest,
    state: RunState,
    progress: ProgressFn,
    step: Callable[[int, int, str], None] | None = None,
) -> None:
    """Run every I/O stage, filling `state`; exceptions only for what stops the whole run."""
    check_target(req)
    if req.mailbox:
        state.stage = "mailbox"
        await check_mailboxes(req)
    state.stage = "resolve"
    progress(f"resolving {req.domain}" if req.via is None else f"sending via {req.via[0]}")
    state.targets = await resolve_targets(req, state)
    state.stage = "hop1"
    progress(f"talking to {state.targets[0].label}")
    await probe_hop1(req, state)
    if unreachable(state.hop1):
        assert state.hop1 is not None
        progress(
            f"no MX address answered ({state.hop1.outcome} at {state.hop1.stage}): nothing sent"
        )
        state.stage = "done"
        return
    state.stage = "send"
    jobs = make_jobs(req, state)
    done = 0

    def sent(key: str, result: VariantSend | None) -> None:
        nonlocal done
        done += 1
        if result is not None:
            where = f" at {result.stage}" if result.outcome is not Outcome.ACCEPTED else ""
            progress(f"[{done}/{len(state.keys)}] {result.variant}: {result.outcome}{where}")
            if step is not None:
                step(done, len(state.keys), result.variant)

    from probe.send.matrix import job_key

    state.keys = [
        job_key(j, t) for j in jobs for t in (state.targets if req.send.all_mx else [None])
    ]
    await send_matrix(
        jobs, state.targets, req.send, state.log, advertised_size=state.advertised, progress=sent
    )
    if req.threshold:
        state.stage = "threshold"
        await _threshold(req, state, progress)
    if req.mailbox:
        state.stage = "collect"
        await _collect(req, state, progress)
    state.stage = "done"


async def _threshold(req: RunRequest, state: RunState, progress: ProgressFn) -> None:
    sends = state.log.results(state.keys)
    size_fail = [
        s for s in sends if s.outcome is Outcome.REJECTED and s.size and s.stage in SIZE_STAGES
    ]
    passed = [s.size for s in sends if s.outcome is Outcome.ACCEPTED and s.size]
    if not size_fail or not passed:
        progress("threshold: no size-dependent rejection to search")
        return
    high = min(s.size for s in size_fail if s.size)
    low = max((p for p in passed if p < high), default=0)
    if not low:
        return
    target = _deciding_target(state, size_fail[0])
    progress(f"threshold: searching between {low:,} and {high:,} bytes at {target.label}")

    def keep(report: ThresholdReport) -> None:  # the search so far, when interrupted
        state.threshold = report

    state.threshold = await size_search(
        target,
        req.options,
        state.run_id,
        low=low,
        high=high,
        k=req.threshold_k,
        mail_from=req.mail_from,
        to=req.to,
        date=state.crafted_date,
        advertised=state.advertised,
        progress=progress,
        on_interrupt=keep,
    )


def _deciding_target(state: RunState, send: VariantSend) -> Target:
    for target in state.targets:
        if target.label == send.target:
            return target
    return state.targets[0]


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
        state.collect = await collect(
            mailbox,
            expected,
            deadline=time.monotonic() + req.collect_for,
            bounce_mailbox=bounce_box,
            is_bounce_for=_bounce_ids,
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
    req: RunRequest, state: RunState, *, interrupted: bool = False, reason: str = ""
) -> RunResult:
    """Assemble, analyse and decide what was observed (also after an interruption)."""
    result = RunResult(
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
        advertised_size=state.advertised,
        allow_eicar=req.allow_eicar,
        variants=state.log.results(state.keys) if state.keys else (),
        collect=state.collect,
        threshold=state.threshold,
        checks=req.checks,
    )
    return judge(result)
