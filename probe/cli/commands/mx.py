"""`probe mx DOMAIN`: the domain's mail exchangers, their addresses, and what is odd about them."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from probe.analyze.mx import mx_status, with_anomalies
from probe.cli.base import (
    JsonOpt,
    NameserverOpt,
    TimeoutOpt,
    app,
    emit_json,
    emit_text,
    finish,
)
from probe.cli.options import parse_nameservers
from probe.report.mx import SCHEMA, mx_document, render_mx
from probe.send.resolve import resolve_mx

ShuffleOpt = Annotated[
    bool,
    typer.Option("--shuffle", help="Shuffle exchanges of equal preference (as senders do)."),
]


@app.command()
def mx(
    domain: Annotated[str, typer.Argument(help="The mail domain, e.g. example.org.")],
    json_out: JsonOpt = False,
    nameserver: NameserverOpt = None,
    timeout: TimeoutOpt = 5.0,
    shuffle: ShuffleOpt = False,
) -> None:
    """List a domain's MX in preference order with every address; name anomalies.

    Exit 0 OK, 1 anomalies, 2 null MX or no exchange has an address, 3 the DNS could not tell.
    """
    servers = parse_nameservers(nameserver)
    result = asyncio.run(
        resolve_mx(domain, nameservers=servers, timeout=timeout, shuffle_equal=shuffle)
    )
    result = with_anomalies(result)
    if json_out:
        emit_json(SCHEMA, mx_document(result))
    else:
        emit_text(render_mx(result))
    finish(mx_status(result))
