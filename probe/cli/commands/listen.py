"""`probe listen`: probe's own SMTP sink, the far end of a firewall test."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from tabulate import tabulate

from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish, say
from probe.errors import UsageError
from probe.model.status import Status
from probe.server.listener import Listener
from probe.server.records import ListenerRecord
from probe.server.tls import server_context


@dataclasses.dataclass(frozen=True)
class ListenResult:
    maildir: str
    address: str
    port: int
    records: tuple[ListenerRecord, ...]


def _line(record: ListenerRecord) -> str:
    tls = f"TLS {record.tls_protocol}" if record.tls else "no TLS"
    rcpts = ", ".join(record.rcpt_addresses)
    return (
        f"received {record.size} bytes from {record.peer} (helo {record.helo or '-'}, {tls}): "
        f"<{record.mail_from}> -> {rcpts} [{record.key}]"
    )


@app.command()
def listen(
    maildir: Annotated[Path, typer.Option("--maildir", help="Maildir to store messages in.")],
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
        int | None, typer.Option("--max-messages", min=1, help="Stop after N stored copies.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0, help="Stop after S seconds.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Receive mail as probe's own SMTP sink and record the dialogue beside each message.

    Each message goes into the Maildir; DIR/dialogues/<key>.json holds what the sink saw: peer,
    EHLO name, MAIL/RCPT parameters, TLS, size, timestamps. Runs until Ctrl-C, --max-messages
    or --duration. Listens on 127.0.0.1 unless --host says otherwise.
    """
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    context = None
    if tls_cert is not None and tls_key is not None:
        try:
            context = server_context(tls_cert, tls_key)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot load the TLS certificate/key: {exc}") from exc
    try:
        listener = Listener(
            maildir, hostname=hostname, tls_context=context, on_record=lambda r: say(_line(r))
        )
    except OSError as exc:
        raise UsageError(f"cannot use Maildir {maildir}: {exc.strerror or exc}") from exc

    async def serve() -> None:
        try:
            await listener.start(host, port)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        say(f"listening on {host}:{listener.hop.port}, storing into {maildir}; Ctrl-C stops")
        await listener.run(max_messages=max_messages, duration=duration)

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        say("stopped")
    result = ListenResult(str(maildir), host, listener.hop.port, tuple(listener.records))
    if json_out:
        emit_json("probe.listen/1", result)
    else:
        rows = [
            (
                r.received_at.astimezone().strftime("%H:%M:%S"),
                r.peer,
                r.helo,
                r.mail_from,
                ", ".join(r.rcpt_addresses),
                r.size,
                r.tls_protocol or "-",
                r.key,
            )
            for r in listener.records
        ]
        headers = ("time", "peer", "helo", "mail from", "rcpt to", "bytes", "tls", "key")
        emit_text(tabulate(rows, headers=headers) if rows else "no messages received")
    finish(Status.OK)
