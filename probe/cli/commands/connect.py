"""`probe connect TARGET`: a timed SMTP conversation (no mail sent) with every address of TARGET."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from probe.cli.base import (
    JsonOpt,
    NameserverOpt,
    app,
    emit_json,
    emit_text,
    finish,
    say,
)
from probe.cli.options import default_helo, parse_nameservers, pem_file, split_host_port
from probe.decide.connect import connect_verdict
from probe.decide.who_answers import who_answers
from probe.errors import UsageError
from probe.model.mx import MxResult
from probe.model.smtp import Timeouts
from probe.model.status import Status
from probe.pipeline.connect import connect_all
from probe.report.connect import SCHEMA, connect_document, render_connect, unresolved_document
from probe.send.options import ConverseOptions
from probe.smtp.hosts import ip_literal


class Style(enum.StrEnum):
    arrows = "arrows"
    exchange = "exchange"


@app.command()
def connect(
    target: Annotated[
        str, typer.Argument(help="DOMAIN (every MX address), HOST[:PORT], IP or [IPv6]:PORT.")
    ],
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="SMTP port.")] = 25,
    helo: Annotated[
        str | None, typer.Option("--helo", help="EHLO name. Default: this machine's FQDN.")
    ] = None,
    host: Annotated[
        bool, typer.Option("--host", help="TARGET is a host: connect to it, not to its MX.")
    ] = False,
    no_starttls: Annotated[
        bool, typer.Option("--no-starttls", help="Do not use STARTTLS even when offered.")
    ] = False,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", help="Extra trust anchors (PEM) for the certificate check."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.1,
            help="Seconds per stage and DNS lifetime. Default: connect 10, banner 60, "
            "command 30 (DNS 5).",
        ),
    ] = None,
    deadline: Annotated[
        float, typer.Option("--deadline", min=0.1, help="Seconds for each whole conversation.")
    ] = 300.0,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=16, help="Addresses probed at once.")
    ] = 4,
    nameserver: NameserverOpt = None,
    json_out: JsonOpt = False,
    transcript: Annotated[
        bool, typer.Option("--transcript", help="Show each conversation's transcript.")
    ] = False,
    style: Annotated[
        Style, typer.Option("--style", help="Transcript style: swaks-like arrows or exchange.")
    ] = Style.arrows,
    no_envelope: Annotated[
        bool,
        typer.Option(
            "--no-envelope",
            help="Do not ask NOOP, MAIL FROM:<>, RCPT TO:<postmaster> and RSET (they show who "
            "answers: a box in front of the MTA; no message is sent either way).",
        ),
    ] = False,
) -> None:
    """Hold a timed SMTP conversation (banner, EHLO, STARTTLS, certificate, NOOP, MAIL FROM:<>,
    RCPT TO:<postmaster>, RSET, QUIT) with every address of TARGET, and name the product that
    answers there with its evidence, and a box in front where the replies disagree with the
    banner; no mail is sent (no DATA).

    Exit codes: 0 every address answered and STARTTLS with a valid certificate worked;
    1 WARNING: STARTTLS missing or refused, a certificate problem (name, chain, expiry), a 4xx
    greeting, or some (not all) addresses unreachable; 2 CRITICAL: an address refuses service
    (5xx), fails the TLS handshake, sends garbage, resets, times out after connecting, or the
    domain publishes a null MX; 3 UNKNOWN: bad arguments, DNS failure, or no address reached.
    """
    name, explicit_port = _split_target(target, port)
    options = ConverseOptions(
        helo=helo or default_helo(),
        port=explicit_port,
        timeouts=Timeouts.uniform(timeout) if timeout else Timeouts(),
        starttls=not no_starttls,
        deadline=deadline,
        ca_file=pem_file(ca_file, "--ca-file"),
        ask=None if no_envelope else postmaster(name, as_host=host or ":" in target),
    )
    found = connect_all(
        name,
        options,
        as_host=host or ":" in target,  # a port (or an IPv6 literal) names a host
        nameservers=parse_nameservers(nameserver),
        dns_timeout=timeout or 5.0,
        concurrency=concurrency,
        progress=say,
    )
    if found.resolution is not None and found.unresolved:
        _finish_unresolved(found.resolution, json_out)
    conversations = list(found.conversations)
    status, verdict = connect_verdict(conversations, tls_expected=options.starttls)
    named = {i: who_answers(c) for i, c in enumerate(conversations) if c.banner is not None}
    if json_out:
        doc = connect_document(
            target,
            options.port,
            options.helo,
            options.starttls,
            found.resolution,
            conversations,
            status,
            verdict,
            tuple(named.values()),
        )
        emit_json(SCHEMA, doc)
    else:
        emit_text(
            render_connect(
                conversations, status, verdict, transcript=transcript, style=style, answerers=named
            )
        )
    finish(status)


def postmaster(name: str, *, as_host: bool) -> str:
    """The recipient to ask: the domain's postmaster, or the bare `postmaster` every MTA must
    accept (RFC 5321 4.5.1) when TARGET is a host or an address."""
    if as_host or ip_literal(name) is not None:
        return "postmaster"
    return f"postmaster@{name}"


def _split_target(target: str, port: int) -> tuple[str, int]:
    value = target.strip()
    if not value:
        raise UsageError("empty target")
    host, port_value = split_host_port(value, default_port=port)
    if not host:
        raise UsageError(f"no host in target {target!r}")
    return host, port_value


def _finish_unresolved(result: MxResult, json_out: bool) -> NoReturn:
    from probe.analyze.mx import assess as assess_mx

    status, verdict = assess_mx(result)
    if json_out:
        emit_json(SCHEMA, unresolved_document(result, status, verdict))
    else:
        emit_text(f"{status.name}: {verdict}")
    finish(status if status is not Status.OK else Status.UNKNOWN)
