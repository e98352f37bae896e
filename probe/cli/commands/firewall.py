"""`probe firewall HOST[:PORT] --records DIR`: what a box in the path does to SMTP, seen from
both ends (the battery `probe.send.battery`, the comparison `probe.analyze.firewall`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish
from probe.cli.options import split_host_port
from probe.errors import UsageError
from probe.model.firewall import FIREWALL_SCHEMA, FirewallResult
from probe.model.smtp import Timeouts
from probe.model.status import Status
from probe.pipeline.firewall import FirewallRequest, run_firewall
from probe.report.firewall import render_firewall
from probe.send.options import ConverseOptions


@app.command("firewall")
def firewall_command(
    target: Annotated[str, typer.Argument(help="The box: HOST[:PORT] (port 25 by default).")],
    records: Annotated[
        Path,
        typer.Option("--records", help="The Maildir of the `probe listen` behind the box."),
    ],
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds per stage of each session.")
    ] = 30.0,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Seconds to wait for the listener's records."),
    ] = 10.0,
    json_out: JsonOpt = False,
) -> None:
    """Send a small battery through a box to a `probe listen` you control, and compare what
    was sent with what arrived: banner, capabilities, commands (HELP, VRFY, EXPN, ETRN, an
    unknown verb, a 1,000-octet line, pipelining), STARTTLS (end to end, terminated at the box,
    stripped) and the message's bytes. Exit code: the worst check (0 when the box changes
    nothing)."""
    try:
        host, port = split_host_port(target, default_port=25)
        if not records.is_dir():
            raise UsageError(f"--records {records}: not a directory")
    except UsageError as exc:
        if not json_out:
            raise
        emit_json(
            FIREWALL_SCHEMA, FirewallResult(target, "", (), (), (), Status.UNKNOWN, (), str(exc))
        )
        finish(Status.UNKNOWN)
    options = ConverseOptions(
        helo="probe.invalid",
        port=port,
        timeouts=Timeouts.uniform(timeout),
        deadline=max(60.0, timeout * 10),
        system_trust=False,
    )
    request = FirewallRequest(host, port, records, options, wait)
    result = asyncio.run(run_firewall(request))
    if json_out:
        emit_json(FIREWALL_SCHEMA, result)
    else:
        emit_text(render_firewall(result))
    finish(result.status)
