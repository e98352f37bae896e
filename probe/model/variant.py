"""One test message of a run's matrix, as data: what a profile asks for and a run stores.

`probe.plan` validates and crafts it; `probe.decide` reads what was expected of it; a saved run
keeps the specs so `probe analyze` can craft the same bytes again.
"""

from __future__ import annotations

import dataclasses
import enum


class Encoding(enum.StrEnum):
    SEVEN_BIT = "7bit"
    EIGHT_BIT = "8bit"
    QUOTED_PRINTABLE = "quoted-printable"
    BASE64 = "base64"


class AttachmentKind(enum.StrEnum):
    TEXT = "text"  # text/plain
    BINARY = "binary"  # application/octet-stream, random
    ZIP = "zip"  # stored ZIP of random data
    ZIP_EXE = "zip-exe"  # ZIP holding setup.exe
    EXE = "exe"  # setup.exe starting with an MZ header
    PDF = "pdf"  # minimal valid PDF 1.4
    RFC822 = "rfc822"  # nested message/rfc822
    LONGNAME = "longname"  # very long non-ASCII filename (RFC 2231 continuations)
    EICAR = "eicar"  # the EICAR anti-virus test file: exists to trigger scanners


@dataclasses.dataclass(frozen=True)
class AttachmentSpec:
    kind: AttachmentKind
    size: int | None = None  # exact decoded bytes; None: a small default, or the padding
    filename: str | None = None  # None: the kind's usual name
    encoding: Encoding | None = None  # None: the kind's usual transfer encoding


class Expect(enum.StrEnum):
    """What a healthy path does with the variant (for the decide stage)."""

    DELIVER = "deliver"  # must arrive; a rejection is a finding
    REJECT_OK = "reject-ok"  # a rejection is acceptable (EICAR, SIZE+1, 101 recipients)


class SizeBase(enum.StrEnum):
    ADVERTISED = "advertised"  # the SIZE hop 1 advertises in EHLO, known only at run time


@dataclasses.dataclass(frozen=True)
class VariantSpec:
    """One test message of the matrix, as data."""

    id: str
    description: str
    size: int | None = None  # exact total bytes, or None for the natural size
    size_relative: SizeBase | None = None  # size = advertised SIZE + size_offset (run time)
    size_offset: int = 0
    attachments: tuple[AttachmentSpec, ...] = ()
    encoding: Encoding = Encoding.SEVEN_BIT  # of the body text
    charset: str | None = None  # None: us-ascii for 7bit, utf-8 otherwise
    line_length: int | None = None  # one body line of exactly this many octets (before CRLF)
    allow_long_lines: bool = False  # opt-in for line_length > 998
    smtputf8: bool = False  # UTF-8 sender local part and raw UTF-8 headers
    recipients: int = 1  # > 1: subaddresses local+1@domain ... of the first recipient
    received_headers: int = 0  # synthetic Received headers already on the message
    declare_size: bool = True  # MAIL FROM SIZE= when the server offers SIZE
    headers: tuple[tuple[str, str], ...] = ()  # extra headers
    expect: Expect = Expect.DELIVER
    # Timing (a profile's [timing] table): seconds the final dot is held once the hop has read
    # every byte, so the wait after it is what the hop does with the message, not its reading;
    # and the variant this one repeats (the same message again, one more measurement per size).
    hold: float = 0.0
    repeat_of: str | None = None

    @property
    def eicar(self) -> bool:
        return any(a.kind is AttachmentKind.EICAR for a in self.attachments)

    @property
    def body_charset(self) -> str:
        if self.charset:
            return self.charset
        return "us-ascii" if self.encoding is Encoding.SEVEN_BIT else "utf-8"
