"""The SMTP engine behind `probe listen` and every SMTP hop of the lab (I/O).

A hop is an aiosmtpd server (`RecordingSMTP`) driven by a `HopHandler`: a `Personality` (banner,
EHLO list, reply texts, the Received stamp it writes), a chain of `Behaviour`s (checks that may
reject at MAIL, RCPT or after DATA, and transforms of the message) and a `Delivery` (a Maildir,
`probe.server.maildir`, or the next hop in the lab). The dialogue of each message is kept as a
`ListenerRecord` (`probe.server.records`). `SmtpHop` listens and tracks its sessions
(`probe.server.session`); its `Limits` (`probe.server.limits`) bound what one client may take:
a lab hop has none unless its scenario asks, `probe listen` has them all.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from typing import Any, Protocol

from probe.model.status import utcnow
from probe.server import stamps
from probe.server.limits import NO_LIMITS, Limits
from probe.server.logs import printable
from probe.server.records import ListenerRecord, Personality, RcptRecord
from probe.server.session import Connection, RecordingSMTP, SessionSink

INTERNAL_ERROR = "451 4.3.0 Error: internal error"
log = logging.getLogger("probe.server")


class Behaviour:
    """A pluggable piece of hop logic. Checks return a reply to reject, or None to go on."""

    async def on_mail(self, peer: str, address: str, params: dict[str, str]) -> str | None:
        return None

    async def on_rcpt(self, peer: str, mail_from: str, address: str) -> str | None:
        return None

    async def on_data(self, record: ListenerRecord, data: bytes) -> str | None:
        return None

    def transform(self, record: ListenerRecord, data: bytes) -> bytes:
        return data


class Delivery(Protocol):
    """Where an accepted message goes; returns the final reply for the client. `close` ends
    work still under way when the server stops."""

    async def deliver(self, record: ListenerRecord, data: bytes) -> str: ...

    async def close(self) -> None: ...


# --------------------------------------------------------------------------- the handler


def _param_dict(options: Sequence[str]) -> dict[str, str]:
    result = {}
    for option in options:
        key, _, value = option.partition("=")
        result[key.upper()] = value
    return result


class HopHandler:
    """aiosmtpd hooks: the personality's replies, the behaviours' checks, then the delivery."""

    def __init__(
        self,
        personality: Personality,
        delivery: Delivery,
        behaviours: Sequence[Behaviour] = (),
    ) -> None:
        self.personality = personality
        self.delivery = delivery
        self.behaviours = tuple(behaviours)

    def ehlo_lines(self, server: RecordingSMTP) -> list[str]:
        tls_possible = server.tls_context is not None and server._tls_protocol is None
        keywords = [k for k in self.personality.keywords if k != "STARTTLS" or tls_possible]
        lines = [self.personality.hostname, *keywords]
        return [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]

    async def handle_EHLO(
        self, server: RecordingSMTP, session: Any, envelope: Any, hostname: str, responses: Any
    ) -> list[str]:
        session.host_name = hostname
        if server.conn is not None:
            server.conn.helo, server.conn.esmtp = hostname, True
        return self.ehlo_lines(server)

    async def handle_HELO(
        self, server: RecordingSMTP, session: Any, envelope: Any, hostname: str
    ) -> str:
        session.host_name = hostname
        if server.conn is not None:
            server.conn.helo, server.conn.esmtp = hostname, False
        return self.personality.helo_reply.format(hostname=self.personality.hostname)

    async def handle_MAIL(
        self, server: RecordingSMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        peer = server.conn.peer if server.conn else ""
        for behaviour in self.behaviours:
            reply = await behaviour.on_mail(peer, address, _param_dict(options))
            if reply:
                return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return self.personality.mail_reply.format(address=address)

    async def handle_RCPT(
        self, server: RecordingSMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        peer = server.conn.peer if server.conn else ""
        for behaviour in self.behaviours:
            reply = await behaviour.on_rcpt(peer, envelope.mail_from or "", address)
            if reply:
                if server.conn is not None and server.conn.rcpts:
                    server.conn.rcpts.pop()
                return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return self.personality.rcpt_reply.format(address=address)

    async def handle_DATA(self, server: RecordingSMTP, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or b""
        record = self.record(server, envelope, len(data))
        for behaviour in self.behaviours:
            reply = await behaviour.on_data(record, data)
            if reply:
                return reply
        if self.personality.stamp:
            data = stamps.received(self.personality, record) + data
        for behaviour in self.behaviours:
            data = behaviour.transform(record, data)
        return await self.delivery.deliver(record, data)

    def record(self, server: RecordingSMTP, envelope: Any, size: int) -> ListenerRecord:
        conn = server.conn or Connection("", 0, "", 0, utcnow())
        accepted = set(envelope.rcpt_tos)
        rcpts = tuple(r for r in conn.rcpts if r.address in accepted) or tuple(
            RcptRecord(a) for a in envelope.rcpt_tos
        )
        return ListenerRecord(
            server=self.personality.hostname,
            queue_id=stamps.queue_id(self.personality.stamp),
            peer=conn.peer,
            peer_port=conn.peer_port,
            local=conn.local,
            local_port=conn.local_port,
            helo=conn.helo,
            esmtp=conn.esmtp,
            tls=conn.tls_protocol is not None,
            tls_protocol=conn.tls_protocol,
            tls_cipher=conn.tls_cipher,
            mail_from=envelope.mail_from or "",
            mail_params=conn.mail_params,
            rcpts=rcpts,
            size=size,
            connected_at=conn.connected_at,
            data_at=conn.data_at,
            received_at=utcnow(),
            commands=tuple(conn.commands),
        )

    async def handle_exception(self, error: Exception) -> str:
        """A fault of ours: one escaped log line (no traceback, nothing for the client)."""
        text = printable(f"{type(error).__name__}: {error}")
        log.warning("%s: error in an SMTP session: %s", self.personality.hostname, text)
        return INTERNAL_ERROR

    async def handle_RSET(self, server: RecordingSMTP, session: Any, envelope: Any) -> str:
        if server.conn is not None:
            server.conn.rcpts.clear()
        return self.personality.ok_reply

    async def handle_NOOP(
        self, server: RecordingSMTP, session: Any, envelope: Any, arg: str
    ) -> str:
        return self.personality.ok_reply

    async def handle_QUIT(self, server: RecordingSMTP, session: Any, envelope: Any) -> str:
        return self.personality.quit_reply.format(hostname=self.personality.hostname)

    async def handle_VRFY(
        self, server: RecordingSMTP, session: Any, envelope: Any, address: str
    ) -> str:
        return self.personality.vrfy_reply.format(address=address)


# --------------------------------------------------------------------------- serving


class SmtpHop:
    """One listening SMTP server built from a handler; tracks its connections to close them."""

    def __init__(
        self,
        handler: HopHandler,
        tls_context: ssl.SSLContext | None = None,
        limits: Limits = NO_LIMITS,
        *,
        on_session: SessionSink | None = None,
        certificate_sha256: str = "",
    ) -> None:
        self.handler = handler
        self.tls_context = tls_context
        self.limits = limits
        self.on_session = on_session  # each session's verbatim record, when it closes
        self.certificate_sha256 = certificate_sha256  # of tls_context's certificate
        self.server: asyncio.Server | None = None
        self.connections: set[RecordingSMTP] = set()
        self.host = ""
        self.port = 0

    def _protocol(self) -> RecordingSMTP:
        return RecordingSMTP(
            self.handler,
            tls_context=self.tls_context,
            connections=self.connections,
            limits=self.limits,
            on_session=self.on_session,
            certificate_sha256=self.certificate_sha256,
        )

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, sock: Any = None) -> None:
        loop = asyncio.get_running_loop()
        if sock is not None:
            self.server = await loop.create_server(self._protocol, sock=sock)
        else:
            self.server = await loop.create_server(self._protocol, host, port)
        address = self.server.sockets[0].getsockname()
        self.host, self.port = str(address[0]), int(address[1])

    async def close(self, grace: float = 0.0) -> None:
        """Stop listening; give open sessions `grace` seconds to finish (QUIT), then cut them."""
        if self.server is None:
            return
        self.server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for connection in list(self.connections):
            connection.close()
        await self.server.wait_closed()
        await self.handler.delivery.close()
        self.server = None
