"""imaplib with bounds on what the server may send: the connection classes `Imap`, `ImapSSL`.

imaplib reads a reply for as long as the server keeps sending, one recv at a time under the
socket timeout: a server that trickles a byte every few seconds, announces a literal of
99,999,999,999 bytes or streams untagged lines forever holds the collection (and its memory)
hostage. Here every reply (what follows one command) has a budget: a deadline that each recv
waits at most the rest of, and `REPLY_MAX` bytes; a literal over `LITERAL_MAX` is refused
before a byte of it is read, naming its size; capabilities outside ASCII are read without
failing. Crossing a bound raises `imaplib.IMAP4.abort`, which the session turns into a
one-line MailboxError.
"""

from __future__ import annotations

import imaplib
import io
import math
import socket
import time
from typing import TYPE_CHECKING, Any, Final

from probe.collect import imap_parse as parse
from probe.collect.base import MESSAGE_MAX

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

LITERAL_MAX: Final = MESSAGE_MAX  # the largest message (or other literal) probe reads
REPLY_MAX: Final = 512 * 1024 * 1024  # what one command's reply may take in all
BUDGET_MIN = 60.0  # seconds a reply may take at least (4 socket timeouts if that is more)
LINE_MAX: Final = 1_000_000  # imaplib's own limit for one line


def budget_for(timeout: float) -> float:
    return max(BUDGET_MIN, 4 * timeout)


class _Raw(io.RawIOBase):
    """The socket under the reply's deadline: each recv waits at most what is left of it."""

    def __init__(self, conn: _Bounded, sock: socket.socket) -> None:
        super().__init__()
        self._conn = conn
        self._sock = sock
        self._timeout = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        left = self._conn.deadline - time.monotonic()
        if left <= 0:
            raise imaplib.IMAP4.abort(f"no complete reply within {self._conn.budget:g} s")
        self._sock.settimeout(left if self._timeout is None else min(self._timeout, left))
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            if time.monotonic() < self._conn.deadline:
                raise  # the socket's own timeout: the server went quiet
            raise imaplib.IMAP4.abort(f"no complete reply within {self._conn.budget:g} s") from None
        finally:
            self._sock.settimeout(self._timeout)


class _Bounded:
    """The bounds, mixed into imaplib's IMAP4 and IMAP4_SSL; see the module docstring."""

    sock: socket.socket
    _spent = 0
    deadline = math.inf
    budget = BUDGET_MIN
    _buffered: io.BufferedReader | None = None
    _buffered_for: socket.socket | None = None

    def __init__(self, *args: Any, budget: float, **kwargs: Any) -> None:
        self.budget = budget
        self.restart_budget()
        super().__init__(*args, **kwargs)

    def restart_budget(self) -> None:
        """A new command (or a new wait in IDLE): its reply gets the whole budget again."""
        self._spent = 0
        self.deadline = time.monotonic() + self.budget

    @property
    def replies(self) -> io.BufferedReader:
        """The buffered reader of the current socket (a new one after STARTTLS, so nothing
        the server sent before the handshake is read as if it came after)."""
        if self._buffered is None or self._buffered_for is not self.sock:
            self._buffered = io.BufferedReader(_Raw(self, self.sock))
            self._buffered_for = self.sock
        return self._buffered

    def _spend(self, n: int) -> None:
        self._spent += n
        if self._spent > REPLY_MAX:
            raise imaplib.IMAP4.abort(f"a reply of more than {REPLY_MAX:,} bytes")

    def readline(self) -> bytes:
        line = self.replies.readline(LINE_MAX + 1)
        if len(line) > LINE_MAX:
            raise imaplib.IMAP4.error(f"got more than {LINE_MAX} bytes")
        self._spend(len(line))
        size = parse.announced_literal(line)
        if size is not None and size > LITERAL_MAX:
            raise imaplib.IMAP4.abort(_too_large(size))
        return line

    def read(self, size: int) -> bytes:
        if size > LITERAL_MAX:
            raise imaplib.IMAP4.abort(_too_large(size))
        data = self.replies.read(size)
        self._spend(len(data))
        return data

    def send(self, data: ReadableBuffer) -> None:
        self.restart_budget()
        super().send(data)  # type: ignore[misc]

    def _get_capabilities(self) -> None:
        typ, dat = self.capability()  # type: ignore[attr-defined]
        if dat == [None]:
            raise imaplib.IMAP4.error("no CAPABILITY response from server")
        self.capabilities = tuple(sorted(parse.capabilities(dat)))


def _too_large(size: int) -> str:
    shown = f"{size:,} bytes" if size < 10**20 else "more than 20 digits"
    return f"the server announced a literal of {shown}, over the {LITERAL_MAX:,} probe reads"


class Imap(_Bounded, imaplib.IMAP4):
    """imaplib.IMAP4 with bounded replies."""


class ImapSSL(_Bounded, imaplib.IMAP4_SSL):
    """imaplib.IMAP4_SSL with bounded replies."""


Connection = Imap | ImapSSL


def fresh_budget(conn: imaplib.IMAP4) -> None:
    """Give the next reply on `conn` the whole budget again (IDLE waits longer than a reply)."""
    if isinstance(conn, _Bounded):
        conn.restart_budget()
