"""`probe demo`: start the embedded lab and show the verdict for each of its delivery paths."""

from __future__ import annotations

import time

from probe.cli.base import JsonOpt, VerboseOpt, app, emit_json, emit_text, finish, say
from probe.cli.options import default_helo
from probe.lab.runtime import LabThread
from probe.model.demo import DemoReport
from probe.model.status import Status
from probe.pipeline.demo import run_demo
from probe.report.demo import render_demo


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
        report = DemoReport("OK" if ok else "CRITICAL", round(seconds, 2), outcomes)
        emit_json("probe.demo/1", report)
    else:
        emit_text(render_demo(outcomes, seconds, verbose))
    finish(Status.OK if ok else Status.CRITICAL)
