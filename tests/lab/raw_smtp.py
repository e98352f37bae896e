"""An attack client on raw sockets, and probe's listener on a thread of its own (bounds tests).

The client speaks bytes, so it can send what no SMTP library would: endless lines, pipelined
bursts, control bytes. Every read has a socket timeout and every loop a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from pathlib import Path
from types import TracebackType

from probe.server.limits import Limits
from probe.server.listener import Listener

HOST = "127.0.0.1"


class Client:
    """One SMTP connection from `source` (any 127.0.0.0/8 address is this machine's)."""

    def __init__(
        self, port: int, source: str = HOST, timeout: float = 5.0, host: str = HOST
    ) -> None:
        self.sock = socket.create_connection((host, port), timeout, (source, 0))
        self.pending = b""

    def line(self) -> bytes:
        """The next line without CRLF; b"" once the server closed."""
        for _ in range(10_000):
            if b"\r\n" in self.pending:
                line, self.pending = self.pending.split(b"\r\n", 1)
                return line
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.pending = self.pending, b""
                return line
            self.pending += chunk
        raise AssertionError("no end of line")

    def reply(self) -> str:
        """A whole (multi-line) reply, lines joined by newlines; "" once the server closed."""
        lines = []
        for _ in range(1000):
            line = self.line().decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)
        raise AssertionError("endless reply")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cmd(self, line: str | bytes) -> str:
        self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.reply()

    def closed(self) -> bool:
        """True once the server has closed the connection (nothing left unread); False when it
        keeps it open past the socket timeout."""
        try:
            return not self.pending and self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except OSError:  # reset
            return True

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def transaction(
    client: Client, body: bytes = b"Subject: t\r\n\r\nbody\r\n", helo: bytes = b"client.test"
) -> str:
    """EHLO, MAIL, one RCPT, DATA: the final reply."""
    assert client.cmd(b"EHLO " + helo).startswith("250")
    assert client.cmd("MAIL FROM:<a@client.test>").startswith("250")
    assert client.cmd("RCPT TO:<b@sink.test>").startswith("250")
    assert client.cmd("DATA").startswith("354")
    client.send(body + b".\r\n")
    return client.reply()


class Served:
    """A `Listener` with `limits` serving on its own thread and loop, stopped on exit."""

    def __init__(self, directory: Path, limits: Limits) -> None:
        self.maildir = directory / "Maildir"
        self.listener = Listener(self.maildir, hostname="sink.test", limits=limits)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.listener.start(HOST, 0)
        self._task = asyncio.create_task(self.listener.run(duration=60))
        self._ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    @property
    def port(self) -> int:
        return self.listener.hop.port

    def open_sessions(self) -> int:
        return len(self.listener.hop.connections)

    def __enter__(self) -> Served:
        self._thread.start()
        assert self._ready.wait(10), "the listener did not start"
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._loop is not None and self._task is not None
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)
