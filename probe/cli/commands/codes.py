"""`probe codes CODE [TEXT]`: what a reply means, the likely product, cause and remedy."""

from __future__ import annotations

from typing import Annotated

import typer

from probe.analyze.codes import explain, parse_query
from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish
from probe.model.status import Status
from probe.report.codes import render_explanation


@app.command()
def codes(
    code: Annotated[
        str, typer.Argument(help="A reply code (554) or enhanced status code (5.7.1).")
    ],
    text: Annotated[str, typer.Argument(help="The reply text, as the server wrote it.")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Explain an SMTP reply: meaning, temporary or permanent, likely product, cause, remedy.

    Exit 0 when the code is known, 1 when it is well-formed but unregistered, 3 when malformed.
    """
    basic, enhanced = parse_query(code)
    result = explain(basic, text, enhanced)
    if json_out:
        emit_json("probe.codes/1", result)
    else:
        emit_text(render_explanation(result))
    finish(Status.OK if result.known else Status.WARNING)
