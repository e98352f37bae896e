"""Facts about each delivered copy and bounce: trace, sent-vs-delivered diff, parsed DSNs (pure).

The sent bytes are not stored in a run: `craft` is deterministic, so the exact message is made
again from the variant spec, the probe id, the run's Date and the probe version that crafted it
(`RunResult.craft_version`); the digests of the sent manifest (header block, MIME parts) show
whether that gave the same bytes. What cannot be analysed (a copy or a bounce a parser fails on,
a message that cannot be made again exactly) becomes a `NotAnalysed` of that variant, never the
end of the run: every other copy is analysed as usual.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

from probe import __version__
from probe.analyze.bounce.dsn import parse_bounce
from probe.analyze.diff.compare import compare
from probe.analyze.headers import header_fields
from probe.analyze.received.path import parse_received, trace
from probe.errors import ProbeError
from probe.model.bounce import Bounce
from probe.model.diff import DiffResult
from probe.model.message import DeliveredCopy, Manifest
from probe.model.run import AnalysisPart, NotAnalysed, RunResult, VariantAnalysis
from probe.model.send import VariantSend
from probe.model.trace import Hop, Trace
from probe.plan.craft import craft
from probe.plan.variants import resolve_size
from probe.smtp.text import one_line

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Parsers:
    """The parsers run on what came back (delivered copies, bounces), by analysis and by decide:
    a parameter, so that a test can hand in one that fails."""

    trace: Callable[[bytes], Trace] = trace
    compare: Callable[[bytes, bytes, Manifest | None], DiffResult] = compare
    bounce: Callable[[bytes], Bounce | None] = parse_bounce
    header_fields: Callable[[bytes], tuple[tuple[str, str], ...]] = header_fields
    received: Callable[[str], Hop] = parse_received


PARSERS = Parsers()


def guarded(part: AnalysisPart, parse: Callable[..., T], *args: object) -> T | NotAnalysed:
    """`parse(*args)`, or why it gave nothing: a parser that fails on one copy or bounce ends
    that part of that variant's analysis, never the run."""
    try:
        return parse(*args)
    except Exception as exc:  # noqa: BLE001 - whatever a hostile message makes a parser raise
        return NotAnalysed(part, f"could not be parsed: {failure(exc)}")


def failure(exc: BaseException) -> str:
    """An exception in one line: its type, and its message cut to 200 characters."""
    text = one_line(exc, 200)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def analyze_run(run: RunResult, parsers: Parsers = PARSERS) -> tuple[VariantAnalysis, ...]:
    if run.collect is None:
        return ()
    bounces: dict[str, list[Bounce]] = {}
    unread: dict[str, list[NotAnalysed]] = {}
    for collected in run.collect.bounces:
        parsed = guarded(AnalysisPart.BOUNCE, parsers.bounce, collected.message.raw)
        for probe_id in collected.probe_ids:
            if isinstance(parsed, NotAnalysed):
                unread.setdefault(probe_id, []).append(parsed)
            elif parsed is not None:
                bounces.setdefault(probe_id, []).append(parsed)
    copies: dict[str, DeliveredCopy] = {}
    for delivered in run.collect.delivered:
        copies.setdefault(delivered.probe_id, delivered)
    out = []
    for send in run.variants:
        copy = copies.get(send.probe_id)
        found = tuple(bounces.get(send.probe_id, ()))
        problems = unread.get(send.probe_id, [])
        if copy is None and not found and not problems:
            continue
        the_trace: Trace | None = None
        diff: DiffResult | None = None
        if copy is not None:
            traced = guarded(AnalysisPart.TRACE, parsers.trace, copy.raw)
            compared = _compared(run, send, copy, parsers)
            for result in (traced, compared):
                if isinstance(result, NotAnalysed):
                    problems.append(result)
            the_trace = traced if isinstance(traced, Trace) else None
            diff = compared if isinstance(compared, DiffResult) else None
        out.append(
            VariantAnalysis(send.probe_id, send.variant, the_trace, diff, found, tuple(problems))
        )
    return tuple(out)


def _compared(
    run: RunResult, send: VariantSend, copy: DeliveredCopy, parsers: Parsers
) -> DiffResult | NotAnalysed | None:
    """The copy against the message as sent, made again; None when the run cannot say what was
    sent (no spec, no Date: a run saved by hand)."""
    spec = next((s for s in run.specs if s.id == send.variant), None)
    if spec is None or run.crafted_date is None:
        return None
    try:
        made = craft(
            resolve_size(spec, run.advertised_size),
            probe_id=send.probe_id,
            mail_from=run.mail_from,
            rcpt_to=(run.to,),
            date=run.crafted_date,
            allow_eicar=run.allow_eicar,
            version=run.craft_version or __version__,  # "": saved before it was kept
        )
    except Exception as exc:  # noqa: BLE001 - a hand-edited run must not end the analysis
        why = one_line(exc, 200) if isinstance(exc, ProbeError) else failure(exc)
        return NotAnalysed(AnalysisPart.DIFF, f"not compared: the message cannot be made: {why}")
    differs = _remade_differs(made.manifest, send.manifest)
    if differs:
        by = f"probe {run.craft_version}" if run.craft_version else "an older probe"
        return NotAnalysed(
            AnalysisPart.DIFF,
            f"not compared: probe {__version__} cannot make again exactly what {by} sent "
            f"({differs})",
        )
    return guarded(AnalysisPart.DIFF, parsers.compare, made.data, copy.raw, send.manifest)


def _remade_differs(remade: Manifest | None, sent: Manifest | None) -> str:
    """Which of the sent message's digests the message made again does not match ("": none)."""
    if sent is None or remade is None:
        return ""
    if sent.header_sha256 and remade.header_sha256 != sent.header_sha256:
        return "the header block differs"
    if sent.parts and remade.parts != sent.parts:
        return "the MIME parts differ"
    return ""
