"""`probe check` for people: a table of the targets that are not OK (all of them with -v)."""

from __future__ import annotations

from tabulate import tabulate

from probe.model.check import CheckResult, TargetCheck
from probe.model.status import Status, rank


def _problems(target: TargetCheck, verbose: bool) -> list[str]:
    lines = [f.summary for f in target.findings if verbose or f.status is not Status.OK]
    if target.reason and target.reason not in lines:
        lines.append(target.reason)
    return lines or ["ok"]


def render_check(result: CheckResult, *, verbose: bool) -> str:
    shown = [t for t in result.targets if verbose or t.status is not Status.OK]
    shown.sort(key=lambda t: (-rank(t.status), t.target))
    rows = [
        [t.status.name, t.target, t.profile, "\n".join(_problems(t, verbose))] for t in shown
    ]
    ok = sum(1 for t in result.targets if t.status is Status.OK)
    summary = f"{ok} of {len(result.targets)} targets OK"
    if result.shard:
        summary += f" (shard {result.shard}; {result.not_in_shard} targets on other shards)"
    if result.interrupted:
        summary += f"; interrupted: {result.stop_reason}"
    out = []
    if rows:
        out.append(tabulate(rows, headers=["status", "target", "profile", "findings"]))
    out.append(f"{summary}; status {result.status.name}")
    return "\n".join(out)
