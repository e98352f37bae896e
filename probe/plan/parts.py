"""The MIME parts of a crafted message: what each attachment kind is, and its part with headers.

`KINDS` is the registry of attachment kinds (content type, usual filename, allowed transfer
encodings); `content_for` says what each kind's body is made of (`probe.plan.content`); a `Part`
renders one body in its transfer encoding and records its `PartManifest` entries. Long or
non-ASCII filenames use RFC 2231 continuations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import urllib.parse
from collections.abc import Iterator
from email.utils import format_datetime

from probe.model.message import PartManifest
from probe.model.variant import AttachmentKind, AttachmentSpec, Encoding
from probe.plan.content import (
    EICAR,
    MZ_HEADER,
    BinaryContent,
    Content,
    FixedContent,
    PdfContent,
    TextContent,
    ZipContent,
    base64_blocks,
    base64_length,
    qp_text,
    seed_for,
)

LONG_FILENAME = (
    "Überlänge-Prüfbericht-äöüß-Ωμέγα-日本語のファイル名-" * 4 + "sehr-langer-Dateiname.txt"
)


@dataclasses.dataclass(frozen=True)
class KindInfo:
    content_type: str
    filename: str
    encodings: tuple[Encoding, ...]  # allowed; the first is the default


_B64 = (Encoding.BASE64,)
_TEXTUAL = (Encoding.SEVEN_BIT, Encoding.QUOTED_PRINTABLE, Encoding.BASE64, Encoding.EIGHT_BIT)
KINDS: dict[AttachmentKind, KindInfo] = {
    AttachmentKind.TEXT: KindInfo("text/plain", "notes.txt", _TEXTUAL),
    AttachmentKind.BINARY: KindInfo("application/octet-stream", "random.bin", _B64),
    AttachmentKind.ZIP: KindInfo("application/zip", "archive.zip", _B64),
    AttachmentKind.ZIP_EXE: KindInfo("application/zip", "setup.zip", _B64),
    AttachmentKind.EXE: KindInfo("application/x-msdownload", "setup.exe", _B64),
    AttachmentKind.PDF: KindInfo("application/pdf", "document.pdf", _B64),
    AttachmentKind.RFC822: KindInfo("message/rfc822", "forwarded.eml", _TEXTUAL[::3]),
    AttachmentKind.LONGNAME: KindInfo("application/octet-stream", LONG_FILENAME, _B64),
    AttachmentKind.EICAR: KindInfo("application/octet-stream", "eicar.com", _B64),
}
DEFAULT_PAYLOAD = 2048  # random bytes in an attachment whose size is not given


@dataclasses.dataclass
class Part:
    """One MIME part with a body: its header lines, content, encoding and padding amount."""

    path: str  # like IMAP part numbers; "0" for the body of a single-part message
    headers: bytes  # rendered MIME header lines, each ending in CRLF
    content: Content
    encoding: Encoding
    n: int  # padding amount; solved by craft when this part carries the padding
    content_type: str
    charset: str | None = None
    filename: str | None = None
    disposition: str | None = None
    child: tuple[str, int] | None = None  # a nested text body: (path, offset in the content)

    def encoded_length(self, n: int) -> int:
        if self.encoding is Encoding.BASE64:
            return base64_length(self.content.length(n))
        if self.encoding is Encoding.QUOTED_PRINTABLE:
            assert isinstance(self.content, TextContent)
            return self.content.qp_length(n)
        return self.content.length(n)

    def render(self, manifest: list[PartManifest]) -> Iterator[bytes]:
        """Encoded body blocks; appends this part's manifest entries once exhausted."""
        whole, inner = hashlib.sha256(), hashlib.sha256()
        seen = 0
        skip = self.child[1] if self.child else 0

        def decoded() -> Iterator[bytes]:
            nonlocal seen
            for block in self.content.blocks(self.n):
                whole.update(block)
                if self.child and seen + len(block) > skip:
                    inner.update(memoryview(block)[max(0, skip - seen) :])
                seen += len(block)
                yield block

        if self.encoding is Encoding.BASE64:
            yield from base64_blocks(decoded())
        elif self.encoding is Encoding.QUOTED_PRINTABLE:
            blocks = decoded()
            yield qp_text(next(blocks))  # the head; the rest is QP-safe text
            yield from blocks
        else:
            yield from decoded()
        manifest.append(
            PartManifest(
                self.path, self.content_type, self.charset, str(self.encoding), self.filename,
                self.disposition, whole.hexdigest(), seen,
            )
        )  # fmt: skip
        if self.child:
            digest = inner.hexdigest()
            path = self.child[0]
            manifest.append(
                PartManifest(
                    path, "text/plain", "us-ascii", "7bit", None, None, digest, seen - skip
                )
            )


