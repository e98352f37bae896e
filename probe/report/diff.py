"""Text rendering of a `DiffResult`: findings table, quoted insertions, trace fields (pure)."""

from __future__ import annotations

from tabulate import tabulate

from probe.model.diff import Change, DiffResult


def render_diff(result: DiffResult, *, show_trace: bool = False) -> str:
    """Findings first, with where each added header sits; exact footers/tags quoted below."""
    lines = [
        f"size: {result.size_sent} -> {result.size_delivered} bytes ({result.size_delta:+d})",
        "",
    ]
    findings = result.findings
    if findings:
        rows = [
            [n, c.kind.value, _cut(c.where, 24), _position(c), _cut(c.detail, 70)]
            for n, c in enumerate(findings, 1)
        ]
        headers = ["#", "change", "where", "position", "detail"]
        lines.append(tabulate(rows, headers=headers, disable_numparse=True))
    else:
        lines.append("no changes besides trace fields")
    for n, change in enumerate(findings, 1):
        evidence = _evidence(change)
        if evidence:
            lines.extend(["", f"#{n} {change.kind.value} {change.where}:", *evidence])
    trace = [c for c in result.changes if c.trace]
    if trace and show_trace:
        lines.extend(["", "trace fields:"])
        lines.extend(f"  {_position(c):>10}  {c.where}: {_cut(c.after, 80)}" for c in trace)
    elif trace:
        lines.extend(
            ["", f"{len(trace)} trace fields added by the hops (Received, Return-Path...)"]
        )
    return "\n".join(lines)


def _position(change: Change) -> str:
    p = change.placement
    if p is None:
        return ""
    return f"{p.index} ({p.received_above}/{p.received_total} Rcvd above)"


def _evidence(change: Change) -> list[str]:
    if change.inserted:
        return [f"  | {line}" for line in change.inserted.splitlines() or [""]]
    if change.before or change.after:
        old = [f"  - {_cut(change.before, 96)}"] if change.before else []
        return [*old, f"  + {_cut(change.after, 96)}"]
    return []


def _cut(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
