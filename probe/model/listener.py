"""What `probe listen` saw of one SMTP session, from connect to close: the far end's half of a
firewall test (`probe firewall` joins it with the client's half, `probe.analyze.firewall`).

Every line is kept as it arrived or left (bounded: the first `LINE_KEPT` octets and the full
length), with its time and whether it travelled inside TLS; each message by digest and size.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

SESSION_SCHEMA = "probe.listener-session/1"
LINE_KEPT = 2048  # octets of one line kept verbatim; `octets` says how long it was
LINES_KEPT = 512  # lines of one session kept; `lines_dropped` counts the rest
MESSAGES_KEPT = 32  # messages of one session described


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
