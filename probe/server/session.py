"""One SMTP session of probe's server: aiosmtpd's protocol with a face, bounds and a memory (I/O).

`RecordingSMTP` speaks with its handler's `Personality` (aiosmtpd's fixed texts rewritten),
accepts the DSN parameters aiosmtpd would refuse, and records the dialogue of the connection
(`Connection`: peer, EHLO name, TLS, MAIL and RCPT parameters, the latest commands) for the
handler to turn into a `ListenerRecord`. It enforces its `Limits` (probe.server.limits): the
sessions of all and of one client, recipients, command line length, idle and session time, and
the message size while reading DATA (probe.server.data). Each command gives the other sessions
a turn, so a client that pipelines a long burst cannot starve them. Given an `on_session` sink
(`probe listen`), it also taps the whole session verbatim (probe.server.tap) and hands over its
`SessionRecord` when the connection closes; lab hops have none and are untouched.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import functools
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP, syntax

from probe.model.listener import SessionRecord
from probe.model.status import utcnow
from probe.server import limits as bounds
from probe.server.data import DataEnd, read_chunk, read_data
from probe.server.limits import NO_LIMITS, Limits
from probe.server.records import Personality, RcptRecord
from probe.server.tap import SessionTap, TappedReader

SessionSink = Callable[[SessionRecord], None]  # gets each session's record when it closes

DSN_MAIL_PARAMS = frozenset({"RET", "ENVID"})
DSN_RCPT_PARAMS = frozenset({"NOTIFY", "ORCPT"})
COMMANDS_KEPT = 256  # the most recent commands of a connection that its records list
DATA_LINE_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"  # aiosmtpd's text


class Handler(Protocol):
    """aiosmtpd's handler (its `handle_*` hooks) with the face the session shows."""

    personality: Personality


@dataclasses.dataclass
class Connection:
    """What one connection said so far, for the records of its messages."""

    peer: str
    peer_port: int
    local: str
    local_port: int
    connected_at: dt.datetime
    helo: str = ""
    esmtp: bool = False
    tls_protocol: str | None = None
    tls_cipher: str | None = None
    mail_params: tuple[str, ...] = ()
    rcpts: list[RcptRecord] = dataclasses.field(default_factory=list)
    data_at: dt.datetime | None = None
    commands: collections.deque[str] = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=COMMANDS_KEPT)
    )


def _split_command(arg: str, keyword: str) -> tuple[str, list[str]] | None:
    """`FROM:<a@b> SIZE=1 RET=HDRS` -> ("<a@b>", ["SIZE=1", "RET=HDRS"]), or None if malformed."""
    if arg[: len(keyword)].upper() != keyword:
        return None
    rest = arg[len(keyword) :].strip()
    if rest.startswith("<"):
        end = rest.find(">")
        if end < 0:
            return None
        return rest[: end + 1], rest[end + 1 :].split()
    parts = rest.split()
    return (parts[0], parts[1:]) if parts else None


