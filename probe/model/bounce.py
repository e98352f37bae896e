"""Bounces as data: a delivery status notification, its recipients and their status classes.

What `probe.analyze.bounce.parse_bounce` reads from a DSN (RFC 3464) or a legacy bounce, and
what a stored run holds for each bounce that names a probe message. Each recipient says which
reader produced it and from which text (`sources`), and flags what the parse is unsure of
(`flags`): a value guessed is flagged, never given as if it were stated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum


class BounceKind(enum.StrEnum):
    RFC3464 = "rfc3464"
    EXCHANGE_NDR = "exchange-ndr"
    QMAIL = "qmail"
    SENDMAIL_LEGACY = "sendmail-legacy"
    EXIM_LEGACY = "exim-legacy"  # Exim's plain-text bounce (no delivery-status part)
    TEXT_FIELDS = "text-fields"  # delivery-status fields outside a delivery-status part
    NOTICE = "notice"  # a product's fixed text without delivery-status fields (data/bounce_notices)
    HEURISTIC = "heuristic"


class Reader(enum.StrEnum):
    """Which reader of `probe.analyze.bounce` produced a recipient's fields."""

    DELIVERY_STATUS = "delivery-status"  # a message/delivery-status part (RFC 3464)
    TEXT_FIELDS = "text-fields"  # the same fields written in a text part or an unparsed body
    QMAIL = "qmail"
    EXIM = "exim"
    SENDMAIL = "sendmail"
    EXCHANGE = "exchange"
    NOTICE = "notice"
    LOOSE = "loose"  # an address line and an SMTP reply near it


class ParseFlag(enum.StrEnum):
    """What a parse is unsure of; a flagged field is the best reading, not a stated value."""

    STATUS_NOT_STATED = "status-not-stated"  # no enhanced code anywhere: the class is from words
    CODE_NOT_STATED = "code-not-stated"  # no SMTP reply code in the bounce
    STATUS_DISAGREES = "status-disagrees"  # Status and the diagnostic's code differ (both kept)
    RECIPIENT_FROM_HEADERS = "recipient-from-headers"  # X-Failed-Recipients or the returned To
    RECIPIENT_LOCAL_PART = "recipient-local-part"  # the bounce names a local part, no domain
    RECIPIENT_UNKNOWN = "recipient-unknown"  # the bounce names no recipient at all
    FORWARDED = "forwarded"  # the bounce was read from inside another message
    TRUNCATED = "truncated"  # the structure was read up to MAX_BOUNDARIES only


@dataclasses.dataclass(frozen=True)
class FieldSource:
    """Where one field's value came from: the reader and the text it read (cut to 200)."""

    field: str  # final_recipient, status, diagnostic_status, smtp_code, action, remote_mta
    reader: Reader
    text: str


class StatusClass(enum.StrEnum):
    PERMANENT = "permanent"  # failed, 5.x.x
    TEMPORARY = "temporary"  # failed after 4.x.x (given up), or a 4xx without an action
    DELAYED = "delayed"  # Action: delayed: still trying
    SUCCESS = "success"  # delivered / relayed / expanded (a positive DSN)
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class BounceRecipient:
    final_recipient: str  # the address, without the "rfc822;" type
    original_recipient: str | None = None
    action: str | None = None  # failed, delayed, delivered, relayed, expanded
    status: str | None = None  # enhanced status code "5.1.1"
    remote_mta: str | None = None  # without the "dns;" type
    diagnostic_code: str | None = None  # as written, e.g. "smtp; 550 5.1.1 <x@y>: ..."
    smtp_code: int | None = None  # the reply code inside the diagnostic
    last_attempt_date: dt.datetime | None = None  # UTC
    status_class: StatusClass = StatusClass.UNKNOWN
    # the enhanced code the diagnostic text carries (`550 5.7.26 ...`), kept beside `status`
    diagnostic_status: str | None = None
    reader: Reader = Reader.DELIVERY_STATUS
    sources: tuple[FieldSource, ...] = ()
    flags: tuple[ParseFlag, ...] = ()

    @property
    def specific_status(self) -> str | None:
        """The most specific status stated: the diagnostic's code where `status` is generic
        (X.0.0, or absent) and of the same class, else `status`."""
        diag, status = self.diagnostic_status, self.status
        if diag is None or status is None:
            return status or diag
        klass, subject, detail = status.split(".")
        diag_class, diag_subject, _ = diag.split(".")
        if diag_class == klass and (subject == "0" or (subject == diag_subject and detail == "0")):
            return diag
        return status


@dataclasses.dataclass(frozen=True)
class Bounce:
    kind: BounceKind
    recipients: tuple[BounceRecipient, ...]
    probe_ids: tuple[str, ...]
    status_class: StatusClass
    diagnostic: str  # one line summary
    reporting_mta: str | None = None
    arrival_date: dt.datetime | None = None  # UTC
    original_envelope_id: str | None = None
    subject: str = ""
    from_addr: str = ""
    message_id: str = ""
    original_message_id: str | None = None  # of the returned message or headers
    returned: str = "none"  # "message", "headers" or "none"
    extra_fields: tuple[tuple[str, str], ...] = ()  # other per-message fields (X-Postfix-...)
    flags: tuple[ParseFlag, ...] = ()  # of the whole bounce (forwarded, truncated)
