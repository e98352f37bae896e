"""The messages of `probe firewall`'s battery, exact bytes (pure): each names its session
everywhere a box might leave it (sender, Subject, Message-ID, body), and each tests one thing a
box may change: 8bit text, a long line, an attachment, an SMTPUTF8 address, a size.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from probe.model.message import OutgoingMessage

DOMAIN = "probe.invalid"  # names in the battery's envelopes: never deliverable anywhere
LONG_LINE_OCTETS = 998  # RFC 5322's most per line, without CRLF
ATTACHMENT_OCTETS = 3000
SIZES = {"size-100k": 100_000, "size-1m": 1_000_000}  # octets of the filler messages


def _message(
    session_tag: str,
    body: bytes,
    *,
    content_type: str = "text/plain; charset=us-ascii",
    extra: str = "",
    mail_from: str = "",
    needs_8bit: bool = False,
    needs_smtputf8: bool = False,
) -> OutgoingMessage:
    sender = mail_from or f"{session_tag}@{DOMAIN}"
    head = (
        f"From: <{sender}>\r\n"
        f"To: <postmaster@{DOMAIN}>\r\n"
        f"Subject: probe firewall {session_tag}\r\n"
        f"Message-ID: <{session_tag}@{DOMAIN}>\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n"
        f"{extra}"
        "\r\n"
    ).encode()
    text = f"probe firewall test message {session_tag}\r\n".encode("ascii")
    return OutgoingMessage(
        sender,
        (f"postmaster@{DOMAIN}",),
        head + text + body,
        needs_8bit=needs_8bit,
        needs_smtputf8=needs_smtputf8,
    )


def tagged_message(session_tag: str) -> OutgoingMessage:
    """A small plain message (a line that starts with a dot: dot-stuffing must round-trip)."""
    return _message(session_tag, b".a line that starts with a dot\r\n")


def eight_bit(session_tag: str) -> OutgoingMessage:
    body = "Gr\u00fc\u00dfe aus dem Pr\u00fcfstand \u2014 \u2713 \u00e9\u00e8\r\n".encode()
    return _message(
        session_tag,
        body,
        content_type="text/plain; charset=utf-8",
        extra="Content-Transfer-Encoding: 8bit\r\n",
        needs_8bit=True,
    )


def long_lines(session_tag: str) -> OutgoingMessage:
    line = b"L" * LONG_LINE_OCTETS + b"\r\n"
    return _message(session_tag, line + b"short\r\n" + b"M" * 990 + b"\r\n")


def _pseudo_random(octets: int, seed: bytes) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < octets:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:octets])


def attachment(session_tag: str) -> OutgoingMessage:
    """multipart/mixed: a text part and a binary attachment in base64, 76-octet lines."""
    boundary = f"=_{session_tag}"
    data = base64.encodebytes(_pseudo_random(ATTACHMENT_OCTETS, session_tag.encode()))
    encoded = data.replace(b"\n", b"\r\n")
    body = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsee the attachment\r\n"
        f"--{boundary}\r\nContent-Type: application/octet-stream; name=probe.bin\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=probe.bin\r\n\r\n"
    ).encode("ascii")
    body += encoded + f"--{boundary}--\r\n".encode("ascii")
    return _message(session_tag, body, content_type=f'multipart/mixed; boundary="{boundary}"')


def smtputf8(session_tag: str) -> OutgoingMessage:
    """An internationalised sender (the tag kept in ASCII before it) and a UTF-8 Subject."""
    sender = f"{session_tag}-pr\u00fcfer@{DOMAIN}"
    return _message(
        session_tag,
        "UTF-8 \u00fcberall\r\n".encode(),
        content_type="text/plain; charset=utf-8",
        extra="Content-Transfer-Encoding: 8bit\r\n",
        mail_from=sender,
        needs_8bit=True,
        needs_smtputf8=True,
    )


def sized(octets: int) -> Callable[[str], OutgoingMessage]:
    """A plain message of about `octets` octets: numbered 76-octet filler lines."""

    def build(session_tag: str) -> OutgoingMessage:
        lines = (f"{i:08d} " + "x" * 66 + "\r\n" for i in range(max(0, octets // 76)))
        return _message(session_tag, "".join(lines).encode("ascii"))

    return build


# session name -> its message; the battery sends each in a session of its own
CONTENT: dict[str, Callable[[str], OutgoingMessage]] = {
    "8bit": eight_bit,
    "long-lines": long_lines,
    "attachment": attachment,
    "smtputf8": smtputf8,
    **{name: sized(octets) for name, octets in SIZES.items()},
}
