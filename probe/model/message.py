"""What was sent (probe ids, the manifest of a crafted message) and what was delivered."""

from __future__ import annotations

import dataclasses
import datetime as dt

# A probe id is `<run id>.<variant id>`; the run id is `YYYYMMDDTHHMMSS-<6 hex>` (UTC).
# It is placed in Message-ID, X-Probe-Id, Subject and body so copies and bounces can be matched.
RUN_ID_PATTERN = r"\d{8}T\d{6}-[0-9a-f]{6}"


PROBE_ID_PATTERN = RUN_ID_PATTERN + r"\.[a-z0-9][a-z0-9-]*"


@dataclasses.dataclass(frozen=True)
class PartManifest:
    """One MIME part of a crafted message, as the diff needs it."""

    path: str  # "0" for the root, "1", "1.2", ... like IMAP part numbers
    content_type: str
    charset: str | None = None
    transfer_encoding: str | None = None
    filename: str | None = None
    disposition: str | None = None
    decoded_sha256: str = ""
    decoded_size: int = 0


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What was sent, so the delivered copy can be compared part by part."""

    probe_id: str
    variant: str
    size: int  # exact bytes of the message as sent (CRLF, before dot-stuffing)
    message_id: str
    subject: str
    header_names: tuple[str, ...] = ()
    parts: tuple[PartManifest, ...] = ()
    header_sha256: str = ""  # of the header block as sent ("": saved before it was recorded)


@dataclasses.dataclass(frozen=True)
class OutgoingMessage:
    """One message ready for SMTP, as the plan stage crafts it and the send stage sends it: the
    envelope, the exact bytes, what they need of the server, and the manifest for the diff."""

    mail_from: str  # envelope sender (an SMTPUTF8 variant tags the local part)
    rcpt_to: tuple[str, ...]
    data: bytes  # the message as sent (CRLF line ends), before dot-stuffing
    declare_size: bool = True  # MAIL FROM SIZE= when the server offers SIZE
    dsn_envid: str | None = None  # RFC 3461 ENVID, so a bounce names the probe
    needs_8bit: bool = False
    needs_smtputf8: bool = False
    hold: float = 0.0  # seconds the final dot waits once the hop has read every byte
    manifest: Manifest | None = None  # None for a hand-made message (tests, the lab)


@dataclasses.dataclass(frozen=True)
class DeliveredCopy:
    """One copy of a probe message found in the cooperating mailbox."""

    probe_id: str
    raw: bytes
    folder: str
    junk: bool = False  # found in a junk/spam folder: itself a finding
    matched_by: str = "x-probe-id"  # which tag survived: x-probe-id, message-id, subject, body
    source: str = ""  # mailbox URL without any secret
    found_at: dt.datetime | None = None
    trimmed_from: int = 0  # the copy's size when only its header block is kept (a check's history)
