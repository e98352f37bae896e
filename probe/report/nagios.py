"""`probe check --format nagios`: one status line with performance data, then the long output.

The Monitoring Plugins Development Guidelines: `SERVICE STATUS: text | perfdata`, where each
perfdata item is `'label'=value[UOM];[warn];[crit];[min];[max]`, items separated by spaces, a
label quoted with single quotes when it holds anything but letters, digits and `_` (a quote in it
doubled), UOM one of s, ms, us, %, B, KB, MB, TB, c. Lines after the first are the long output,
shown by Nagios and Icinga on the service's detail page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from probe.model.check import CheckResult, TargetCheck
from probe.model.status import Status, rank

SERVICE = "PROBE CHECK"
_PLAIN_LABEL = re.compile(r"[A-Za-z0-9_]+")


def label(text: str) -> str:
    if _PLAIN_LABEL.fullmatch(text):
        return text
    return "'" + text.replace("'", "''").replace("=", "_") + "'"


def perf(name: str, value: float | int, uom: str = "", warn: str = "", crit: str = "",
         minimum: str = "", maximum: str = "") -> str:
    number = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    fields = [f"{number}{uom}", warn, crit, minimum, maximum]
    while fields and fields[-1] == "" and len(fields) > 1:
        fields.pop()
    return f"{label(name)}={';'.join(fields)}"


def _one_line(text: str) -> str:
    # `|` starts the perfdata in the plugin output: never inside the text
    return " ".join(text.replace("|", "/").split())


def _target_perf(t: TargetCheck) -> Iterable[str]:
    if t.duration_s is not None:
        yield perf(f"{t.target} duration", t.duration_s, "s", minimum="0")
    snap = t.snapshot
    if snap is None:
        return
    if snap.delivery_seconds is not None:
        yield perf(f"{t.target} delivery", snap.delivery_seconds, "s", minimum="0")
    if snap.size_limit is not None:
        yield perf(f"{t.target} size limit", snap.size_limit, "B", minimum="0")
    for address in snap.addresses:
        if address.certificate_not_after is not None and t.finished_at is not None:
            days = (address.certificate_not_after - t.finished_at).total_seconds() / 86400
            yield perf(f"{t.target} {address.address} certificate days", round(days, 1))


def _problems(t: TargetCheck) -> list[str]:
    found = [f.summary for f in t.findings if f.status is not Status.OK]
    if t.reason and not found:
        found.append(t.reason)
    return found


def render_nagios(result: CheckResult) -> str:
    counts = {s: sum(1 for t in result.targets if t.status is s) for s in Status}
    bad = [t for t in result.targets if t.status is not Status.OK]
    if not result.targets:
        text = "no target checked" + (f" ({result.stop_reason})" if result.stop_reason else "")
    elif not bad:
        text = f"{len(result.targets)} of {len(result.targets)} targets OK"
    else:
        worst_first = sorted(bad, key=lambda t: (-rank(t.status), t.target))
        lead = worst_first[0]
        problems = _problems(lead)
        text = (f"{len(bad)} of {len(result.targets)} targets not OK: {lead.target}: "
                f"{problems[0] if problems else lead.status.name}")
        if len(bad) > 1:
            text += f" (+{len(bad) - 1} more)"
    if result.interrupted:
        text += f"; interrupted: {result.stop_reason or 'stopped'}"
    items = [
        perf("targets", len(result.targets), minimum="0"),
        perf("critical", counts[Status.CRITICAL], minimum="0"),
        perf("warning", counts[Status.WARNING], minimum="0"),
        perf("unknown", counts[Status.UNKNOWN], minimum="0"),
    ]
    for target in result.targets:
        items.extend(_target_perf(target))
    lines = [f"{SERVICE} {result.status.name} - {_one_line(text)} | {' '.join(items)}"]
    for target in sorted(result.targets, key=lambda t: (-rank(t.status), t.target)):
        lines.append(f"{target.status.name} {target.target} ({target.profile})")
        for problem in _problems(target):
            lines.append(f"  {_one_line(problem)}")
        if target.drift is not None:
            for item in target.drift.items:
                lines.append(f"  drift: {_one_line(item.summary)}")
    return "\n".join(lines)

