"""`probe demo` for humans: each scenario's headline (or its whole run), and a tally (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from probe.model.demo import DemoOutcome
from probe.report.run import render_run


def render_outcome(outcome: DemoOutcome, verbose: int) -> str:
    result = outcome.run
    lines = [f"== {outcome.scenario}: {outcome.description}"]
    if verbose:
        lines.append(render_run(result))
    else:
        decision = result.decision
        for line in decision.headline if decision else ():
            lines.append(f"   {line}")
        if result.threshold is not None and result.threshold.search.threshold is not None:
            s = result.threshold.search
            lines.append(
                f"   size threshold: {s.threshold:,} bytes rejected, {s.low:,} accepted "
                f"({len(s.rounds)} rounds); advertised SIZE "
                f"{result.threshold.advertised_size or 'none'}"
            )
    mark = "ok" if outcome.matched else "MISMATCH"
    lines.append(f"   [{mark}] {outcome.check}; status {result.status.name}")
    return "\n".join(lines)


def render_demo(outcomes: Sequence[DemoOutcome], seconds: float, verbose: int) -> str:
    blocks = "\n\n".join(render_outcome(o, verbose) for o in outcomes)
    tally = (
        f"{sum(o.matched for o in outcomes)} of {len(outcomes)} paths gave the expected "
        f"verdict in {seconds:.1f} s."
    )
    return f"{blocks}\n\n{tally}"
