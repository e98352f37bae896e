"""A hostile hop on loopback: a real SMTP server (aiosmtpd) that accepts every message and
delivers into a Maildir what a broken or malicious path would: copies transformed so that naive
parsers break, and bounces no parser was written for.

What it does to a message depends on its variant (the part of its X-Probe-Id after the run id):

    nested    the body becomes a multipart nested 1,000 levels deep
    groupto   `To: g:g:g:...` (a group inside a group inside a group...)
    charset   Subject `=?unknown-8bit?q?x?=`
    dsn       not delivered; a DSN comes back instead, `Arrival-Date: Fri, 31 Dec 9999 ...`
    late      accepted, and delivered only when the test calls `release()`
    other     delivered as it came

Everything is bounded: one copy per message, at most `MAX_MESSAGES` messages.
"""

from __future__ import annotations

import mailbox
import re
import threading
from pathlib import Path
from typing import Any

MAX_MESSAGES = 50
NESTING = 1000
_PROBE_ID = re.compile(rb"^X-Probe-Id:\s*(\S+)", re.I | re.M)


def _split(raw: bytes) -> tuple[bytes, bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    return (head, body) if sep else (raw, b"")


def _without(head: bytes, *names: bytes) -> list[bytes]:
    """The header fields (folded lines kept together) whose name is not one of `names`."""
    fields = re.split(rb"\r\n(?![ \t])", head)
    return [f for f in fields if f.split(b":", 1)[0].strip().lower() not in names]


def _replace_header(head: bytes, name: bytes, value: bytes) -> bytes:
    return b"\r\n".join([*_without(head, name.lower()), name + b": " + value])


def nested(raw: bytes) -> bytes:
    """The same headers over a body of `NESTING` multiparts, one inside the other."""
    head, _ = _split(raw)
    head = b"\r\n".join(_without(head, b"content-type", b"content-transfer-encoding"))
    part = b"Content-Type: text/plain\r\n\r\ninnermost text\r\n"
    for level in range(NESTING, 0, -1):
        part = (
            b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (level, level)
            + part
            + b"\r\n--b%d--\r\n" % level
        )
    return head + b"\r\n" + part


def group_to(raw: bytes) -> bytes:
    head, body = _split(raw)
    return _replace_header(head, b"To", b"g:" * 2000 + b";") + b"\r\n\r\n" + body


def bad_charset(raw: bytes) -> bytes:
    head, body = _split(raw)
    return _replace_header(head, b"Subject", b"=?unknown-8bit?q?x?=") + b"\r\n\r\n" + body


def dsn(raw: bytes, probe_id: bytes, rcpt: str) -> bytes:
    """A delivery status notification for `raw`, dated in the year 9999."""
    head, _ = _split(raw)
    return b"\r\n".join(
        [
            b"From: MAILER-DAEMON@hostile.test",
            b"To: <" + rcpt.encode() + b">",
            b"Subject: Undelivered Mail Returned to Sender",
            b"Message-ID: <dsn." + probe_id + b"@hostile.test>",
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
            b"",
            b"--r",
            b"Content-Type: text/plain",
            b"",
            b"Your message could not be delivered.",
            b"--r",
            b"Content-Type: message/delivery-status",
            b"",
            b"Reporting-MTA: dns; hostile.test",
            b"Original-Envelope-Id: " + probe_id,
            b"Arrival-Date: Fri, 31 Dec 9999 23:59:59 -0100",
            b"",
            b"Final-Recipient: rfc822; " + rcpt.encode(),
            b"Action: failed",
            b"Status: 5.0.0",
            b"Diagnostic-Code: smtp; 550 5.0.0 hostile",
            b"Last-Attempt-Date: Fri, 31 Dec 9999 23:59:59 -0100",
            b"",
            b"--r",
            b"Content-Type: text/rfc822-headers",
            b"",
            head,
            b"",
            b"--r--",
            b"",
        ]
    )


class HostileHop:
    """aiosmtpd handler delivering transformed copies (see the module docstring) into `maildir`."""

    def __init__(self, maildir: Path) -> None:
        self.box = mailbox.Maildir(maildir, create=True)
        self.received = 0
        self._held: list[bytes] = []
        self._lock = threading.Lock()

    def _store(self, raw: bytes) -> None:
        with self._lock:
            self.box.add(raw.replace(b"\r\n", b"\n"))

    def release(self) -> None:
        """Deliver what the `late` variant sent."""
        with self._lock:
            held, self._held = self._held, []
        for raw in held:
            self._store(raw)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        if self.received > MAX_MESSAGES:
            return "452 4.3.1 enough for one test"
        raw = bytes(envelope.original_content or envelope.content)
        found = _PROBE_ID.search(raw)
        probe_id = found.group(1) if found else b""
        variant = probe_id.partition(b".")[2].decode(errors="replace")
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else "postmaster@hostile.test"
        if variant == "late":
            self._held.append(raw)
        elif variant == "dsn":
            self._store(dsn(raw, probe_id, envelope.mail_from or rcpt))
        else:
            change = {"nested": nested, "groupto": group_to, "charset": bad_charset}.get(variant)
            self._store(change(raw) if change else raw)
        return "250 2.0.0 Ok: queued as 4HoStIlE1"
