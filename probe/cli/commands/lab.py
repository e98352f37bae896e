"""`probe lab`: run the embedded lab in the foreground, or check that every scenario answers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish, say
from probe.errors import ProbeError
from probe.lab.runtime import LabInfo, LabThread
from probe.model.status import Status
from probe.pipeline.labcheck import check_lab
from probe.report.lab import check_summary, check_table, examples, scenario_table


@app.command()
def lab(
    check: Annotated[
        bool, typer.Option("--check", help="Start, check every entry answers, stop.")
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Work directory (Maildirs, CA). Default: a temp dir."),
    ] = None,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Entry port P (0: a free one).")
    ] = 0,
    dns_port: Annotated[
        int, typer.Option("--dns-port", min=0, max=65535, help="DNS responder port.")
    ] = 0,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0, help="Stop after this many seconds.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the embedded lab (simulated delivery paths on loopback) until Ctrl-C.

    With --check: start it, verify every scenario's entry answers with a 220 banner, print a
    table (or --json), stop; exit 0 if all answered, else 2. No root needed (high ports).
    """
    runner = LabThread(directory=directory, port=port, dns_port=dns_port)
    try:
        info = runner.start()
    except OSError as exc:
        raise ProbeError(f"cannot start the lab: {exc}") from exc
    try:
        if check:
            _check(info, json_out)
        emit_text(scenario_table(info))
        say(examples(info))
        if directory is None:
            say("The work directory is removed on exit; use --dir to keep it.")
        say("Lab running; Ctrl-C stops it.")
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            say("stopping")
    finally:
        runner.stop()


def _check(info: LabInfo, json_out: bool) -> None:
    result = check_lab(info)
    if json_out:
        emit_json("probe.lab-check/1", result)
    else:
        emit_text(check_table(result))
        say(check_summary(result))
    finish(Status.OK if result.ok else Status.CRITICAL)
