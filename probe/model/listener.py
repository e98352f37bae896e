"""What `probe listen` saw of one SMTP session, from connect to close: the far end's half of a
firewall test (`probe firewall` joins it with the client's half, `probe.analyze.firewall`).

Every line is kept as it arrived or left (bounded: the first `LINE_KEPT` octets and the full
length), with its time and whether it travelled inside TLS; each message by digest and size.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib

SESSION_SCHEMA = "probe.listener-session/1"
LINE_KEPT = 2048  # octets of one line kept verbatim; `octets` says how long it was
LINES_KEPT = 512  # lines of one session kept; `lines_dropped` counts the rest
MESSAGES_KEPT = 32  # messages of one session described
HEADERS_KEPT = 100  # header fields of one message kept verbatim
WIRE_KEPT = 4096  # octets of a message's DATA kept as they arrived (dot-stuffing, line ends)


def message_parts(content: bytes) -> tuple[tuple[str, ...], str]:
    """A message's header fields (folded lines kept inside their field, bounded) and the
    SHA-256 of its body: how both ends of a firewall test describe a message."""
    head, sep, body = content.partition(b"\r\n\r\n")
    if not sep:
        head, body = content, b""
    fields: list[str] = []
    for line in head.split(b"\r\n"):
        text = line.decode("utf-8", "backslashreplace")
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1] + "\r\n" + text)[:LINE_KEPT]
        elif len(fields) < HEADERS_KEPT and line:
            fields.append(text[:LINE_KEPT])
    return tuple(fields), hashlib.sha256(body).hexdigest()


class Side(enum.StrEnum):
    CLIENT = ">"  # a command line that reached the listener
    SERVER = "<"  # a reply line the listener sent


@dataclasses.dataclass(frozen=True)
class SessionLine:
    elapsed_ms: float  # since the connection was accepted
    side: Side
    text: str  # without CRLF, at most LINE_KEPT octets (undecodable bytes escaped)
    octets: int  # the whole line's length with its line ending
    tls: bool = False


@dataclasses.dataclass(frozen=True)
class MessageSeen:
    """One message as it reached the listener (after un-dot-stuffing, before any header of
    ours): its digest and size, or only the size when it was over the limit."""

    mail_from: str
    rcpts: tuple[str, ...]
    size: int
    sha256: str  # "" when the message was not kept (too big, a line too long)
    complete: bool
    elapsed_ms: float  # when its end of data arrived
    headers: tuple[str, ...] = ()  # its header fields as they arrived (HEADERS_KEPT, LINE_KEPT)
    body_sha256: str = ""  # of what follows the header's empty line
    wire: str = ""  # the first WIRE_KEPT octets of DATA as received, latin-1 (byte for byte)
    chunked: bool = False  # sent with BDAT (CHUNKING), not DATA


@dataclasses.dataclass(frozen=True)
class SessionRecord:
    """One connection to the listener, as the listener saw it."""

    server: str  # the listener's host name
    peer: str
    peer_port: int
    local: str
    local_port: int
    connected_at: dt.datetime
    duration_ms: float
    tls_protocol: str | None = None
    tls_cipher: str | None = None
    tls_certificate_sha256: str = ""  # of the certificate the listener offers with STARTTLS
    lines: tuple[SessionLine, ...] = ()
    lines_dropped: int = 0
    messages: tuple[MessageSeen, ...] = ()

    def client_lines(self) -> tuple[SessionLine, ...]:
        return tuple(line for line in self.lines if line.side is Side.CLIENT)
