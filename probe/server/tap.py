"""The listener's wiretap on one session: every line that reached it and every line it sent,
verbatim and bounded, and each message's digest (I/O-free bookkeeping for `RecordingSMTP`).

aiosmtpd strips, splits and upper-cases a command before any hook sees it, and never shows an
unknown verb or an over-long line to one; so the tap sits on the stream reader itself
(`TappedReader`), where the bytes are still as the client (or the box before us) sent them.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from probe.model.listener import (
    LINE_KEPT,
    LINES_KEPT,
    MESSAGES_KEPT,
    WIRE_KEPT,
    MessageSeen,
    SessionLine,
    SessionRecord,
    Side,
    message_parts,
)
from probe.model.status import utcnow


def certificate_sha256(cert_file: Path) -> str:
    """The SHA-256 of the leaf certificate (DER) of a PEM chain: what a client that completes
    the handshake with us sees as its fingerprint."""
    pem = Path(cert_file).read_text(encoding="ascii", errors="replace")
    end = "-----END CERTIFICATE-----"
    first = pem[: pem.index(end) + len(end)] if end in pem else pem
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


def _text(raw: bytes) -> str:
    return raw[:LINE_KEPT].rstrip(b"\r\n").decode("utf-8", "backslashreplace")


def _masked(raw: bytes) -> bytes:
    """An AUTH line keeps its verb and mechanism, never the credentials after them."""
    words = raw.split(None, 2)
    if words and words[0].upper() == b"AUTH" and len(words) > 2:
        return words[0] + b" " + words[1] + b" ***"
    return raw


class SessionTap:
    """Collects one session's lines and messages; `record` freezes them."""

    def __init__(
        self,
        server: str,
        peer: tuple[str, int],
        local: tuple[str, int],
        certificate_sha256: str = "",
    ) -> None:
        self.server = server
        self.peer, self.local = peer, local
        self.certificate = certificate_sha256
        self.connected_at = utcnow()
        self.start = time.monotonic()
        self.lines: list[SessionLine] = []
        self.dropped = 0
        self.messages: list[MessageSeen] = []
        self.tls_protocol: str | None = None
        self.tls_cipher: str | None = None
        self.partial = bytearray()  # the kept head of a line not yet ended
        self.partial_octets = 0

    def elapsed_ms(self) -> float:
        return round((time.monotonic() - self.start) * 1000, 3)

    def _add(self, side: Side, raw: bytes, octets: int) -> None:
        if len(self.lines) >= LINES_KEPT:
            self.dropped += 1
            return
        tls = self.tls_protocol is not None
        self.lines.append(SessionLine(self.elapsed_ms(), side, _text(raw), octets, tls))

    def client_bytes(self, data: bytes) -> None:
        """Bytes read from the client outside DATA: a line when they end one."""
        room = LINE_KEPT - len(self.partial)
        if room > 0:
            self.partial += data[:room]
        self.partial_octets += len(data)
        if data.endswith(b"\n"):
            self._add(Side.CLIENT, _masked(bytes(self.partial)), self.partial_octets)
            self.partial.clear()
            self.partial_octets = 0

    def server_line(self, line: str) -> None:
        raw = line.encode("utf-8", "surrogateescape")
        self._add(Side.SERVER, raw, len(raw) + 2)

    def message(
        self,
        mail_from: str,
        rcpts: tuple[str, ...],
        content: bytes | None,
        size: int,
        wire: bytes = b"",
        *,
        chunked: bool = False,
    ) -> None:
        if len(self.messages) >= MESSAGES_KEPT:
            return
        digest = hashlib.sha256(content).hexdigest() if content is not None else ""
        headers, body = message_parts(content) if content is not None else ((), "")
        seen = MessageSeen(
            mail_from,
            rcpts,
            size,
            digest,
            content is not None,
            self.elapsed_ms(),
            headers,
            body,
            wire[:WIRE_KEPT].decode("latin-1"),
            chunked,
        )
        self.messages.append(seen)

    def record(self) -> SessionRecord:
        if self.partial_octets:
            self._add(Side.CLIENT, _masked(bytes(self.partial)), self.partial_octets)
            self.partial.clear()
            self.partial_octets = 0
        return SessionRecord(
            server=self.server,
            peer=self.peer[0],
            peer_port=self.peer[1],
            local=self.local[0],
            local_port=self.local[1],
            connected_at=self.connected_at,
            duration_ms=self.elapsed_ms(),
            tls_protocol=self.tls_protocol,
            tls_cipher=self.tls_cipher,
            tls_certificate_sha256=self.certificate,
            lines=tuple(self.lines),
            lines_dropped=self.dropped,
            messages=tuple(self.messages),
        )


class TappedReader:
    """aiosmtpd's stream reader with every read outside DATA handed to the tap. Attribute
    access (aiosmtpd resets `_transport` and `_buffer` at STARTTLS) goes to the real reader."""

    _inner: asyncio.StreamReader
    _tap: SessionTap
    _in_data: Callable[[], bool]

    def __init__(
        self, reader: asyncio.StreamReader, tap: SessionTap, in_data: Callable[[], bool]
    ) -> None:
        object.__setattr__(self, "_inner", reader)
        object.__setattr__(self, "_tap", tap)
        object.__setattr__(self, "_in_data", in_data)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        data = await self._inner.readuntil(separator)
        if not self._in_data():
            self._tap.client_bytes(data)
        return data

    async def read(self, n: int = -1) -> bytes:
        data = await self._inner.read(n)
        if not self._in_data():
            self._tap.client_bytes(data)
        return data

    async def readline(self) -> bytes:
        """aiosmtpd reads only AUTH's answers with readline: kept as `***`."""
        data = await self._inner.readline()
        self._tap.client_bytes(b"***\r\n" if data.endswith(b"\n") else b"***")
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)
