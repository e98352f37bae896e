"""The send stage: every variant of the matrix through hop 1, concurrently but politely.

Concurrency is bounded globally and per MX address, connection starts are rate limited, 4xx
replies are retried on a schedule within `retry_for`, and connect-level failures fall through to
the next MX. Every attempt is kept. Results land in a `SendLog` as they complete, so a run that
is interrupted (Ctrl-C, deadline) still reports what it observed, down to the conversation that
was in flight (`converse` hands it over as it is cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Sequence

from probe.errors import ProbeError
from probe.model.message import Manifest, OutgoingMessage
from probe.model.send import VariantSend
from probe.model.smtp import Conversation, Outcome, Stage
from probe.send.converse import converse
from probe.send.options import ConverseOptions
from probe.smtp.replies import deciding_reply

# Outcomes at connect/banner time that mean "this MX is not usable now: try the next one".
_FALLTHROUGH = {
    Outcome.REFUSED,
    Outcome.UNREACHABLE,
    Outcome.RESET,
    Outcome.DISCONNECTED,
    Outcome.TIMEOUT,
    Outcome.GARBAGE,
    Outcome.TEMP_FAILED,
    Outcome.TLS_FAILED,
}
_EARLY_STAGES = {Stage.CONNECT, Stage.BANNER, Stage.EHLO, Stage.HELO, Stage.STARTTLS, Stage.TLS}


@dataclasses.dataclass(frozen=True)
class Target:
    host: str
    address: str
    port: int
    preference: int = 0

    @property
    def label(self) -> str:
        addr = f"[{self.address}]" if ":" in self.address else self.address
        return (
            f"{self.host} {addr}:{self.port}"
            if self.host != self.address
            else f"{addr}:{self.port}"
        )


@dataclasses.dataclass(frozen=True)
class Job:
    variant: str
    probe_id: str
    description: str
    # crafts the message just before its conversation; argument: the SIZE hop 1 advertised
    build: Callable[[int | None], OutgoingMessage]


@dataclasses.dataclass(frozen=True)
class SendSettings:
    options: ConverseOptions
    concurrency: int = 4
    per_host: int = 2
    retry_for: float = 180.0
    retry_delays: tuple[float, ...] = (5.0, 10.0, 20.0, 40.0, 60.0)
    min_interval: float = 0.1  # seconds between connection starts (rate limit)
    all_mx: bool = False
    max_attempts: int = 12  # hard bound per variant and target, whatever the schedule says


@dataclasses.dataclass
class SendLog:
    """Mutable collector filled while sending; read it after an interruption too."""

    jobs: dict[str, Job] = dataclasses.field(default_factory=dict)
    attempts: dict[str, list[Conversation]] = dataclasses.field(default_factory=dict)
    done: dict[str, VariantSend] = dataclasses.field(default_factory=dict)
    built: dict[str, tuple[int, Manifest | None]] = dataclasses.field(default_factory=dict)

    def results(self, keys: Sequence[str]) -> tuple[VariantSend, ...]:
        """Finished results in matrix order; unfinished ones as interrupted, with their attempts."""
        return tuple(self.done[key] if key in self.done else self.result(key) for key in keys)

    def result(self, key: str, elapsed_ms: float | None = None) -> VariantSend:
        """What a job's attempts came to: its last attempt decides. Without `elapsed_ms` the
        run stopped first: the result is interrupted, and its last attempt decides nothing."""
        job = self.jobs[key]
        tries = tuple(self.attempts.get(key, ()))
        size, manifest = self.built.get(key, (None, None))
        last = tries[-1] if tries else None
        deciding = last if elapsed_ms is not None else None
        return VariantSend(
            variant=job.variant,
            probe_id=job.probe_id,
            description=job.description,
            outcome=last.outcome if last else Outcome.SKIPPED,
            stage=last.stage if last else Stage.NOT_STARTED,
            reason=deciding.reason if deciding else "interrupted before this variant finished",
            reply=deciding_reply(deciding) if deciding else None,
            target=Target(last.host, last.address, last.port).label if last else "",
            size=size,
            manifest=manifest,
            attempts=tries,
            elapsed_ms=elapsed_ms or 0.0,
            interrupted=elapsed_ms is None,
        )


SentFn = Callable[[str, VariantSend], None]  # (job key, its result) as each variant finishes


class _Pacer:
    """Spaces connection starts at least `interval` seconds apart."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._lock = asyncio.Lock()
        self._last = 0.0

    async def wait(self) -> None:
        async with self._lock:
            delay = self._last + self._interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._last = time.monotonic()


