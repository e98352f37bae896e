"""Drive `threshold`'s k-ary search over the network: k sizes per round, sent concurrently.

Interrupted (Ctrl-C, the run's deadline), the search hands its state so far to `on_interrupt`,
the round in flight included (its unfinished probes UNKNOWN, with how far they got), and stops.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
from collections.abc import Callable

from probe.model.run import ThresholdReport
from probe.model.smtp import SIZE_STAGES, Conversation, Outcome, Stage
from probe.model.threshold import ProbePoint, ProbeVerdict, SearchRound, SearchState
from probe.model.variant import VariantSpec
from probe.plan.craft import craft
from probe.plan.threshold import next_points, record, start
from probe.send.converse import converse
from probe.send.matrix import Target
from probe.send.options import ConverseOptions, ProgressFn
from probe.smtp.replies import deciding_reply

MAX_ROUNDS = 24  # bound whatever happens: 50 MB to the byte needs 12 with k = 4


def classify(conv: Conversation) -> ProbeVerdict:
    """Did this size pass, fail because of its size, or fail for another reason?"""
    if conv.outcome is Outcome.ACCEPTED:
        return ProbeVerdict.PASS
    if conv.outcome is Outcome.REJECTED and conv.stage in SIZE_STAGES:
        return ProbeVerdict.FAIL
    if conv.outcome in (Outcome.DISCONNECTED, Outcome.RESET) and conv.stage is Stage.UPLOAD:
        return ProbeVerdict.FAIL  # some boxes cut the connection at their limit
    if conv.outcome is Outcome.REJECTED:
        return ProbeVerdict.HARD  # e.g. 550 for the recipient: not about size
    return ProbeVerdict.UNKNOWN


def _detail(conv: Conversation) -> str:
    """The outcome with the reply that decided it (the RCPT refusal, not MAIL's 250); an
    interrupted probe was decided by nothing (its last reply is the 354, not an answer)."""
    reply = deciding_reply(conv) if conv.outcome is not Outcome.INTERRUPTED else None
    text = f"{reply.code} {reply.text}" if reply else conv.reason
    return f"{conv.outcome} at {conv.stage}: {text}".strip()


def _point(size: int, conv: Conversation) -> ProbePoint:
    return ProbePoint(size, classify(conv), _detail(conv))


async def send_size(
    target: Target,
    options: ConverseOptions,
    run_id: str,
    size: int,
    *,
    tag: str,
    mail_from: str,
    to: str,
    date: dt.datetime,
    on_interrupt: Callable[[Conversation], None] | None = None,
) -> Conversation:
    """One threshold probe of exactly `size` bytes, without SIZE= (the hop must judge the bytes)."""
    spec = VariantSpec(
        id=f"{tag}-{size}",
        description=f"threshold probe {size} bytes",
        size=size,
        declare_size=False,
    )
    message = craft(
        spec, probe_id=f"{run_id}.{tag}-{size}", mail_from=mail_from, rcpt_to=(to,), date=date
    )
    opts = dataclasses.replace(options, port=target.port)
    return await converse(target.host, target.address, opts, message, on_interrupt=on_interrupt)


async def check_size(
    target: Target,
    options: ConverseOptions,
    run_id: str,
    size: int,
    *,
    mail_from: str,
    to: str,
    date: dt.datetime,
) -> ProbePoint:
    """Probe one size outside the search (the lower bound, before searching above it)."""
    conv = await send_size(
        target, options, run_id, size, tag="t0", mail_from=mail_from, to=to, date=date
    )
    return _point(size, conv)


async def size_search(
    target: Target,
    options: ConverseOptions,
    run_id: str,
    *,
    low: int,
    high: int,
    k: int = 4,
    precision: int = 1,
    mail_from: str,
    to: str,
    date: dt.datetime,
    advertised: int | None = None,
    high_known_fail: bool = True,
    progress: ProgressFn = lambda _: None,
    on_interrupt: Callable[[ThresholdReport], None] | None = None,
) -> ThresholdReport:
    """Search (low, high] for the smallest size the hop rejects."""
    state: SearchState = start(low, high, k=k, precision=precision)
    if high_known_fail:
        state = dataclasses.replace(state, high_tested=True)
    boundary = ""
    seen: dict[int, Conversation] = {}  # this round's conversations, finished or cut short
    try:
        for round_no in range(1, MAX_ROUNDS + 1):
            points = next_points(state)
            if not points or state.done:
                break
            seen.clear()

            async def one(size: int, n: int = round_no) -> tuple[int, Conversation]:
                conv = await send_size(
                    target,
                    options,
                    run_id,
                    size,
                    tag=f"t{n}",
                    mail_from=mail_from,
                    to=to,
                    date=date,
                    on_interrupt=functools.partial(seen.__setitem__, size),
                )
                seen[size] = conv
                return size, conv

            results = await asyncio.gather(*(one(p) for p in points))
            probed = tuple(_point(size, c) for size, c in results)
            state = record(state, probed)
            fails = [p for p in probed if p.verdict is ProbeVerdict.FAIL]
            if fails and (
                state.threshold is not None and min(f.value for f in fails) == state.high
            ):
                boundary = min(fails, key=lambda p: p.value).detail
            progress(
                f"threshold round {round_no}: "
                + ", ".join(f"{p.value:,} {p.verdict}" for p in probed)
            )
    except asyncio.CancelledError:
        if on_interrupt is not None:
            partial = interrupted(state, seen)
            on_interrupt(ThresholdReport("size", partial, advertised, boundary, target.label))
        raise
    if not state.done:
        state = dataclasses.replace(
            state,
            stopped=f"not converged after {MAX_ROUNDS} rounds: "
            f"passes at {state.low:,}, {'fails' if state.high_tested else 'untested'} "
            f"at {state.high:,}",
        )
    return ThresholdReport("size", state, advertised, boundary, target.label)


def interrupted(state: SearchState, seen: dict[int, Conversation]) -> SearchState:
    """The search as it stood, stopped: the round in flight is shown but narrows nothing (its
    bounds rest on completed rounds only; an interrupted probe is UNKNOWN by `classify`)."""
    number = len(state.rounds) + 1
    points = tuple(_point(size, c) for size, c in sorted(seen.items()))
    rounds = (*state.rounds, SearchRound(number, points)) if points else state.rounds
    return dataclasses.replace(
        state, rounds=rounds, stopped=f"interrupted during round {number}: search not finished"
    )
