"""`probe listen`: probe's own SMTP sink, the cooperating mailbox of a firewall test.

It is the engine of `probe.server.engine` with a Postfix-like face that names probe, delivering
into a Maildir (`probe.server.maildir`) and serving until a bound is reached. It faces a network,
so it is bounded as an internet-facing MTA is (`probe.server.limits.LISTEN_LIMITS`): one copy
per transaction, a disk budget, escaped one-line logs; it never relays. Each connection's
verbatim record (`probe.model.listener.SessionRecord`) goes to `<maildir>/sessions/`, the far
side's half of `probe firewall`.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import Callable
from pathlib import Path

from probe.server.engine import HopHandler, SmtpHop
from probe.server.limits import LISTEN_LIMITS, Limits
from probe.server.logs import escaped_logs
from probe.server.maildir import MaildirDelivery, StorageCheck
from probe.server.records import POSTFIX_KEYWORDS, ListenerRecord, Personality
from probe.server.session_files import SessionFiles

LISTEN_BANNER = "ESMTP probe listen"  # the fixed token a firewall test looks for
RECORDS_KEPT = 1000  # the most recent records held for the final report; all are on disk


def listener_personality(hostname: str, max_size: int | None = None) -> Personality:
    """`probe listen`'s own face: Postfix-like texts, a Received stamp that names probe, the
    full capability list (CHUNKING too: probe's engine speaks BDAT) and the SIZE it enforces."""
    size = "SIZE" if max_size is None else f"SIZE {max_size}"
    return Personality(
        hostname=hostname,
        banner=LISTEN_BANNER,
        keywords=tuple(k for k in POSTFIX_KEYWORDS if not k.startswith("SIZE"))
        + ("CHUNKING", size),
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
        limits: Limits = LISTEN_LIMITS,
        certificate_sha256: str = "",
    ) -> None:
        self.limits = limits
        self.records: collections.deque[ListenerRecord] = collections.deque(maxlen=RECORDS_KEPT)
        self.stored = 0  # messages stored in all
        self._arrived = asyncio.Event()
        self._on_record = on_record
        personality = listener_personality(hostname, limits.max_size)
        delivery = MaildirDelivery(
            maildir,
            personality,
            on_record=self._stored,
            per_recipient=False,
            disk_budget=limits.disk_budget,
        )
        handler = HopHandler(personality, delivery, [StorageCheck(delivery)])
        self.sessions = SessionFiles(maildir, delivery.take)
        self.hop = SmtpHop(
            handler,
            tls_context,
            limits,
            on_session=self.sessions.write,
            certificate_sha256=certificate_sha256,
        )

    def _stored(self, record: ListenerRecord) -> None:
        self.records.append(record)
        self.stored += 1
        self._arrived.set()
        if self._on_record is not None:
            self._on_record(record)

    async def start(self, host: str = "127.0.0.1", port: int = 2525) -> None:
        await self.hop.start(host, port)

    async def close(self, grace: float = 0.0) -> None:
        await self.hop.close(grace)

    async def run(self, *, max_messages: int | None = None, duration: float | None = None) -> None:
        """Serve until `max_messages` messages are stored or `duration` seconds passed; what the
        server logs meanwhile is escaped, one line each."""
        with escaped_logs():
            await self._serve(max_messages, duration)

    async def _serve(self, max_messages: int | None, duration: float | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if duration is None else loop.time() + duration
        try:
            while max_messages is None or self.stored < max_messages:
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
