"""A Cisco ASA "inspect esmtp" box: a TCP proxy that rewrites the conversation line by line.

Like the real box it terminates no SMTP itself: the server behind it answers everything except
commands outside the allow-list (STARTTLS included, `no allow-tls` being the default), which get
`500 5.5.1 Command unrecognized`. The banner is masked with `*` except the digits 2 and 0, EHLO
keywords outside the allow-list are masked with X's keeping their length (`STARTTLS` ->
`XXXXXXXA`, the last letter counting masked keywords), and more than `max_rcpt` recipients in one
transaction drop the connection (the default map's "cmd RCPT count gt 100").
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses

ALLOWED_COMMANDS = frozenset(
    "AUTH DATA EHLO ETRN HELO HELP MAIL NOOP QUIT RCPT RSET SAML SEND SOML VRFY".split()
)
ALLOWED_KEYWORDS = frozenset(
    "8BITMIME BINARYMIME DSN ENHANCEDSTATUSCODES ETRN PIPELINING SIZE VRFY AUTH".split()
)
UNRECOGNIZED = "500 5.5.1 Command unrecognized"
LIMIT = 1 << 20  # a longer line drops the connection


def mask_banner(line: bytes) -> bytes:
    """`220 mx.example ESMTP` -> `220 *****...`: every character but 2 and 0 becomes `*`."""
    body = line.rstrip(b"\r\n")
    head, rest = body[:4], body[4:]
    masked = bytes(c if c in b"20" else ord("*") for c in rest)
    return head + masked + b"\r\n"


def mask_ehlo(lines: list[bytes], allowed: frozenset[str] = ALLOWED_KEYWORDS) -> list[bytes]:
    """Mask EHLO keywords outside `allowed`: `XXXXXXXA`, `XXXXXXXB`, ... keeping their length."""
    result = lines[:1]
    count = 0
    for line in lines[1:]:
        prefix, text = line[:4], line[4:].rstrip(b"\r\n")
        keyword, sep, params = text.partition(b" ")
        if keyword.decode("latin-1").upper() not in allowed and keyword:
            keyword = b"X" * (len(keyword) - 1) + bytes([ord("A") + count % 26])
            count += 1
        result.append(prefix + keyword + sep + params + b"\r\n")
    return result


def _is_last(line: bytes) -> bool:
    return not (len(line) >= 4 and line[3:4] == b"-")


def _verb(line: bytes) -> str:
    words = line.split(None, 1)
    return words[0].decode("latin-1").upper() if words else ""


@dataclasses.dataclass
class _Pending:
    verb: str
    local_reply: bytes | None = None  # answered by the box itself, in order


class _Session:
    def __init__(
        self,
        proxy: AsaProxy,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        server: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.proxy = proxy
        self.creader, self.cwriter = client
        self.sreader, self.swriter = server
        self.pending: collections.deque[_Pending] = collections.deque()
        self.banner_seen = False
        self.data_reply: asyncio.Future[int] | None = None
        self.rcpts = 0

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._from_server()),
            asyncio.create_task(self._from_client()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for writer in (self.cwriter, self.swriter):
                writer.close()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                    await task

    # ----------------------------------------------------------------- server -> client

    async def _from_server(self) -> None:
        lines: list[bytes] = []
        while True:
            line = await self.sreader.readline()
            if not line:
                return
            lines.append(line if line.endswith(b"\r\n") else line.rstrip(b"\r\n") + b"\r\n")
            if _is_last(line):
                await self._reply(lines)
                lines = []

    async def _reply(self, lines: list[bytes]) -> None:
        if not self.banner_seen:
            self.banner_seen = True
            lines = [mask_banner(line) for line in lines]
            self.cwriter.write(b"".join(lines))
        else:
            entry = self.pending.popleft() if self.pending else _Pending("")
            if entry.verb == "EHLO":
                lines = mask_ehlo(lines, self.proxy.allowed_keywords)
            self.cwriter.write(b"".join(lines))
            if entry.verb == "DATA" and self.data_reply is not None:
                code = lines[-1][:3]
                self.data_reply.set_result(int(code) if code.isdigit() else 0)
            while self.pending and self.pending[0].local_reply is not None:
                self.cwriter.write(self.pending.popleft().local_reply or b"")
        await self.cwriter.drain()

    # ----------------------------------------------------------------- client -> server

    async def _from_client(self) -> None:
        while True:
            try:
                line = await self.creader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                return
            except asyncio.LimitOverrunError:
                return  # over-long command line: drop the connection
            verb = _verb(line)
            if verb not in self.proxy.allowed_commands:
                await self._answer_locally(verb)
                continue
            if verb == "MAIL":
                self.rcpts = 0
            elif verb == "RCPT":
                self.rcpts += 1
                if self.rcpts > self.proxy.max_rcpt:
                    return  # drop-connection, as the default esmtp map does
            self.pending.append(_Pending(verb))
            self.swriter.write(line)
            await self.swriter.drain()
            if verb == "DATA":
                self.data_reply = asyncio.get_running_loop().create_future()
                if await self.data_reply == 354 and not await self._pump_data():
                    return
                self.data_reply = None

    async def _answer_locally(self, verb: str) -> None:
        reply = (self.proxy.unrecognized + "\r\n").encode()
        if self.pending:
            self.pending.append(_Pending(verb, reply))
        else:
            self.cwriter.write(reply)
            await self.cwriter.drain()

    async def _pump_data(self) -> bool:
        """Pass the message through until the lone dot; False when the client went away."""
        at_line_start = True
        while True:
            complete = True
            try:
                chunk = await self.creader.readuntil(b"\n")
            except asyncio.LimitOverrunError as exc:
                chunk, complete = await self.creader.read(exc.consumed), False
            except asyncio.IncompleteReadError:
                return False
            if at_line_start and complete and chunk == b".\r\n":
                self.pending.append(_Pending("<end-of-data>"))
                self.swriter.write(chunk)
                await self.swriter.drain()
                return True
            self.swriter.write(chunk)
            await self.swriter.drain()
            at_line_start = complete


class AsaProxy:
    """Listens like a server, connects to `upstream` for every client, rewrites in between."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        allowed_commands: frozenset[str] = ALLOWED_COMMANDS,
        allowed_keywords: frozenset[str] = ALLOWED_KEYWORDS,
        unrecognized: str = UNRECOGNIZED,
        max_rcpt: int = 100,
    ) -> None:
        self.upstream = upstream
        self.allowed_commands = allowed_commands
        self.allowed_keywords = allowed_keywords
        self.unrecognized = unrecognized
        self.max_rcpt = max_rcpt
        self.server: asyncio.Server | None = None
        self.sessions: set[asyncio.Task[None]] = set()
        self.host = ""
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, sock: object = None) -> None:
        if sock is not None:
            self.server = await asyncio.start_server(self._serve, sock=sock, limit=LIMIT)
        else:
            self.server = await asyncio.start_server(self._serve, host, port, limit=LIMIT)
        address = self.server.sockets[0].getsockname()
        self.host, self.port = str(address[0]), int(address[1])

    async def close(self) -> None:
        if self.server is None:
            return
        self.server.close()
        for task in list(self.sessions):
            task.cancel()
        for task in list(self.sessions):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.server.wait_closed()
        self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.sessions.add(task)
        try:
            try:
                upstream = await asyncio.wait_for(
                    asyncio.open_connection(*self.upstream, limit=LIMIT), 10
                )
            except (OSError, TimeoutError):
                writer.close()
                return
            await _Session(self, (reader, writer), upstream).run()
        finally:
            if task is not None:
                self.sessions.discard(task)
            writer.close()
