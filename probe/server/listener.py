"""`probe listen`: probe's own SMTP sink, the cooperating mailbox of a firewall test.

It is the engine of `probe.server.engine` with a Postfix-like face that names probe, delivering
into a Maildir (`probe.server.maildir`) and serving until a bound is reached.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path

from probe.server.engine import HopHandler, SmtpHop
from probe.server.maildir import MaildirDelivery
from probe.server.records import POSTFIX_KEYWORDS, ListenerRecord, Personality


def listener_personality(hostname: str) -> Personality:
    """`probe listen`'s own face: Postfix-like texts, a Received stamp that names probe."""
    return Personality(
        hostname=hostname,
        banner="ESMTP probe listen",
        keywords=tuple(k for k in POSTFIX_KEYWORDS if not k.startswith("SIZE")) + ("SIZE",),
        mail_name="probe",
    )


class Listener:
    """`probe listen`: a sink that stores messages and their dialogues until a bound is reached."""

    def __init__(
        self,
        maildir: Path,
        *,
        hostname: str = "probe.localhost",
        tls_context: ssl.SSLContext | None = None,
        on_record: Callable[[ListenerRecord], None] | None = None,
    ) -> None:
        self.records: list[ListenerRecord] = []
        self._arrived = asyncio.Event()
        self._on_record = on_record
        personality = listener_personality(hostname)
        delivery = MaildirDelivery(maildir, personality, on_record=self._stored)
        self.hop = SmtpHop(HopHandler(personality, delivery), tls_context)

    def _stored(self, record: ListenerRecord) -> None:
        self.records.append(record)
        self._arrived.set()
        if self._on_record is not None:
            self._on_record(record)

    async def start(self, host: str = "127.0.0.1", port: int = 2525) -> None:
        await self.hop.start(host, port)

    async def close(self, grace: float = 0.0) -> None:
        await self.hop.close(grace)

    async def run(self, *, max_messages: int | None = None, duration: float | None = None) -> None:
        """Serve until `max_messages` copies are stored or `duration` seconds passed."""
        loop = asyncio.get_running_loop()
        deadline = None if duration is None else loop.time() + duration
        try:
            while max_messages is None or len(self.records) < max_messages:
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                self._arrived.clear()
                try:  # not wait_for: in 3.11 it loses a cancel (Ctrl-C) that meets an arrival
                    async with asyncio.timeout(remaining):
                        await self._arrived.wait()
                except TimeoutError:
                    break
        finally:
            await self.close(grace=2.0)
