"""Contents of crafted MIME parts: deterministic, incompressible, produced in blocks.

Every content knows its decoded length for a padding amount `n` without building it, so `craft`
can solve for an exact message size first and build each part once, in blocks of about 1 MB
(a 100 MB message never exists as more than a handful of full-size copies). Random data comes
from SHAKE-256 keyed by the probe id and part (`seed_for`), so the same probe id gives
the same bytes and a compressing proxy cannot shrink the padding. The fixed payloads (an MZ
header, the EICAR test file) live here too.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator

# 64 printable characters without "=" and space, so padding text is its own quoted-printable
# encoding and can never contain a multipart boundary (ours start with "=_").
ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TO_ALPHABET = bytes(ALPHABET[i & 63] for i in range(256))
LINE = 76  # characters per padding line (and per base64 line)
_TEXT_BLOCK_LINES = 13_443  # ~1 MB of padding text per block
RANDOM_BLOCK = 57 * 18_396  # ~1 MB, a multiple of 57 so base64 blocks end on a full line


# --------------------------------------------------------------------------- random data


def random_bytes(seed: bytes, n: int) -> Iterator[bytes]:
    """`n` incompressible bytes in blocks; block i is SHAKE-256(seed, i)."""
    for index, start in enumerate(range(0, n, RANDOM_BLOCK)):
        size = min(RANDOM_BLOCK, n - start)
        yield hashlib.shake_256(seed + index.to_bytes(8, "big")).digest(size)


def random_text(seed: bytes, n: int) -> bytes:
    """`n` random characters of ALPHABET (small amounts: fill values, long lines)."""
    return hashlib.shake_256(b"text:" + seed).digest(n).translate(_TO_ALPHABET)


def _lines(chars: bytes, lengths: Iterable[int]) -> bytes:
    out = []
    pos = 0
    for length in lengths:
        out.append(chars[pos : pos + length])
        pos += length
    out.append(b"")
    return b"\r\n".join(out)


def ascii_text(seed: bytes, n: int) -> Iterator[bytes]:
    """Exactly `n` bytes of random text lines (<= 76 characters + CRLF).

    For n >= 2 the text ends with CRLF; n == 1 is a single character.
    """
    full, rest = divmod(n, LINE + 2)
    tail: list[int] = []
    fragment = 0
    if rest == 1:
        if full:
            full -= 1
            tail = [38, 37]  # two lines of 79 bytes together
        else:
            fragment = 1
    elif rest >= 2:
        tail = [rest - 2]
    index = 0
    for start in range(0, full, _TEXT_BLOCK_LINES):
        count = min(_TEXT_BLOCK_LINES, full - start)
        raw = hashlib.shake_256(seed + index.to_bytes(8, "big")).digest(count * LINE)
        yield _lines(raw.translate(_TO_ALPHABET), [LINE] * count)
        index += 1
    if tail or fragment:
        chars = random_text(seed + b":tail", sum(tail) + fragment)
        yield _lines(chars, tail) + chars[len(chars) - fragment :]


# --------------------------------------------------------------------------- encoders


def base64_length(n: int) -> int:
    """Length of `n` bytes in base64 lines of 76 characters, each ending in CRLF."""
    chars = 4 * ((n + 2) // 3)
    return chars + 2 * ((chars + LINE - 1) // LINE)


def _base64_lines(data: bytes | memoryview) -> bytes:
    enc = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([enc[i : i + LINE] for i in range(0, len(enc), LINE)] + [b""])


def base64_blocks(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Base64 of a stream of blocks, as CRLF lines of 76 characters."""
    carry = b""
    for block in blocks:
        if carry:
            block = carry + block
        cut = len(block) - len(block) % 57
        carry = block[cut:]
        if cut:
            yield _base64_lines(memoryview(block)[:cut])
    if carry:
        yield _base64_lines(carry)


def qp_text(text: bytes) -> bytes:
    """Quoted-printable of CRLF text: hard breaks stay CRLF, soft breaks are `=` CRLF."""
    lines = text.split(b"\r\n")
    encoded = [binascii.b2a_qp(line).replace(b"=\n", b"=\r\n") for line in lines]
    return b"\r\n".join(encoded)


# --------------------------------------------------------------------------- contents


class Content:
    """Decoded content of one part: `head` (fixed) followed by `n` bytes of padding.

    `blocks(n)` yields the head as its first block; contents usable with quoted-printable keep
    everything after the head QP-safe (see ALPHABET), so only the head needs encoding.
    """

    paddable = True
    qp_ok = False

    def length(self, n: int) -> int:
        raise NotImplementedError

    def blocks(self, n: int) -> Iterator[bytes]:
        raise NotImplementedError

    def valid(self, n: int) -> bool:
        return n >= 0


class TextContent(Content):
    """A fixed head (CRLF text) followed by random text lines; with `whole_lines`, n != 1 so
    the text always ends with CRLF."""

    qp_ok = True

    def __init__(self, head: bytes, seed: bytes, *, whole_lines: bool = False) -> None:
        self.head = head
        self.seed = seed
        self.whole_lines = whole_lines

    def length(self, n: int) -> int:
        return len(self.head) + n

    def qp_length(self, n: int) -> int:
        return len(qp_text(self.head)) + n

    def blocks(self, n: int) -> Iterator[bytes]:
        yield self.head
        yield from ascii_text(self.seed, n)

    def valid(self, n: int) -> bool:
        return n >= 0 and not (self.whole_lines and n == 1)


