"""Real SMTP peers on loopback for the converse tests: aiosmtpd servers and hostile raw peers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP

from probe.model.smtp import Timeouts
from probe.send.options import ConverseOptions

FAST = Timeouts(connect=2.0, banner=2.0, command=2.0, tls=2.0, data_block=2.0, final_reply=2.0)


def options(port: int, **kw: Any) -> ConverseOptions:
    kw.setdefault("timeouts", FAST)
    kw.setdefault("deadline", 10.0)
    return ConverseOptions("probe.invalid", port=port, **kw)


class Recorder:
    """aiosmtpd handler that keeps every envelope and answers DATA with a chosen reply."""

    def __init__(self, final: str = "250 2.0.0 Ok: queued as 4XyZ1a2b3cD4") -> None:
        self.final = final
        self.envelopes: list[Any] = []
        self.reject_rcpt: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.reject_rcpt:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return self.final


@contextlib.asynccontextmanager
async def aiosmtpd_server(handler: Any, port: int = 0, **smtp_kw: Any) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    smtp_kw.setdefault("hostname", "mx.test")
    server = await loop.create_server(lambda: SMTP(handler, **smtp_kw), "127.0.0.1", port)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(peer: Peer) -> AsyncIterator[int]:
    """A hostile peer: `peer` gets the raw streams; its errors are swallowed (it is the bad guy)."""

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await peer(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0, so the peer sees a RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def scripted(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    script: dict[str, bytes],
    banner: bytes = b"220 raw.test ESMTP\r\n",
) -> list[bytes]:
    """Answer commands by their first word from `script`; returns the lines received."""
    seen: list[bytes] = []
    writer.write(banner)
    await writer.drain()
    for _ in range(50):
        line = await reader.readline()
        if not line:
            break
        seen.append(line)
        verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper().decode()
        if verb == "DATA" and b"354" in script.get("DATA", b"354"):
            writer.write(script.get("DATA", b"354 go ahead\r\n"))
            await writer.drain()
            while (body := await reader.readline()) not in (b".\r\n", b""):
                seen.append(body)
            writer.write(script.get(".", b"250 ok\r\n"))
        else:
            writer.write(script.get(verb, b"250 ok\r\n"))
        await writer.drain()
        if verb == "QUIT":
            break
    return seen


class Stall:
    """A peer that takes the whole message and then withholds the final reply (a scanner that
    stalls) when it has `stall_from` bytes or more, or answers it and then stalls on QUIT
    (`after_final`). `waiting` is set once it stalls, `closed` once the client has hung up:
    cancellation tests need both moments."""

    def __init__(self, *, after_final: bool = False, stall_from: int = 0) -> None:
        self.after_final = after_final
        self.stall_from = stall_from
        self.quits = 0  # conversations that ended with QUIT answered
        self.waiting = asyncio.Event()
        self.closed = asyncio.Event()

    async def _stall(self, reader: asyncio.StreamReader) -> None:
        self.waiting.set()
        try:
            await reader.read()  # never answers; returns (or resets) when the client hangs up
        finally:
            self.closed.set()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 stall.test ESMTP\r\n")
        for _ in range(20):
            line = await reader.readline()
            verb = line[:4].upper()
            if not line:
                return
            if verb == b"EHLO":
                writer.write(b"250-stall.test\r\n250-SIZE 10000000\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                await writer.drain()
                size = 0
                while (body := await reader.readline()) not in (b".\r\n", b""):
                    size += len(body)
                if not self.after_final and size >= self.stall_from:
                    return await self._stall(reader)
                writer.write(b"250 2.0.0 Ok: queued as 4XyZ1a2b3cD4\r\n")
            elif verb == b"QUIT":
                if self.after_final:
                    return await self._stall(reader)
                writer.write(b"221 2.0.0 Bye\r\n")
                self.quits += 1
            else:
                writer.write(b"250 2.1.0 Ok\r\n")
            await writer.drain()


class ThreadedServer:
    """A server on its own loop in a background thread, for CLI tests (the CLI runs its own loop).

    `factory` is an async context manager factory yielding the port, e.g.
    `lambda: aiosmtpd_server(Recorder())`.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        import threading

        self._factory = factory
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._main(),), daemon=True
        )
        self.port = 0

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with self._factory() as port:
            self.port = port
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("test server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
        self._loop.close()
