"""`probe codes CODE [TEXT]`: what a reply means, the likely product, cause and remedy."""

from __future__ import annotations

from typing import Annotated

import typer

from probe.analyze.codes import Explanation, explain, parse_query
from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish
from probe.model.status import Status


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
        emit_text(render(result))
    finish(Status.OK if result.known else Status.WARNING)


def render(e: Explanation) -> str:
    """A readable block: summary first, then the parts, the product evidence and the remedies."""
    out = [e.summary]
    if e.text:
        out.append(f"  text:      {e.text}")
    if e.code is not None:
        out.append(f"  code:      {e.code} {e.meaning or '(not registered)'} [{e.reply_class}]")
    for part in e.parts:
        out.append(f"  {part.part + ':':<10} {part.code} {part.meaning}")
    for vendor in e.vendors:
        who = " or ".join(vendor.names) or "generic (many products)"
        out.append(f"  vendor:    {who}: {vendor.meaning}")
    for match in e.products:
        out.append(f"  product:   {match.summary} ({match.role}, {match.confidence} confidence)")
        for clue in match.evidence:
            out.append(
                f"             {clue.kind} {clue.specificity}: {clue.observed} [{clue.signature}]"
            )
    if e.id_format:
        out.append(f"  id format: {e.id_format}")
    if e.cause:
        out.append(f"  cause:     {e.cause}")
    for i, remedy in enumerate(e.remedies):
        out.append(f"  {'remedy:' if i == 0 else '':<10} - {remedy}")
    for note in e.notes:
        out.append(f"  note:      {note}")
    return "\n".join(out)
