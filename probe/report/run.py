"""A run for humans: the variant table, the verdict per hop with its evidence, notes (pure)."""

from __future__ import annotations

from tabulate import tabulate

from probe.model.run import RunResult
from probe.model.send import VariantSend
from probe.model.smtp import Outcome
from probe.model.verdict import Decision, ReplyMeaning
from probe.report.transcript import render_transcript


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _reply(send: VariantSend) -> str:
    if send.reply is None:
        return send.reason[:70]
    text = f"{send.reply.code} {send.reply.text}"
    return text if len(text) <= 70 else text[:67] + "..."


def _delivery(result: RunResult, send: VariantSend) -> str:
    if result.collect is None:
        return ""
    for status in result.collect.statuses:
        if status.probe_id == send.probe_id:
            where = f" ({', '.join(status.folders)})" if status.junk else ""
            return f"{status.status}{where}"
    return "-" if send.outcome is not Outcome.ACCEPTED else "not collected"


def variant_table(result: RunResult) -> str:
    rows = []
    for send in result.variants:
        outcome = str(send.outcome)
        if send.outcome not in (Outcome.ACCEPTED, Outcome.SKIPPED):
            outcome += f" at {send.stage}"
        if send.interrupted and send.outcome is not Outcome.INTERRUPTED:
            outcome += " (interrupted)"
        final_ms = next(
            (a.final_reply_ms for a in reversed(send.attempts) if a.final_reply_ms is not None),
            None,
        )
        row = [
            send.variant,
            human_size(send.size),
            outcome,
            _reply(send),
            len(send.attempts),
            "" if final_ms is None else f"{final_ms:.0f} ms",
        ]
        if result.collect is not None:
            row.append(_delivery(result, send))
        rows.append(row)
    headers = ["variant", "size", "outcome", "reply", "tries", "final reply"]
    if result.collect is not None:
        headers.append("delivery")
    return tabulate(rows, headers=headers)


def verdict_text(decision: Decision) -> str:
    lines = []
    for hop in decision.hops:
        if not hop.actions and not hop.products:
            continue
        label = hop.name + (f" — {'; '.join(hop.products)}" if hop.products else "")
        lines.append(f"* {label}")
        for action in hop.actions:
            lines.append(
                f"    {action.action.upper()} [{action.severity.name}, {action.confidence} "
                f"confidence] {action.summary}"
            )
            if action.condition:
                lines.append(f"      when: {action.condition}")
            if action.alternatives:
                others = ", or ".join(k.described(decision.path) for k in action.alternatives)
                lines.append(
                    f"      or: {others}" + (f" ({action.ambiguity})" if action.ambiguity else "")
                )
            if action.reply is not None:
                lines.extend(_reply_lines(action.reply))
            for ev in action.evidence[:4]:
                where = f" ({ev.variant})" if ev.variant else ""
                lines.append(f"      evidence{where}: {ev.text}")
        for ev in hop.product_evidence[:3]:
            lines.append(f"      identified by: {ev.text}")
        if hop.ambiguous:
            lines.append(f"      note: {hop.ambiguous}")
    return "\n".join(lines)


def _reply_lines(reply: ReplyMeaning) -> list[str]:
    """What a rejection's or bounce's reply means, from the codes knowledge."""
    kind = "temporary" if reply.temporary else "permanent"
    vendors = f" [points to {' or '.join(reply.vendors)}]" if reply.vendors else ""
    lines = [f"      reply means ({kind}): {reply.meaning}{vendors}"]
    if reply.cause:
        lines.append(f"      likely cause: {reply.cause}")
    if reply.remedy:
        lines.append(f"      what to do: {reply.remedy}")
    return lines


def render_run(result: RunResult, *, transcript: bool = False) -> str:
    out = [
        f"probe run {result.run_id}: {result.domain}, to {result.to}, profile {result.profile}",
        f"hop 1: {', '.join(result.targets[:3]) or '-'}"
        + (f"; advertised SIZE {result.advertised_size:,}" if result.advertised_size else ""),
        "",
        variant_table(result),
        "",
    ]
    if result.threshold is not None:
        s = result.threshold.search
        if s.threshold is not None:
            out.append(
                f"size threshold: rejected from {s.threshold:,} bytes (accepted {s.low:,}) after "
                f"{len(s.rounds)} rounds; advertised SIZE "
                f"{result.threshold.advertised_size or 'none'}; reply: "
                f"{result.threshold.boundary_reply or '-'}"
            )
        else:
            out.append(f"size threshold: {s.stopped or 'not found'}")
        out.append("")
    decision = result.decision
    if decision is not None:
        out.append("Verdict:")
        out.extend(f"  {line}" for line in decision.headline)
        detail = verdict_text(decision)
        if detail:
            out.extend(["", detail])
        for note in decision.notes:
            out.append(f"note: {note}")
    if result.interrupted:
        out.append(f"INTERRUPTED: {result.stop_reason}")
    out.append(f"status: {result.status.name}")
    if transcript:
        for send in result.variants:
            for i, conv in enumerate(send.attempts, 1):
                out.extend(["", f"--- {send.variant} attempt {i} ---", render_transcript(conv)])
    return "\n".join(out)
