"""`probe demo`: start the embedded lab and show the verdict for each of its delivery paths."""

from __future__ import annotations

import dataclasses
import time

from probe.cli.base import JsonOpt, VerboseOpt, app, emit_json, emit_text, finish, say
from probe.cli.options import default_helo
from probe.lab.runtime import LabThread
from probe.model.run import RunResult
from probe.model.status import Status
from probe.pipeline.demo import DemoOutcome, run_demo
from probe.report.run import render_run


@dataclasses.dataclass(frozen=True)
class DemoCaseReport:
    scenario: str
    description: str
    matched: bool
    check: str
    run: RunResult


@dataclasses.dataclass(frozen=True)
class DemoReport:
    status: str
    seconds: float
    cases: tuple[DemoCaseReport, ...]


def _text(outcome: DemoOutcome, verbose: int) -> str:
    result = outcome.result
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


@app.command()
def demo(json_out: JsonOpt = False, verbose: VerboseOpt = 0) -> None:
    """Run the whole pipeline against the embedded lab (offline, no root) and print the
    verdict for each simulated path: clean, CheckPoint-style proxy, ASA inspection,
    disclaimer rewriter, AV scanner. Exit 0 when every verdict is the expected one, 2 when one
    is not, 3 when the lab could not run."""
    started = time.monotonic()
    quiet = json_out or not verbose
    with LabThread() as lab:
        outcomes = run_demo(
            lab.info, (lambda _m: None) if quiet else say, local_name=default_helo()
        )
    seconds = time.monotonic() - started
    ok = all(o.matched for o in outcomes)
    if json_out:
        report = DemoReport(
            "OK" if ok else "CRITICAL",
            round(seconds, 2),
            tuple(
                DemoCaseReport(o.scenario, o.description, o.matched, o.check, o.result)
                for o in outcomes
            ),
        )
        emit_json("probe.demo/1", report)
    else:
        emit_text("\n\n".join(_text(o, verbose) for o in outcomes))
        emit_text(
            f"\n{sum(o.matched for o in outcomes)} of {len(outcomes)} paths gave the expected "
            f"verdict in {seconds:.1f} s."
        )
    finish(Status.OK if ok else Status.CRITICAL)