def header(name: str, value: str) -> bytes:
    return f"{name}: {value}\r\n".encode()


def content_for(att: AttachmentSpec, seed: bytes, probe_id: str, date: dt.datetime) -> Content:
    kind = att.kind
    if kind is AttachmentKind.TEXT:
        return TextContent(b"", seed)
    if kind in (AttachmentKind.BINARY, AttachmentKind.LONGNAME):
        return BinaryContent(b"", seed)
    if kind is AttachmentKind.EXE:
        return BinaryContent(MZ_HEADER, seed)
    if kind is AttachmentKind.ZIP:
        return ZipContent(BinaryContent(b"", seed), "data.bin", date)
    if kind is AttachmentKind.ZIP_EXE:
        return ZipContent(BinaryContent(MZ_HEADER, seed), "setup.exe", date)
    if kind is AttachmentKind.PDF:
        return PdfContent(seed, f"probe test document {probe_id}")
    if kind is AttachmentKind.RFC822:
        return TextContent(_nested_head(probe_id, date), seed)
    return FixedContent(EICAR)


def _nested_head(probe_id: str, date: dt.datetime) -> bytes:
    lines = [
        "From: <nested@probe.invalid>",
        "To: <nested@probe.invalid>",
        f"Subject: [probe {probe_id}] nested message",
        f"Date: {format_datetime(date)}",
        f"Message-ID: <nested.{probe_id}@probe.invalid>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "Content-Transfer-Encoding: 7bit",
        "",
        "This message is attached to a probe test message.",
        "",
    ]
    return "\r\n".join(lines).encode() + b"\r\n"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def filename_params(filename: str) -> tuple[str, str]:
    """(Content-Type name parameter, Content-Disposition parameters) for a filename; long or
    non-ASCII names use RFC 2231 `filename*0*=utf-8''...` continuations of <= 60 characters."""
    if filename.isascii() and len(filename) <= 60:
        return f"; name={_quote(filename)}", f"; filename={_quote(filename)}"
    pieces = [""]
    for char in filename:  # continuations of <= 60 characters, never splitting a character
        quoted = urllib.parse.quote(char, safe="")
        if len(pieces[-1]) + len(quoted) > 60:
            pieces.append("")
        pieces[-1] += quoted
    charset = "utf-8''"
    params = "".join(
        f";\r\n filename*{i}*={charset if i == 0 else ''}{piece}" for i, piece in enumerate(pieces)
    )
    return "", params


def attachment_part(index: int, att: AttachmentSpec, probe_id: str, date: dt.datetime) -> Part:
    """The MIME part of the index-th attachment (part number index + 2; the text is 1)."""
    path = str(index + 2)
    kind = KINDS[att.kind]
    encoding = att.encoding or kind.encodings[0]
    filename = att.filename or kind.filename
    content = content_for(att, seed_for(probe_id, path), probe_id, date)
    name_param, disposition_params = filename_params(filename)
    charset = "us-ascii" if att.kind is AttachmentKind.TEXT else None
    ctype = kind.content_type + (f"; charset={charset}" if charset else "")
    headers = (
        header("Content-Type", ctype + name_param)
        + header("Content-Transfer-Encoding", str(encoding))
        + header("Content-Disposition", "attachment" + disposition_params)
    )
    n = DEFAULT_PAYLOAD if content.paddable else 0
    if att.size is not None:
        n = att.size - content.length(0)
    child = None
    if isinstance(content, TextContent) and att.kind is AttachmentKind.RFC822:
        child = (f"{path}.1", content.head.index(b"\r\n\r\n") + 4)
    return Part(
        path, headers, content, encoding, n, kind.content_type, charset, filename, "attachment",
        child,
    )  # fmt: skip
