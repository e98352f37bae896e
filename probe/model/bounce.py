"""Bounces as data: a delivery status notification, its recipients and their status classes.

What `probe.analyze.bounce.parse_bounce` reads from a DSN (RFC 3464) or a legacy bounce, and
what a stored run holds for each bounce that names a probe message.
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
    HEURISTIC = "heuristic"


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