@dataclasses.dataclass(frozen=True)
class _Gates:
    """What every conversation of the matrix waits for: a place among all conversations and
    among those to its address, then its turn to connect."""

    everyone: asyncio.Semaphore
    per_address: dict[str, asyncio.Semaphore]
    pacer: _Pacer

    @contextlib.asynccontextmanager
    async def turn(self, address: str) -> AsyncIterator[None]:
        async with self.everyone, self.per_address[address]:
            await self.pacer.wait()
            yield


def job_key(job: Job, target: Target | None) -> str:
    return job.probe_id if target is None else f"{job.probe_id}@{target.label}"


async def send_matrix(
    jobs: Sequence[Job],
    targets: Sequence[Target],
    settings: SendSettings,
    log: SendLog,
    *,
    advertised_size: int | None = None,
    on_sent: SentFn | None = None,
) -> tuple[VariantSend, ...]:
    """Send every job (to the first usable target, or to every target with `all_mx`)."""
    if not targets:
        raise ValueError("no targets to send to")
    gates = _Gates(
        asyncio.Semaphore(max(1, settings.concurrency)),
        {t.address: asyncio.Semaphore(max(1, settings.per_host)) for t in targets},
        _Pacer(settings.min_interval),
    )
    plan: list[tuple[str, Job, Sequence[Target]]] = []
    for job in jobs:
        if settings.all_mx:
            plan.extend((job_key(job, t), job, (t,)) for t in targets)
        else:
            plan.append((job_key(job, None), job, targets))
    for key, job, _ in plan:
        log.jobs[key] = job

    async def one(key: str, job: Job, chain: Sequence[Target]) -> None:
        result = await _send_one(key, job, chain, settings, log, gates, advertised_size)
        log.done[key] = result
        if on_sent is not None:
            on_sent(key, result)

    await asyncio.gather(*(one(key, job, chain) for key, job, chain in plan))
    return log.results([key for key, _, _ in plan])


async def _send_one(
    key: str,
    job: Job,
    chain: Sequence[Target],
    settings: SendSettings,
    log: SendLog,
    gates: _Gates,
    advertised_size: int | None,
) -> VariantSend:
    started = time.monotonic()
    tries = log.attempts.setdefault(key, [])
    try:
        message = await asyncio.to_thread(job.build, advertised_size)
    except (ValueError, ProbeError) as exc:  # e.g. a relative size with no SIZE advertised
        return VariantSend(
            job.variant, job.probe_id, job.description, Outcome.SKIPPED, Stage.PLAN, reason=str(exc)
        )
    log.built[key] = (len(message.data), message.manifest)
    for target in chain:
        if not await _attempt(target, message, settings, gates, tries):
            break
    return log.result(key, elapsed_ms=(time.monotonic() - started) * 1000)


async def _attempt(
    target: Target,
    message: OutgoingMessage,
    settings: SendSettings,
    gates: _Gates,
    tries: list[Conversation],
) -> bool:
    """Deliver to one target, retrying 4xx on the schedule; True when it was not usable (the
    next MX may be), False when it decided."""
    retry_until = time.monotonic() + settings.retry_for
    delays = iter(settings.retry_delays)
    delay = 0.0
    options = dataclasses.replace(settings.options, port=target.port)
    for _ in range(settings.max_attempts):
        async with gates.turn(target.address):
            conv = await converse(
                target.host, target.address, options, message, on_interrupt=tries.append
            )
        tries.append(conv)
        if _should_fall_through(conv):
            return True
        if conv.outcome is not Outcome.TEMP_FAILED:
            return False
        delay = next(delays, delay or settings.retry_delays[-1])
        if time.monotonic() + delay > retry_until:
            return False
        await asyncio.sleep(delay)
    return False


def _should_fall_through(conv: Conversation) -> bool:
    return conv.outcome in _FALLTHROUGH and conv.stage in _EARLY_STAGES
