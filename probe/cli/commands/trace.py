"""`probe trace FILE.eml`: the Received path of one message, offline."""

from __future__ import annotations

from typing import Annotated

import typer

from probe.analyze.received.path import trace as build_trace
from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish
from probe.cli.files import MESSAGE_CAP, read_input
from probe.errors import UsageError
from probe.model.status import Status
from probe.report.trace import SCHEMA, render_trace, trace_document


@app.command()
def trace(
    file: Annotated[str, typer.Argument(help="A message file (.eml), or - for stdin.")],
    json_out: JsonOpt = False,
) -> None:
    """Show the hops of a message from its Received headers, with delays, TLS and anomalies.

    Exit 0 when the path parsed cleanly, 1 when there are anomalies (clock skew, an unparsable
    stamp, a `by` that does not match the next `from`), 3 when the input is not a message.
    """
    data = read_input(file, cap=MESSAGE_CAP)
    result = build_trace(data)
    if result.header_count == 0:
        raise UsageError(f"{file}: not a message (no header fields)")
    if json_out:
        emit_json(SCHEMA, trace_document(result))
    else:
        emit_text(render_trace(result))
    finish(Status.WARNING if result.anomalies else Status.OK)