class RecordingSMTP(SMTP):
    """aiosmtpd's server with a personality, DSN parameters accepted, and the dialogue recorded."""

    line_length_limit = 1 << 20  # like Postfix, accept long lines in DATA

    def __init__(
        self,
        handler: Handler,
        *,
        tls_context: ssl.SSLContext | None = None,
        connections: set[RecordingSMTP] | None = None,
        limits: Limits = NO_LIMITS,
        on_session: SessionSink | None = None,
        certificate_sha256: str = "",
    ) -> None:
        self.personality = handler.personality
        self._on_session = on_session
        self._certificate = certificate_sha256
        self._tap: SessionTap | None = None  # only when someone wants the session's record
        self.limits = limits
        super().__init__(
            handler,
            hostname=handler.personality.hostname,
            ident=handler.personality.banner,
            data_size_limit=limits.max_size,
            enable_SMTPUTF8=True,
            tls_context=tls_context,
            timeout=limits.idle_timeout or bounds.AIOSMTPD_IDLE_TIMEOUT,
        )
        self.conn: Connection | None = None
        self._registry = connections
        self._refusal: str | None = None  # the 421 of a connection over the session limits
        self._session_timer: asyncio.TimerHandle | None = None
        self._in_data = False
        self._last_data = 0.0  # loop time of the last bytes received during DATA
        self._buffered = 0  # bytes waiting in the reader at the last idle check
        self._chunks: tuple[object, bytearray, bool] | None = None  # envelope, bytes, too big
        line = limits.max_line_length or bounds.AIOSMTPD_LINE_LENGTH
        # aiosmtpd keeps these in one dict for every server and adds to it at each EHLO
        self.command_size_limit = line
        self.command_size_limits = collections.defaultdict(lambda: line)
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = self._recorded(name, method)

    def _recorded(self, name: str, method: Callable[[str | None], Awaitable[None]]) -> Any:
        @functools.wraps(method)
        async def wrapper(arg: str | None) -> None:
            if self.conn is not None:
                shown = "***" if name == "AUTH" and arg else (arg or "")
                self.conn.commands.append(f"{name} {shown}".rstrip())
                if name == "DATA":
                    self.conn.data_at = utcnow()
            await method(arg)
            await asyncio.sleep(0)  # the other sessions' turn, even within a pipelined burst

        return wrapper

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.conn is None:
            peer = transport.get_extra_info("peername") or ("", 0)
            local = transport.get_extra_info("sockname") or ("", 0)
            self.conn = Connection(
                str(peer[0]), int(peer[1]), str(local[0]), int(local[1]), utcnow()
            )
            if self._on_session is not None:
                self._tap = SessionTap(
                    self.personality.hostname,
                    (self.conn.peer, self.conn.peer_port),
                    (self.conn.local, self.conn.local_port),
                    self._certificate,
                )
                self._reader = TappedReader(  # type: ignore[assignment]
                    self._reader, self._tap, lambda: self._in_data
                )
            if self._registry is not None:
                open_peers = (c.conn.peer for c in self._registry if c.conn is not None)
                hostname = self.personality.hostname
                self._refusal = bounds.session_refusal(
                    self.limits, hostname, self.conn.peer, open_peers
                )
                if self._refusal is None:
                    self._registry.add(self)
            if self.limits.session_timeout is not None and self._refusal is None:
                self._session_timer = self.loop.call_later(
                    self.limits.session_timeout, self._farewell, bounds.SESSION_TIMEOUT
                )
        else:  # the same connection after STARTTLS
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                self.conn.tls_protocol = ssl_object.version()
                cipher = ssl_object.cipher()
                self.conn.tls_cipher = cipher[0] if cipher else None
                if self._tap is not None:
                    self._tap.tls_protocol = self.conn.tls_protocol
                    self._tap.tls_cipher = self.conn.tls_cipher
            self.conn.helo = ""

    def connection_lost(self, error: Exception | None) -> None:
        if self._registry is not None:
            self._registry.discard(self)
        if self._session_timer is not None:
            self._session_timer.cancel()
        tap, self._tap = self._tap, None
        if tap is not None and self._on_session is not None:
            self._on_session(tap.record())
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if self._refusal is None:
            await super()._handle_client()
        else:
            self._farewell(self._refusal)

    def data_received(self, data: bytes) -> None:
        if self._in_data:
            self._last_data = self.loop.time()
        super().data_received(data)

    def _timeout_cb(self) -> None:
        """Idle: no command, and during DATA no bytes received nor read, for `idle_timeout`
        seconds."""
        idle = self.limits.idle_timeout
        if idle is None:
            super()._timeout_cb()  # type: ignore[no-untyped-call]  # closes without a word
            return
        buffered = len(getattr(self._reader, "_buffer", None) or ())
        if self._in_data and buffered and buffered != self._buffered:
            # we are still reading what came (its reading may be paused meanwhile, so no new
            # bytes arrive): the server is behind, not the client idle
            self._last_data = self.loop.time()
        self._buffered = buffered
        quiet = self.loop.time() - self._last_data
        if self._in_data and quiet < idle:
            self._reset_timeout(idle - quiet)
        else:
            self._farewell(bounds.IDLE_TIMEOUT)

    def _farewell(self, reply: str) -> None:
        """Say `reply` (a 421) and close, whatever the session is doing."""
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            text = reply.format(hostname=self.personality.hostname)
            if self._tap is not None:
                self._tap.server_line(text)
            transport.write(text.encode("ascii", "replace") + b"\r\n")
            transport.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = self._rewrite(status)
            if self._tap is not None:
                self._tap.server_line(status)
        await super().push(status)

    def _rewrite(self, status: str) -> str:
        """aiosmtpd's fixed texts -> the personality's (the 354 text is a fingerprint)."""
        p = self.personality
        if status == "354 End data with <CR><LF>.<CR><LF>":
            return p.data_reply
        if status == "220 Ready to start TLS":
            return p.starttls_reply
        if status.startswith('500 Error: command "'):
            return p.unknown_reply
        if status.startswith("552 Error: message size exceeds"):  # SIZE= over max_size
            return bounds.MESSAGE_TOO_BIG
        if status == "500 Command line too long" and self.limits.max_line_length is not None:
            return bounds.LINE_TOO_LONG
        return status

    @syntax("EHLO hostname")  # for HELP, as aiosmtpd's own
    async def smtp_EHLO(self, hostname: str) -> None:
        self.command_size_limits.clear()  # aiosmtpd adds the extensions' room again
        await super().smtp_EHLO(hostname)

    async def smtp_MAIL(self, arg: str | None) -> None:
        await super().smtp_MAIL(self._take_params(arg, "FROM:", DSN_MAIL_PARAMS, rcpt=False))

    async def smtp_RCPT(self, arg: str | None) -> None:
        most = self.limits.max_recipients
        envelope = self.envelope
        assert envelope is not None
        if most is not None and envelope.mail_from and len(envelope.rcpt_tos) >= most:
            await self.push(bounds.TOO_MANY_RECIPIENTS)
            return
        await super().smtp_RCPT(self._take_params(arg, "TO:", DSN_RCPT_PARAMS, rcpt=True))

    @syntax("DATA")
    async def smtp_DATA(self, arg: str | None) -> None:
        """aiosmtpd's DATA with the message read by `read_data` (bounded, one buffer)."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        assert envelope is not None
        if not envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        self._in_data, self._last_data = True, self.loop.time()
        try:
            read = await read_data(self._reader, self.limits.max_size)
        finally:
            self._in_data = False
            self._reset_timeout()  # idle from the end of data on, not from the DATA command
        if self._tap is not None:
            complete = read.end is DataEnd.COMPLETE
            rcpts = tuple(envelope.rcpt_tos)
            content = read.content if complete else None
            self._tap.message(envelope.mail_from or "", rcpts, content, read.size, read.wire)
        if read.end is not DataEnd.COMPLETE:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            too_long = bounds.LINE_TOO_LONG if self.limits.max_line_length else DATA_LINE_TOO_LONG
            await self.push(bounds.MESSAGE_TOO_BIG if read.end is DataEnd.TOO_BIG else too_long)
            return
        envelope.content = envelope.original_content = read.content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(status)

    @syntax("BDAT size [LAST]")
    async def smtp_BDAT(self, arg: str | None) -> None:
        """RFC 3030 CHUNKING, where the personality offers it: the chunk is read whatever the
        reply, bounded by the size limit; LAST hands the message to the handler as DATA does."""
        if "CHUNKING" not in self.personality.keywords:
            await self.push(self.personality.unknown_reply)
            return
        words = (arg or "").split()
        last = len(words) == 2 and words[1].upper() == "LAST"
        if not words or not words[0].isdigit() or len(words[0]) > 12 or len(words) > 1 + last:
            await self.push("501 5.5.4 Syntax: BDAT count [LAST]")
            return
        envelope = self.envelope
        assert envelope is not None
        if self._chunks is None or self._chunks[0] is not envelope:
            self._chunks = (envelope, bytearray(), False)
        _, kept, too_big = self._chunks
        room = None if self.limits.max_size is None else self.limits.max_size - len(kept)
        self._in_data, self._last_data = True, self.loop.time()
        try:
            chunk = await read_chunk(self._reader, int(words[0]), None if too_big else room)
        finally:
            self._in_data = False
            self._reset_timeout()
        if chunk is None:
            too_big = True
            kept.clear()
        else:
            kept += chunk
        self._chunks = (envelope, kept, too_big)
        if await self.check_helo_needed():  # it said so itself
            self._chunks = None
            return
        if not envelope.rcpt_tos:
            self._chunks = None
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if not last:
            await self.push(f"250 2.0.0 {words[0]} octets received")
            return
        await self._chunked_message(envelope, bytes(kept), too_big)

    async def _chunked_message(self, envelope: Any, content: bytes, too_big: bool) -> None:
        self._chunks = None
        if self._tap is not None:
            rcpts = tuple(envelope.rcpt_tos)
            kept = None if too_big else content
            self._tap.message(envelope.mail_from or "", rcpts, kept, len(content), chunked=True)
        if too_big:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push(bounds.MESSAGE_TOO_BIG)
            return
        envelope.content = envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(status)

    async def smtp_ETRN(self, arg: str | None) -> None:
        await self.push("250 Queuing started" if arg else "500 5.5.4 Syntax: ETRN domain")

    def _take_params(
        self, arg: str | None, keyword: str, dsn: frozenset[str], *, rcpt: bool
    ) -> str | None:
        """Record the parameters and strip the DSN ones aiosmtpd would refuse with 555."""
        split = _split_command(arg or "", keyword)
        if split is None or self.conn is None:
            return arg
        address, params = split
        if rcpt:
            self.conn.rcpts.append(RcptRecord(address.strip("<>"), tuple(params)))
        else:
            self.conn.mail_params = tuple(params)
            self.conn.rcpts.clear()
        kept = [p for p in params if p.partition("=")[0].upper() not in dsn]
        return " ".join([keyword + address, *kept])
