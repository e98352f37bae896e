"""`probe check`: many targets at once, each measured, judged, compared and stored.

Targets run concurrently within a global limit and a per-MX-address limit (one slow or broken
target never delays the others beyond the deadline); the whole check is bounded by its deadline
and stops cleanly on SIGINT/SIGTERM (`run_stoppable`): every target that finished is judged and
stored, the others become UNKNOWN with what they had observed. A target's result is stored in
the history as it finishes, so a check killed outright (SIGKILL) keeps all finished targets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence

from probe.analyze.drift import compare
from probe.analyze.headers import header_end
from probe.analyze.snapshot import capability_snapshot, run_snapshot
from probe.collect.secrets import Secret
from probe.decide.check import evaluate
from probe.errors import ProbeError
from probe.history.store import History
from probe.model.check import CheckResult, TargetCheck, TargetSpec
from probe.model.drift import Drift, DriftBase
from probe.model.history import HistoryQuery, RecordKind, StoredResult
from probe.model.json import document, from_data
from probe.model.message import DeliveredCopy
from probe.model.mx import MxResult
from probe.model.run import RunResult
from probe.model.smtp import Conversation
from probe.model.snapshot import PathSnapshot
from probe.model.status import Status, utcnow, worst
from probe.pipeline.connect import connect_target
from probe.pipeline.interrupts import Stopped, run_stoppable
from probe.pipeline.request import RunArgs, SendArgs, build_request
from probe.pipeline.run import execute, finish_run
from probe.pipeline.state import new_state
from probe.plan.profile_files import load_profile
from probe.send.options import ConverseOptions

CAPABILITIES = "capabilities"  # the profile that sends no message
TARGET_SCHEMA = "probe.check-target/1"  # one target as stored in the history


@dataclasses.dataclass(frozen=True)
class CheckRequest:
    targets: tuple[TargetSpec, ...]
    vantage: str
    options: ConverseOptions  # HELO, timeouts, port for the capability conversations
    local_name: str
    config: str = ""
    deadline: float = 300.0
    concurrency: int = 8
    per_address: int = 2
    nameservers: tuple[tuple[str, int], ...] = ()
    dns_timeout: float = 5.0
    passwords: tuple[tuple[str, Secret], ...] = dataclasses.field(default=(), repr=False)
    shard: tuple[int, int] | None = None  # (index from 1, count)
    not_in_shard: int = 0


def in_shard(target: str, shard: tuple[int, int] | None) -> bool:
    """Deterministic across machines and runs: the same target always lands on one shard."""
    if shard is None:
        return True
    index, count = shard
    digest = int.from_bytes(hashlib.sha256(target.lower().encode()).digest()[:8], "big")
    return digest % count == index - 1


def _result_id(started: dt.datetime, spec: TargetSpec, vantage: str) -> str:
    """Unique per measurement (a random part), readable (time, then the target's tag)."""
    tag = hashlib.sha256(f"{spec.target}|{vantage}".encode()).hexdigest()[:6]
    return f"{started:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}.{tag}"


class _Gates:
    """A global limit on targets at once, one per MX address on conversations at once, and the
    DNS answers the targets share."""

    def __init__(self, concurrency: int, per_address: int) -> None:
        from probe.send.resolve import new_dns_cache

        self.targets = asyncio.Semaphore(concurrency)
        self.dns_cache = new_dns_cache()  # the targets' MX hosts are looked up once per check
        self._per_address = per_address
        self._addresses: dict[str, asyncio.Semaphore] = {}

    def address(self, address: str) -> asyncio.Semaphore:
        return self._addresses.setdefault(address, asyncio.Semaphore(self._per_address))


@dataclasses.dataclass
class _Observed:
    """What a target has shown so far (filled as it runs, kept when it is cut short)."""

    spec: TargetSpec
    started_at: dt.datetime
    mx: MxResult | None = None
    conversations: tuple[Conversation, ...] = ()
    run: RunResult | None = None
    reason: str = ""
    finished: bool = False


def _drift_of(history: History | None, entry: StoredResult,
              snapshot: PathSnapshot | None) -> Drift | None:
    if history is None or snapshot is None:
        return None
    baseline = history.baseline(entry.target, entry.vantage, entry.kind)
    against, base = (DriftBase.BASELINE, baseline) if baseline is not None else (
        DriftBase.PREVIOUS, history.previous(entry))
    if base is None:
        return None
    try:
        stored = from_data(TargetCheck, json.loads(history.document(base.result_id)))
    except (ValueError, TypeError, KeyError):
        return None  # an unreadable old document is no reason to fail today's check
    if stored.snapshot is None:
        return None
    return Drift(base.result_id, entry.result_id, against, compare(stored.snapshot, snapshot))


def judge_target(obs: _Observed, req: CheckRequest, history: History | None,
                 interrupted: bool) -> TargetCheck:
    spec = obs.spec
    now = utcnow()
    snapshot: PathSnapshot | None = None
    if obs.run is not None:
        snapshot = run_snapshot(obs.run)
    elif obs.mx is not None or obs.conversations:
        snapshot = capability_snapshot(spec.target, obs.mx, obs.conversations)
    draft = TargetCheck(
        result_id=_result_id(obs.started_at, spec, req.vantage), target=spec.target,
        profile=spec.profile, vantage=req.vantage, started_at=obs.started_at, finished_at=now,
        status=Status.UNKNOWN, interrupted=interrupted, reason=obs.reason, mx=obs.mx,
        conversations=obs.conversations, run=obs.run, snapshot=snapshot,
    )
    entry = _entry(draft)
    drift = None if interrupted else _drift_of(history, entry, snapshot)
    findings, status = evaluate(
        spec.expect, mx=obs.mx or (obs.run.mx if obs.run else None),
        conversations=obs.conversations, run=obs.run, snapshot=snapshot, drift=drift, now=now,
        interrupted=interrupted or not obs.finished,
    )
    kept = dataclasses.replace(draft, findings=findings, status=status, drift=drift)
    return dataclasses.replace(kept, run=_without_bodies(obs.run)) if obs.run else kept


def _without_bodies(run: RunResult) -> RunResult:
    """The run as a check keeps it once judged: each delivered copy cut to its header block (the
    analyses of the whole copy stay), so a daily check of a hundred targets with a 1.1 MB
    message each stores kilobytes per target, not megabytes, and holds no bodies in memory."""
    if run.collect is None:
        return run
    copies = tuple(_header_block(c) for c in run.collect.delivered)
    return dataclasses.replace(run, collect=dataclasses.replace(run.collect, delivered=copies))


def _header_block(copy: DeliveredCopy) -> DeliveredCopy:
    """The copy up to and with its empty line (`analyze.headers.header_end` finds it)."""
    raw = copy.raw
    end = header_end(raw)
    end += 2 if raw.startswith(b"\r\n", end) else 1  # the header block's own line end
    end += 2 if raw.startswith(b"\r\n", end) else 1  # the empty line
    if end >= len(raw):
        return copy
    return dataclasses.replace(copy, raw=raw[:end], trimmed_from=copy.trimmed_from or len(raw))


def _entry(t: TargetCheck) -> StoredResult:
    return StoredResult(
        result_id=t.result_id, kind=RecordKind.CHECK, target=t.target, vantage=t.vantage,
        profile=t.profile, started_at=t.started_at, finished_at=t.finished_at, status=t.status,
        interrupted=t.interrupted, schema=TARGET_SCHEMA,
    )


def store(history: History | None, target: TargetCheck) -> None:
    if history is not None:
        history.add(_entry(target), json.dumps(document(TARGET_SCHEMA, target)))


async def _capabilities(obs: _Observed, req: CheckRequest, gates: _Gates) -> None:
    spec = obs.spec
    options = dataclasses.replace(req.options, port=spec.port)

    def on_result(mx: MxResult | None, convs: Sequence[Conversation]) -> None:
        obs.mx = mx
        obs.conversations = tuple(convs)

    await connect_target(
        spec.target, options, as_host=spec.direct, nameservers=req.nameservers,
        dns_timeout=req.dns_timeout, gate=gates.address, progress=_quiet, observe=on_result,
        dns_cache=gates.dns_cache,
    )


async def _sending(obs: _Observed, req: CheckRequest, threshold: bool) -> None:
    spec = obs.spec
    profile = load_profile(spec.profile)
    passwords = dict(req.passwords)
    # a host target (`host = "mx.example.net:2525"`) is a relay the user controls: the matrix
    # goes through it to the recipient's domain, as `probe run --via` sends
    domain = spec.to.rpartition("@")[2] if spec.direct else spec.target
    via = (spec.target, spec.port) if spec.direct else None
    send = SendArgs(domain=domain, to=spec.to, port=spec.port, via=via,
                    helo=req.options.helo, ca_file=req.options.ca_file,
                    nameservers=req.nameservers, dns_timeout=req.dns_timeout)
    run_args = RunArgs(mailbox=spec.mailbox or None, threshold=threshold)
    run_req = build_request(profile, send, run_args, local_name=req.local_name,
                            password=passwords.get(spec.target))
    state = new_state(run_req)
    try:
        await execute(run_req, state, _quiet)
    except asyncio.CancelledError:
        reason = f"stopped during {state.stage}"
        obs.run = finish_run(run_req, state, interrupted=True, reason=reason)
        raise
    except ProbeError as exc:
        obs.reason = str(exc)
        obs.run = finish_run(run_req, state, interrupted=True, reason=str(exc))
        return
    obs.run = finish_run(run_req, state)
    obs.mx = obs.run.mx


def _quiet(_message: str) -> None:
    pass


async def _one(obs: _Observed, req: CheckRequest, gates: _Gates, history: History | None,
               threshold: bool, done: Callable[[TargetCheck], None]) -> None:
    async with gates.targets:
        obs.started_at = utcnow()  # when it began to be measured, not when it was queued
        try:
            if obs.spec.profile == CAPABILITIES:
                await _capabilities(obs, req, gates)
            else:
                await _sending(obs, req, threshold)
            obs.finished = True
        except ProbeError as exc:
            obs.reason = str(exc)
    result = judge_target(obs, req, history, interrupted=False)
    store(history, result)
    done(result)


def _wants_threshold(history: History | None, spec: TargetSpec, vantage: str) -> bool:
    """The size search at most every K-th run (it sends the most mail): when none of the last
    K - 1 stored results of this target ran it."""
    if spec.threshold_every <= 0 or spec.profile == CAPABILITIES:
        return False
    if history is None or spec.threshold_every == 1:
        return True
    earlier = history.query(HistoryQuery(target=spec.target, vantage=vantage,
                                         kind=RecordKind.CHECK, limit=spec.threshold_every - 1))
    return not any(_had_threshold(history, e.result_id) for e in earlier)


def _had_threshold(history: History, result_id: str) -> bool:
    try:
        stored = from_data(TargetCheck, json.loads(history.document(result_id)))
    except (ValueError, TypeError, KeyError):
        return False
    return stored.run is not None and stored.run.threshold is not None


def perform_check(req: CheckRequest, history: History | None,
                  on_target: Callable[[TargetCheck], None] = lambda _t: None) -> CheckResult:
    started = utcnow()
    observed = [_Observed(spec, started) for spec in req.targets]
    finished: dict[int, TargetCheck] = {}

    async def main() -> None:
        gates = _Gates(req.concurrency, req.per_address)
        tasks = []
        for index, obs in enumerate(observed):
            def done(result: TargetCheck, index: int = index) -> None:
                finished[index] = result
                on_target(result)

            threshold = _wants_threshold(history, obs.spec, req.vantage)
            tasks.append(asyncio.create_task(_one(obs, req, gates, history, threshold, done)))
        await asyncio.gather(*tasks)

    stopped = run_stoppable(main(), deadline=req.deadline)
    reason = str(stopped) if isinstance(stopped, Stopped) else ""
    targets = []
    for index, obs in enumerate(observed):
        if index in finished:
            targets.append(finished[index])
            continue
        obs.reason = obs.reason or f"not finished: {reason or 'stopped'}"
        result = judge_target(obs, req, history, interrupted=True)
        store(history, result)
        targets.append(result)
    status = worst(t.status for t in targets) if targets else Status.UNKNOWN
    return CheckResult(
        vantage=req.vantage, config=req.config, started_at=started, finished_at=utcnow(),
        status=status, targets=tuple(targets), interrupted=bool(reason), stop_reason=reason,
        shard=f"{req.shard[0]}/{req.shard[1]}" if req.shard else "", not_in_shard=req.not_in_shard,
    )

