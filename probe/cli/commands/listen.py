"""`probe listen`: probe's own SMTP sink, the far end of a firewall test."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer
from tabulate import tabulate

from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish, say
from probe.cli.options import pem_file, split_host_port
from probe.collect.secrets import Secret, resolve_password
from probe.errors import UsageError
from probe.model.status import Status
from probe.server.limits import LISTEN_LIMITS, Limits
from probe.server.listener import Listener
from probe.server.logs import printable
from probe.server.records import ListenerRecord
from probe.server.records_http import RecordsEndpoint
from probe.server.session_files import SESSIONS_DIR
from probe.server.tap import certificate_sha256
from probe.server.tls import server_context

TOKEN_ENV = "PROBE_RECORDS_TOKEN"
TOKEN_MIN = 16  # characters of the records endpoint's token


def records_token(token_file: Path | None) -> Secret:
    """The records endpoint's token: the file's first line, else $PROBE_RECORDS_TOKEN."""
    token = resolve_password(TOKEN_ENV, token_file, what="records token file")
    if token is None:
        raise UsageError(f"--records-listen needs a token: --records-token-file or ${TOKEN_ENV}")
    if not token.long_enough(TOKEN_MIN):
        raise UsageError(f"the records token must have at least {TOKEN_MIN} characters")
    return token


def records_address(value: str) -> tuple[str, int]:
    """`--records-listen HOST[:PORT]` (port 8025 by default; 0: any free port)."""
    if value.endswith(":0"):
        return split_host_port(value[:-2], default_port=0)
    return split_host_port(value, default_port=8025)


@dataclasses.dataclass(frozen=True)
class ListenResult:
    maildir: str
    address: str
    port: int
    limits: Limits
    stored: int  # messages stored; `records` holds the most recent ones
    records: tuple[ListenerRecord, ...]


def _default(bound: str) -> Any:
    return getattr(LISTEN_LIMITS, bound)


def _line(record: ListenerRecord) -> str:
    tls = f"TLS {record.tls_protocol}" if record.tls else "no TLS"
    rcpts = ", ".join(record.rcpt_addresses)
    return (
        f"received {record.size} bytes from {record.peer} (helo {record.helo or '-'}, {tls}): "
        f"<{record.mail_from}> -> {rcpts} [{record.key}]"
    )


@app.command()
def listen(
    maildir: Annotated[
        Path,
        typer.Option(
            "--maildir", "--record", help="Maildir to store messages and session records in."
        ),
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 2525,
    hostname: Annotated[
        str, typer.Option("--hostname", help="Name in the banner and Received header.")
    ] = "probe.localhost",
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate chain: offer STARTTLS.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    max_messages: Annotated[
        int | None, typer.Option("--max-messages", min=1, help="Stop after N stored messages.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0, help="Stop after S seconds.")
    ] = None,
    max_size: Annotated[
        int,
        typer.Option(
            "--max-size", min=1, help="Largest message in bytes: SIZE in EHLO, 552 beyond."
        ),
    ] = _default("max_size"),
    max_recipients: Annotated[
        int, typer.Option("--max-recipients", min=1, help="Recipients per message; 452 beyond.")
    ] = _default("max_recipients"),
    max_sessions: Annotated[
        int, typer.Option("--max-sessions", min=1, help="Concurrent sessions; 421 beyond.")
    ] = _default("max_sessions"),
    max_sessions_per_client: Annotated[
        int,
        typer.Option(
            "--max-sessions-per-client", min=1, help="Concurrent sessions from one address."
        ),
    ] = _default("max_sessions_per_client"),
    max_line_length: Annotated[
        int, typer.Option("--max-line-length", min=64, help="Bytes of a command line; 500 beyond.")
    ] = _default("max_line_length"),
    idle_timeout: Annotated[
        float, typer.Option("--idle-timeout", min=0.1, help="Seconds a client may stay silent.")
    ] = _default("idle_timeout"),
    session_timeout: Annotated[
        float, typer.Option("--session-timeout", min=0.1, help="Seconds one session may last.")
    ] = _default("session_timeout"),
    disk_budget: Annotated[
        int,
        typer.Option(
            "--disk-budget", min=1, help="Bytes to store (messages, dialogues); 452 beyond."
        ),
    ] = _default("disk_budget"),
    records_listen: Annotated[
        str | None,
        typer.Option(
            "--records-listen",
            help="HOST:PORT: serve the session records over HTTP to `probe firewall --records "
            f"http://HOST:PORT` (read-only, token from --records-token-file or ${TOKEN_ENV}).",
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--records-token-file", help=f"The records token (else ${TOKEN_ENV})."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Receive mail as probe's own SMTP sink and record the dialogue beside each message.

    Each message goes into the Maildir; DIR/dialogues/<key>.json holds what the sink saw: peer,
    EHLO name, MAIL/RCPT parameters, TLS, size, timestamps; one copy per message, whatever the
    number of recipients. DIR/sessions/ holds each connection verbatim (every line both ways,
    TLS, message digests and sizes, timings): the far side's half of `probe firewall`. Runs
    until Ctrl-C, --max-messages or --duration. Listens on 127.0.0.1 unless --host says
    otherwise; bounded as an internet-facing MTA (the --max-* options, the
    timeouts, --disk-budget), and never relays.
    """
    limits = Limits(
        max_size=max_size,
        max_recipients=max_recipients,
        max_sessions=max_sessions,
        max_sessions_per_client=max_sessions_per_client,
        max_line_length=max_line_length,
        idle_timeout=idle_timeout,
        session_timeout=session_timeout,
        disk_budget=disk_budget,
    )
    endpoint_at = None
    if records_listen is not None:
        endpoint_at = records_address(records_listen)
        token = records_token(token_file)
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    context, fingerprint = None, ""
    if tls_cert is not None and tls_key is not None:
        pem_file(tls_cert, "--tls-cert")  # a FIFO or a device is refused, not read
        pem_file(tls_key, "--tls-key")
        try:
            context = server_context(tls_cert, tls_key)
            fingerprint = certificate_sha256(tls_cert)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot load the TLS certificate/key: {exc}") from exc
    try:
        listener = Listener(
            maildir,
            hostname=hostname,
            tls_context=context,
            on_record=lambda r: say(printable(_line(r))),
            limits=limits,
            certificate_sha256=fingerprint,
        )
    except OSError as exc:
        raise UsageError(f"cannot use Maildir {maildir}: {exc.strerror or exc}") from exc

    async def serve() -> None:
        try:
            await listener.start(host, port)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        endpoint = None
        if endpoint_at is not None:
            endpoint = RecordsEndpoint(maildir / SESSIONS_DIR, token)
            try:
                await endpoint.start(*endpoint_at)
            except OSError as exc:
                await listener.close()
                where = f"{endpoint_at[0]}:{endpoint_at[1]}"
                raise UsageError(
                    f"cannot serve the records on {where}: {exc.strerror or exc}"
                ) from None
            shown = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
            say(f"records on http://{shown}:{endpoint.port}/sessions (token required)")
        say(f"listening on {host}:{listener.hop.port}, storing into {maildir}; Ctrl-C stops")
        try:
            await listener.run(max_messages=max_messages, duration=duration)
        finally:
            if endpoint is not None:
                await endpoint.close()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        say("stopped")
    records = tuple(listener.records)
    result = ListenResult(str(maildir), host, listener.hop.port, limits, listener.stored, records)
    if json_out:
        emit_json("probe.listen/1", result)
    else:
        rows = [
            (
                r.received_at.astimezone().strftime("%H:%M:%S"),
                r.peer,
                printable(r.helo),
                printable(r.mail_from),
                printable(", ".join(r.rcpt_addresses)),
                r.size,
                r.tls_protocol or "-",
                r.key,
            )
            for r in records
        ]
        headers = ("time", "peer", "helo", "mail from", "rcpt to", "bytes", "tls", "key")
        emit_text(tabulate(rows, headers=headers) if rows else "no messages received")
    finish(Status.OK)
