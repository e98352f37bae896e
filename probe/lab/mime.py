"""Message rewrites that filtering hops perform: subject tags, footers, attachment removal, AV.

Messages are parsed with the compat32 policy and CRLF line ends: that round-trips an unchanged
message byte for byte, so a rewrite changes only what the simulated product would change.
"""

from __future__ import annotations

import base64
import codecs
import email
import email.policy
import io
import quopri
import re
import zipfile
from collections.abc import Iterator
from email.generator import BytesGenerator
from email.message import Message

from probe.plan.content import EICAR

POLICY = email.policy.compat32.clone(linesep="\r\n")
MAX_ZIP_DEPTH = 3


def parse(data: bytes) -> Message:
    return email.message_from_bytes(data, policy=POLICY)


def flatten(message: Message) -> bytes:
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, maxheaderlen=0, policy=POLICY).flatten(message)
    return out.getvalue()


def prepend_header(data: bytes, name: str, value: str) -> bytes:
    """A header line on top, as MTAs and proxies add theirs."""
    return f"{name}: {value}\r\n".encode("utf-8", "surrogateescape") + data


def _header_end(data: bytes) -> int:
    end = data.find(b"\r\n\r\n")
    return len(data) if end < 0 else end + 2


def tag_subject(data: bytes, tag: str) -> bytes:
    """Prefix the Subject (add one when there is none), touching no other byte."""
    end = _header_end(data)
    head, body = data[:end], data[end:]
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines):
        if line[:8].lower() == b"subject:":
            value = line[8:].lstrip(b" ")
            lines[i] = b"Subject: " + tag.encode() + value
            return b"\r\n".join(lines) + body
    return head + b"Subject: " + tag.strip().encode() + b"\r\n" + body


def _first_text_part(message: Message) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            return part
    return None


def _crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def _encodable(charset: str) -> str:
    try:
        codecs.lookup(charset)
    except LookupError:
        return "us-ascii"
    return charset


def add_footer(data: bytes, footer: str) -> bytes:
    """Append `footer` to the first text/plain part, in that part's charset and transfer encoding.

    The part's bytes are handled as bytes: an 8bit body (UTF-8 sent with BODY=8BITMIME) keeps
    every octet, since compat32 writes a payload carrying surrogate escapes back unchanged.
    """
    message = parse(data)
    part = _first_text_part(message)
    if part is None:
        return data
    encoding = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    charset = _encodable(part.get_content_charset() or "us-ascii")
    addition = b"\r\n" + _crlf(footer.encode(charset, "replace")) + b"\r\n"
    text = _decoded(part).rstrip(b"\r\n") + b"\r\n" + addition
    if encoding == "base64":
        text = _crlf(base64.encodebytes(text))
    elif encoding == "quoted-printable":
        text = _crlf(quopri.encodestring(text))
    part.set_payload(text.decode("ascii", "surrogateescape"))
    return flatten(message)


def _decoded(part: Message) -> bytes:
    body = part.get_payload(decode=True)
    return body if isinstance(body, bytes) else b""


def _zip_members(blob: bytes, depth: int = 0) -> Iterator[tuple[str, bytes]]:
    """(name, content) of every member, recursing into nested ZIPs; garbage yields nothing."""
    if depth >= MAX_ZIP_DEPTH or not blob.startswith(b"PK"):
        return
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            for info in archive.infolist()[:1000]:
                if info.file_size > 50_000_000:
                    continue
                content = archive.read(info)
                yield info.filename, content
                yield from _zip_members(content, depth + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
        return


def find_eicar(data: bytes) -> bool:
    """The EICAR string anywhere: raw, in any decoded MIME part, or inside a ZIP attachment."""
    if EICAR in data:
        return True
    for part in parse(data).walk():
        if part.is_multipart():
            continue
        body = _decoded(part)
        if EICAR in body or any(EICAR in content for _, content in _zip_members(body)):
            return True
    return False


def strip_attachments(
    data: bytes, suffixes: tuple[str, ...], note: str
) -> tuple[bytes, tuple[str, ...]]:
    """Replace every part whose filename ends in one of `suffixes` with a text/plain notice."""
    message = parse(data)
    removed: list[str] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if not name or not name.lower().endswith(suffixes):
            continue
        removed.append(name)
        for header in ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition"):
            del part[header]
        part["Content-Type"] = 'text/plain; charset="us-ascii"'
        part["Content-Transfer-Encoding"] = "7bit"
        part.set_payload(note.format(name=name) + "\r\n")
    if not removed:
        return data, ()
    return flatten(message), tuple(removed)
