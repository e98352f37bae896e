"""A small after-queue content filter for Postfix (`content_filter = scan:[127.0.0.1]:PORT`), in
the manner of amavisd-new: it takes the message from Postfix over SMTP, writes its own Received
(`by scan.mta.probe.test (probe-test-scanner 1.0)`), puts `X-Virus-Scanned: probe-test-scanner
1.0 on scan.mta.probe.test` directly below it (or, as `Style` says, above it, or without its
host), replaces .exe attachments with a text notice
(probe.lab.mime, as the lab's AV hop does) and re-injects into Postfix's second smtpd on another
port. It answers Postfix only once the re-injection has answered, with that answer, as a
before-queue proxy would; Postfix keeps the message queued on a 4xx.

aiosmtpd on 127.0.0.1, on its own event loop in a thread (aiosmtpd.controller.Controller).
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import secrets
import smtplib
import ssl
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope

from probe.lab import mime
from tests.mta import servers

NAME = "scan.mta.probe.test"
PRODUCT = "probe-test-scanner 1.0"
NOTICE = "The attachment {name} was removed by " + PRODUCT + "."


@dataclasses.dataclass(frozen=True)
class Style:
    """Where the scanner puts its X-Virus-Scanned and what it says: directly below its own
    Received (the default) or directly above it, naming its host or not."""

    above: bool = False
    names_host: bool = True


def stamped(data: bytes, helo: str, peer: str, rcpt: str, protocol: str, style: Style) -> bytes:
    """`data` with the scanner's Received on top and its X-Virus-Scanned beside it."""
    received = (
        f"Received: from {helo} (localhost [{peer}])\r\n"
        f"\tby {NAME} ({PRODUCT}) with {protocol} id {secrets.token_hex(6).upper()}\r\n"
        f"\tfor <{rcpt}>; {email.utils.formatdate(usegmt=True)}\r\n"
    )
    scanned = f"X-Virus-Scanned: {PRODUCT}{' on ' + NAME if style.names_host else ''}\r\n"
    return ((scanned + received) if style.above else (received + scanned)).encode() + data


class Scanner:
    """aiosmtpd handler: scan, stamp, re-inject into 127.0.0.1:`reinject`."""

    def __init__(self, reinject: int, style: Style) -> None:
        self.reinject = reinject
        self.style = style
        self.scanned = 0

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        data, _removed = mime.strip_attachments(data, (".exe",), NOTICE)
        peer = session.peer[0] if session.peer else "127.0.0.1"
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        protocol = "ESMTPS" if session.ssl else "ESMTP"
        data = stamped(data, session.host_name or "unknown", peer, rcpt, protocol, self.style)
        self.scanned += 1
        try:
            await asyncio.to_thread(
                self._reinject, envelope.mail_from or "", envelope.rcpt_tos, data
            )
        except smtplib.SMTPResponseException as exc:
            return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
        except (smtplib.SMTPException, OSError) as exc:
            return f"451 4.3.0 re-injection failed: {type(exc).__name__}"
        return "250 2.0.0 Ok: scanned and re-injected"

    def _reinject(self, mail_from: str, rcpts: list[str], data: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", self.reinject, NAME, timeout=30) as client:
            client.starttls()  # as Postfix's smtp client handed it over: TLS on both legs
            client.sendmail(mail_from, rcpts, data)


def start(reinject: int, tls: ssl.SSLContext, style: Style = Style()) -> Controller:
    """The scanner listening on a free loopback port (`controller.port`), offering STARTTLS
    with `tls`, started."""
    controller = Controller(
        Scanner(reinject, style),
        hostname="127.0.0.1",
        port=servers.free_port(),
        server_hostname=NAME,
        ident=PRODUCT,
        tls_context=tls,
    )
    controller.start()
    return controller
