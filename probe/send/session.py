"""The wire under one SMTP conversation: bounded reads and writes, timed steps, the transcript,
and what an interruption leaves behind. The SMTP script itself is `probe.send.converse`.

Every read is bounded (a line by `replies.MAX_LINE`, a reply by the `ReplyBuilder`'s limits) and
every wait by its stage's timeout, capped by the conversation's deadline. Whatever the peer or
the network does becomes a `Stop` carrying the outcome, the stage and a one-line reason; only
cancellation (Ctrl-C, the run's deadline) propagates, and `interrupt` settles what it leaves.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import fcntl
import socket
import ssl
import struct
import termios
import time
import traceback
from collections.abc import Awaitable
from pathlib import PurePath
from typing import TypeVar

from probe.model.smtp import Direction, Outcome, Reply, Stage, Step, TranscriptLine
from probe.model.status import utcnow
from probe.send.options import ConverseOptions
from probe.smtp import replies
from probe.smtp.text import one_line

T = TypeVar("T")

REASON_CHARS = 300  # a reason, or the text of a reply quoted in it, is cut to this
ACK_POLL = 0.005  # seconds between looks at the socket while waiting for the peer to read
# Linux struct tcp_info up to tcpi_snd_wnd (the peer's advertised receive window, since 5.4)
TCP_INFO_SIZE = 232
READ_SETTLE = 0.2  # seconds a half-open receive window must stay unchanged to count as open
SND_WND_OFFSET = 228


def reason_text(text: object) -> str:
    """Text (a reply's, an exception's) as it may stand in a reason: one line, bounded."""
    return one_line(text, REASON_CHARS)


def raised_at(exc: BaseException, frames: int = 3) -> str:
    """Where `exc` was raised, innermost first (`session.py:120 command < ...`): file names, lines
    and functions only, never values, so no secret can travel in it."""
    stack = traceback.extract_tb(exc.__traceback__)[-frames:]
    return " < ".join(f"{PurePath(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))


def reply_outcome(reply: Reply) -> Outcome:
    if reply.is_temporary:
        return Outcome.TEMP_FAILED
    if reply.is_permanent:
        return Outcome.REJECTED
    return Outcome.OK


@dataclasses.dataclass(frozen=True)
class Started:
    """When a step began: the wall clock it is reported in, the monotonic clock it is timed by."""

    at: dt.datetime
    mono: float

    @classmethod
    def now(cls) -> Started:
        return cls(utcnow(), time.monotonic())

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.mono) * 1000, 3)


@dataclasses.dataclass(frozen=True)
class Ending:
    """How the conversation ended: set once it is known, kept if an interruption follows."""

    outcome: Outcome
    stage: Stage
    reason: str = ""


class Stop(Exception):
    """The conversation ends here (with a polite QUIT first when `quit` is set).

    `garbage` is what the peer sent instead of a reply, kept as evidence (`Reply.valid` False).
    """

    def __init__(
        self,
        outcome: Outcome,
        stage: Stage,
        reason: str,
        *,
        quit: bool = False,
        garbage: Reply | None = None,
    ) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.stage = stage
        self.reason = reason
        self.quit = quit
        self.garbage = garbage

    @property
    def ending(self) -> Ending:
        return Ending(self.outcome, self.stage, self.reason)


class Session:
    """One connection's streams, clock, transcript and steps."""

    def __init__(self, host: str, address: str, options: ConverseOptions) -> None:
        self.host = host
        self.address = address
        self.options = options
        self.started = Started.now()
        self.deadline = self.started.mono + options.deadline
        self.transcript: list[TranscriptLine] = []
        self.steps: list[Step] = []
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.buf = bytearray()
        self.stage = Stage.CONNECT
        self.open_step: tuple[Stage, Started] | None = None  # begun, not yet recorded
        self.ending: Ending | None = None
        self.closed = False
        self.encrypted = False  # the handshake completed: every later line is inside TLS

    # ------------------------------------------------------------------ bookkeeping

    def log(self, direction: Direction, text: str) -> None:
        elapsed = round((time.monotonic() - self.started.mono) * 1000, 3)
        line = TranscriptLine(utcnow(), elapsed, direction, text, self.encrypted)
        self.transcript.append(line)

    def mark(self, name: Stage) -> Started:
        """Start timing step `name` (remembered, so an interruption can still record it)."""
        started = Started.now()
        self.open_step = name, started
        return started

    def add_step(
        self,
        name: Stage,
        started: Started,
        outcome: Outcome,
        reply: Reply | None = None,
        detail: str = "",
    ) -> Step:
        step = Step(name, started.at, started.elapsed_ms(), outcome, reply, detail)
        self.steps.append(step)
        self.open_step = None
        return step

    def elapsed_ms(self) -> float:
        return self.started.elapsed_ms()

    async def bounded(self, awaitable: Awaitable[T], stage: Stage, timeout: float) -> T:
        """Await with the stage timeout (capped by the deadline); I/O errors become `Stop`."""
        left = self.deadline - time.monotonic()
        limit = min(timeout, left)
        if limit <= 0:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise Stop(Outcome.TIMEOUT, stage, "overall deadline reached")
        try:
            async with asyncio.timeout(limit):
                return await awaitable
        except TimeoutError:
            why = "overall deadline reached" if left <= timeout else f"no answer in {limit:g} s"
            raise Stop(Outcome.TIMEOUT, stage, f"{why} (at {stage})") from None
        except ssl.SSLError as exc:
            raise Stop(Outcome.TLS_FAILED, stage, f"TLS error: {reason_text(exc)}") from None
        except ConnectionRefusedError:
            raise Stop(Outcome.REFUSED, stage, "connection refused") from None
        except ConnectionResetError:
            raise Stop(Outcome.RESET, stage, "connection reset by peer") from None
        except (BrokenPipeError, ConnectionAbortedError, EOFError):
            raise Stop(Outcome.DISCONNECTED, stage, "connection closed by peer") from None
        except OSError as exc:  # before a connection exists: no route, no such host...
            outcome = Outcome.UNREACHABLE if stage is Stage.CONNECT else Outcome.RESET
            raise Stop(outcome, stage, f"socket error: {reason_text(exc)}") from None

    # ------------------------------------------------------------------ wire

    async def open(self) -> None:
        """The TCP connection, as the timed `connect` step."""
        target = f"[{self.address}]" if ":" in self.address else self.address
        self.log(Direction.INFO, f"attempting to connect to {target}:{self.options.port}")
        started = self.mark(Stage.CONNECT)
        try:
            self.reader, self.writer = await self.bounded(
                asyncio.open_connection(self.address, self.options.port, limit=2**16),
                Stage.CONNECT,
                self.options.timeouts.connect,
            )
        except Stop as stop:
            self.add_step(Stage.CONNECT, started, stop.outcome, detail=stop.reason)
            raise
        self.add_step(Stage.CONNECT, started, Outcome.OK)
        self.log(Direction.INFO, "connected")

    async def _readline(self) -> bytes:
        assert self.reader is not None
        while True:
            end = self.buf.find(b"\n")
            if 0 <= end < replies.MAX_LINE:
                line = bytes(self.buf[: end + 1])
                del self.buf[: end + 1]
                return line
            if end >= replies.MAX_LINE or len(self.buf) > replies.MAX_LINE:
                head = bytes(self.buf[:200])
                self.log(Direction.SERVER, replies.printable(head) + " [...]")
                self.buf.clear()
                raise Stop(
                    Outcome.GARBAGE,
                    self.stage,
                    f"reply line longer than {replies.MAX_LINE} bytes",
                    garbage=replies.garbage_reply(head),
                )
            chunk = await self.reader.read(4096)
            if not chunk:
                if self.buf:
                    self.log(Direction.SERVER, replies.printable(bytes(self.buf)))
                raise EOFError
            self.buf += chunk

    async def _read_reply(self) -> Reply:
        builder = replies.ReplyBuilder()
        while True:
            raw = await self._readline()
            self.log(Direction.SERVER, replies.printable(raw))
            try:
                if builder.add(raw):
                    return builder.reply()
            except ValueError as exc:
                garbage = replies.garbage_reply(raw)
                raise Stop(Outcome.GARBAGE, self.stage, reason_text(exc), garbage=garbage) from None

    async def read_reply(self, stage: Stage, timeout: float) -> Reply:
        self.stage = stage
        return await self.bounded(self._read_reply(), stage, timeout)

    async def send_line(self, stage: Stage, line: str) -> None:
        assert self.writer is not None
        self.stage = stage
        self.log(Direction.CLIENT, line)
        self.writer.write(line.encode("utf-8") + b"\r\n")
        await self.bounded(self.writer.drain(), stage, self.options.timeouts.command)

    async def write_block(self, stage: Stage, block: bytes, timeout: float) -> None:
        """Bytes that are not a command (the message): written, not logged."""
        assert self.writer is not None
        self.stage = stage
        self.writer.write(block)
        await self.bounded(self.writer.drain(), stage, timeout)

    def tcp_window(self) -> tuple[int, int] | None:
        """(bytes the peer's TCP has not acknowledged, the receive window it advertises), from
        Linux's TCP_INFO (tcpi_unacked is in segments, so SIOCOUTQ gives the bytes); None where
        the platform or the socket cannot say."""
        sock = self.writer.get_extra_info("socket") if self.writer is not None else None
        if sock is None:
            return None
        try:
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
            queued = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
        except (OSError, ValueError, AttributeError):
            return None
        if len(info) < TCP_INFO_SIZE:
            return None  # a kernel before 5.4 does not report the peer's window
        (window,) = struct.unpack_from("I", info, SND_WND_OFFSET)
        return int(struct.unpack("i", queued)[0]), int(window)

    async def peer_read(self, stage: Stage, window: int, timeout: float) -> float | None:
        """Wait (bounded by `timeout` and the deadline) until the peer's TCP has acknowledged
        every byte written and its receive window is open again: back to `window` (what it was
        before the upload), or at least half of it and unchanged for READ_SETTLE seconds, since
        a receiver announces a reopened window only once it has at least doubled (RFC 1122
        4.2.3.3, silly-window avoidance). The milliseconds it took, or None when that cannot be
        seen or did not happen in time."""
        self.stage = stage
        started = time.monotonic()
        limit = min(timeout, self.deadline - started)
        last: tuple[int, float] | None = None  # the window and since when it is unchanged
        while (seen := self.tcp_window()) is not None:
            now = time.monotonic()
            unacked, open_now = seen
            if last is None or last[0] != open_now:
                last = (open_now, now)
            settled = 2 * open_now >= window and now - last[1] >= READ_SETTLE
            if unacked == 0 and (open_now >= window or settled):
                return round((now - started) * 1000, 3)
            if now - started >= limit:
                return None
            await asyncio.sleep(ACK_POLL)
        return None

    async def reply_step(self, name: Stage, timeout: float, line: str | None = None) -> Reply:
        """One timed step: send `line` (a command) when given, then read the reply."""
        started = self.mark(name)
        try:
            if line is not None:
                await self.send_line(name, line)
            reply = await self.read_reply(name, timeout)
        except Stop as stop:
            self.add_step(name, started, stop.outcome, detail=stop.reason)
            raise
        self.add_step(name, started, reply_outcome(reply), reply)
        return reply

    async def command(self, name: Stage, line: str) -> Reply:
        return await self.reply_step(name, self.options.timeouts.command, line)

    async def start_tls(
        self, context: ssl.SSLContext, server_hostname: str | None
    ) -> ssl.SSLObject | None:
        """Switch the stream to TLS. Bytes the peer sent ahead of the handshake are dropped:
        they could be commands injected in clear text."""
        assert self.writer is not None
        if self.buf:
            self.log(Direction.INFO, f"peer sent {len(self.buf)} bytes before TLS (discarded)")
            self.buf.clear()
        self.stage = Stage.STARTTLS
        await self.bounded(
            self.writer.start_tls(context, server_hostname=server_hostname),
            Stage.STARTTLS,
            self.options.timeouts.tls,
        )
        self.encrypted = True
        ssl_object: ssl.SSLObject | None = self.writer.get_extra_info("ssl_object")
        return ssl_object

    # ------------------------------------------------------------------ the end

    async def close(self) -> None:
        if self.writer is None or self.closed:
            return
        self.closed = True
        try:
            self.writer.close()
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()
        except Exception:  # noqa: BLE001 - closing a broken (TLS) stream may fail in any way
            pass
        self.log(Direction.INFO, "connection closed")

    def interrupt(self) -> None:
        """Cancelled: record the step in flight, settle the ending, drop the socket at once.

        Synchronous on purpose: nothing here can be cancelled again half-way. An ending already
        known (cancelled while saying QUIT after a 250 or a 550) stays what it was.
        """
        if self.open_step is not None:
            name, started = self.open_step
            self.add_step(name, started, Outcome.INTERRUPTED, detail="interrupted by probe")
        if self.ending is None:
            why = f"interrupted by probe during {self.stage}"
            self.ending = Ending(Outcome.INTERRUPTED, self.stage, why)
        else:
            self.log(Direction.INFO, f"interrupted by probe during {self.stage}")
        if self.writer is not None:
            self.writer.transport.abort()  # no wait_closed: the task is being cancelled
            if not self.closed:
                self.closed = True
                self.log(Direction.INFO, "connection closed")