class BinaryContent(Content):
    """A fixed prefix (e.g. an MZ header) followed by random bytes."""

    def __init__(self, prefix: bytes, seed: bytes) -> None:
        self.prefix = prefix
        self.seed = seed

    def length(self, n: int) -> int:
        return len(self.prefix) + n

    def blocks(self, n: int) -> Iterator[bytes]:
        yield self.prefix
        yield from random_bytes(self.seed, n)


class FixedContent(Content):
    paddable = False

    def __init__(self, data: bytes) -> None:
        self.data = data

    def length(self, n: int) -> int:
        return len(self.data)

    def blocks(self, n: int) -> Iterator[bytes]:
        yield self.data

    def valid(self, n: int) -> bool:
        return n == 0


class ZipContent(Content):
    """A ZIP (stored, so the random member stays incompressible) holding one member."""

    def __init__(self, member: BinaryContent, name: str, date: dt.datetime) -> None:
        self.member = member
        self.name = name
        self.date_time = _zip_date(date)

    def length(self, n: int) -> int:
        return _zip_overhead(self.name, self.date_time) + self.member.length(n)

    def blocks(self, n: int) -> Iterator[bytes]:
        buf = _zip_bytes(self.name, self.date_time, self.member.blocks(n))
        view = buf.getbuffer()
        for start in range(0, len(view), RANDOM_BLOCK):
            yield bytes(view[start : start + RANDOM_BLOCK])
        view.release()


def _zip_date(date: dt.datetime) -> tuple[int, int, int, int, int, int]:
    date = max(date.replace(tzinfo=None), dt.datetime(1980, 1, 1))
    return (date.year, date.month, date.day, date.hour, date.minute, date.second)


def _zip_bytes(
    name: str, date_time: tuple[int, int, int, int, int, int], blocks: Iterable[bytes]
) -> io.BytesIO:
    info = zipfile.ZipInfo(name, date_time)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever platform builds it: same bytes everywhere
    info.external_attr = 0o644 << 16
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        with archive.open(info, "w") as member:
            for block in blocks:
                member.write(block)
    return buf


@functools.lru_cache(maxsize=32)
def _zip_overhead(name: str, date_time: tuple[int, int, int, int, int, int]) -> int:
    return len(_zip_bytes(name, date_time, ()).getvalue())


class PdfContent(Content):
    """A minimal valid PDF 1.4 (one page of text) whose padding is an unreferenced stream."""

    def __init__(self, seed: bytes, title: str) -> None:
        self.seed = seed
        self.page = f"BT /F1 14 Tf 72 720 Td ({_pdf_escape(title)}) Tj ET".encode("latin-1")

    def _frame(self, n: int) -> tuple[bytes, bytes]:
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(self.page), self.page),
        ]
        head = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(head))
            head += b"%d 0 obj\n%s\nendobj\n" % (number, body)
        offsets.append(len(head))
        # Whitespace makes up for the digits of the two numbers that grow with n, so the
        # length is exactly linear in n and any size can be met.
        head += b"6 0 obj\n<< /Length %d >>%s\nstream\n" % (n, b" " * (12 - len(str(n))))
        tail = bytearray(b"\nendstream\nendobj\n")
        xref = len(head) + n + len(tail)
        tail += b"xref\n0 7\n0000000000 65535 f \n"
        tail += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        tail += b"trailer\n<< /Size 7 /Root 1 0 R >>\n" + b" " * (12 - len(str(xref)))
        tail += b"startxref\n%d\n%%%%EOF\n" % xref
        return bytes(head), bytes(tail)

    def length(self, n: int) -> int:
        head, tail = self._frame(0)
        return len(head) + n + len(tail)

    def blocks(self, n: int) -> Iterator[bytes]:
        head, tail = self._frame(n)
        yield head
        yield from random_bytes(self.seed, n)
        yield tail


def _pdf_escape(text: str) -> str:
    safe = text.encode("ascii", "replace").decode("ascii")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

def seed_for(probe_id: str, path: str) -> bytes:
    """The random seed of one part (or other padding) of one probe's message."""
    return hashlib.sha256(f"probe-padding\0{probe_id}\0{path}".encode()).digest()


# An MZ (DOS) header whose e_lfanew points at a PE signature and an empty x86-64 COFF header:
# enough for every scanner's file-type detection, not a runnable program.
_DOS_STUB = b"This program cannot be run in DOS mode.\r\r\n$"
MZ_HEADER = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\xb8" + bytes(7) + b"\x40" + bytes(35) + (0x80).to_bytes(4, "little")
    + (b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21" + _DOS_STUB).ljust(64, b"\0")
    + b"PE\0\0" + (0x8664).to_bytes(2, "little") + bytes(16) + (0x22).to_bytes(2, "little")
)  # fmt: skip


# The 68-byte EICAR anti-virus test file (the lab's scanner looks for it too), assembled at import
# so that no source file carries the signature whole.
_EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}", "$EICAR-STANDARD-", "ANTIVIRUS-TEST-", "FILE!$H+H*")
EICAR = "".join(_EICAR).encode("ascii")
