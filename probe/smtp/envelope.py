"""The envelope side of a transaction: MAIL/RCPT parameters and DATA content. Pure.

Parameters follow the EHLO capabilities (RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8,
RFC 3461 DSN); DATA content is dot-stuffed block by block (RFC 5321 4.5.2) so a 100 MB message
is never copied whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from probe.smtp import replies

CHUNK = 65536  # message bytes per block while uploading


class MessageNeeds(Protocol):
    """What the parameters depend on (`probe.model.message.OutgoingMessage` has it)."""

    @property
    def data(self) -> bytes: ...
    @property
    def declare_size(self) -> bool: ...
    @property
    def dsn_envid(self) -> str | None: ...
    @property
    def needs_8bit(self) -> bool: ...
    @property
    def needs_smtputf8(self) -> bool: ...


def xtext(value: str) -> str:
    """RFC 3461 xtext: printable ASCII except '+' and '=' as is, everything else as +HH."""
    return "".join(
        ch if 33 <= ord(ch) <= 126 and ch not in "+=" else f"+{ord(ch):02X}"
        for ch in value.encode("utf-8").decode("latin-1")
    )


def dot_stuffed(data: bytes, chunk: int = CHUNK) -> Iterator[bytes]:
    """The message as DATA content: leading dots doubled, a final CRLF ensured, then `.CRLF`.

    Works block by block so a 100 MB message is never copied whole.
    """
    at_line_start = True
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        block = bytes(view[start : start + chunk])
        stuffed = block.replace(b"\n.", b"\n..")
        if at_line_start and block.startswith(b"."):
            stuffed = b"." + stuffed
        at_line_start = block.endswith(b"\n")
        yield stuffed
    if data and not data.endswith(b"\r\n"):
        yield b"\r\n"
    yield b".\r\n"


def envelope_params(caps: Sequence[str], message: MessageNeeds) -> tuple[list[str], list[str]]:
    """MAIL FROM and RCPT TO parameters the capabilities allow (RFC 1870, 6152, 6531, 3461)."""
    mail: list[str] = []
    rcpt: list[str] = []
    if message.declare_size and replies.capability(caps, "SIZE") is not None:
        mail.append(f"SIZE={len(message.data)}")
    if message.needs_8bit:
        mail.append("BODY=8BITMIME")
    if message.needs_smtputf8:
        mail.append("SMTPUTF8")
    if replies.capability(caps, "DSN") is not None:
        mail.append("RET=HDRS")
        if message.dsn_envid:
            mail.append(f"ENVID={xtext(message.dsn_envid)}")
        rcpt.append("NOTIFY=FAILURE,DELAY")
    return mail, rcpt
