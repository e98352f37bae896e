"""`probe connect TARGET`: a timed SMTP conversation (no mail sent) with every address of TARGET."""

from __future__ import annotations

import asyncio
import enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

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
from probe.cli.options import default_helo, parse_nameservers, split_host_port
from probe.decide.connect import connect_verdict
from probe.errors import UsageError
from probe.model.mx import MxResult
from probe.model.smtp import Conversation, Timeouts, endpoint
from probe.model.status import Status
from probe.report.transcript import outcome_line, render_conversation, render_transcript
from probe.send.converse import converse
from probe.send.options import ConverseOptions
from probe.smtp.hosts import ip_literal

SCHEMA = "probe.connect/1"


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
) -> None:
    """Hold a timed SMTP conversation (banner, EHLO, STARTTLS, certificate, QUIT) with every
    address of TARGET; no mail is sent.

    Exit codes: 0 every address answered and STARTTLS with a valid certificate worked;
    1 WARNING: STARTTLS missing or refused, a certificate problem (name, chain, expiry), a 4xx
    greeting, or some (not all) addresses unreachable; 2 CRITICAL: an address refuses service
    (5xx), fails the TLS handshake, sends garbage, resets, times out after connecting, or the
    domain publishes a null MX; 3 UNKNOWN: bad arguments, DNS failure, or no address reached.
    """
    if ca_file is not None and not ca_file.is_file():
        raise UsageError(f"--ca-file {ca_file}: no such file")
    name, explicit_port = _split_target(target, port)
    options = ConverseOptions(
        helo=helo or default_helo(),
        port=explicit_port,
        timeouts=Timeouts.uniform(timeout) if timeout else Timeouts(),
        starttls=not no_starttls,
        deadline=deadline,
        ca_file=str(ca_file) if ca_file else None,
    )
    servers = parse_nameservers(nameserver)
    as_host = host or ":" in target  # a port (or an IPv6 literal) names a host
    resolution, pairs = asyncio.run(
        _targets(name, as_host=as_host, nameservers=servers, timeout=timeout or 5.0)
    )
    if resolution is not None and not pairs:
        _finish_unresolved(resolution, json_out)
    say(f"probe: connecting to {len(pairs)} address(es) of {name} on port {options.port}")
    conversations = asyncio.run(_converse_all(pairs, options, concurrency))
    status, verdict = connect_verdict(conversations, tls_expected=options.starttls)
    if json_out:
        emit_json(SCHEMA, _document(target, options, resolution, conversations, status, verdict))
    else:
        blocks = [_render(conv, transcript=transcript, style=style.value) for conv in conversations]
        emit_text("\n\n".join([*blocks, f"{status.name}: {verdict}"]))
    finish(status)


def _split_target(target: str, port: int) -> tuple[str, int]:
    value = target.strip()
    if not value:
        raise UsageError("empty target")
    host, port_value = split_host_port(value, default_port=port)
    if not host:
        raise UsageError(f"no host in target {target!r}")
    return host, port_value


async def _targets(
    name: str, *, as_host: bool, nameservers: Any, timeout: float
) -> tuple[MxResult | None, list[tuple[str, str]]]:
    from probe.send import resolve  # lazily: the DNS stack is only needed for names

    literal = ip_literal(name)
    if literal is not None:
        return None, [(literal, literal)]
    result = await resolve.resolve_target(
        name, nameservers=nameservers, timeout=timeout, as_host=as_host
    )
    return result, [(mx.exchange, address) for mx, address in resolve.delivery_order(result)]


def _finish_unresolved(result: MxResult, json_out: bool) -> NoReturn:
    from probe.analyze.mx import assess as assess_mx

    status, verdict = assess_mx(result)
    if json_out:
        emit_json(
            SCHEMA,
            {"status": status.name, "verdict": verdict, "resolution": result, "conversations": []},
        )
    else:
        emit_text(f"{status.name}: {verdict}")
    finish(status if status is not Status.OK else Status.UNKNOWN)


async def _converse_all(
    pairs: list[tuple[str, str]], options: ConverseOptions, concurrency: int
) -> list[Conversation]:
    gate = asyncio.Semaphore(concurrency)

    async def one(host: str, address: str) -> Conversation:
        async with gate:
            conv = await converse(host, address, options)
        where = endpoint(conv) if host == address else f"{host} {endpoint(conv)}"
        say(f"probe: {where}: {conv.outcome.value} at {conv.stage}")
        return conv

    return list(await asyncio.gather(*(one(h, a) for h, a in pairs)))


def _render(conv: Conversation, *, transcript: bool, style: str) -> str:
    if not transcript:
        return render_conversation(conv)
    return "\n".join([render_transcript(conv, style), outcome_line(conv)])


def _document(
    target: str,
    options: ConverseOptions,
    resolution: MxResult | None,
    conversations: list[Conversation],
    status: Status,
    verdict: str,
) -> dict[str, Any]:
    return {
        "status": status.name,
        "verdict": verdict,
        "target": target,
        "port": options.port,
        "helo": options.helo,
        "starttls": options.starttls,
        "resolution": resolution,
        "conversations": conversations,
    }
