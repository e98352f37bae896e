"""Bounces: delivery status notifications parsed into data (pure).

`parse_bounce(raw)` reads an RFC 3464 `multipart/report; report-type=delivery-status` (per-message
and per-recipient fields, and the returned message or headers: `rfc3464`), and recognises the
common non-standard bounces by their fixed texts: qmail-send, old Sendmail, Exchange NDRs, and
failing all of those a heuristic for anything from MAILER-DAEMON that quotes an SMTP reply
(`legacy`); what the formats share is in `fields`. The probe
ids are collected from everywhere in the bounce (ENVID, returned X-Probe-Id, Message-ID, Subject
and body), so a bounce is matched even when the returned message was cut to its headers.
Returns None for messages that are not bounces (feedback reports, vacation replies, mail).
"""

from __future__ import annotations

import email.errors
import email.message
import email.parser
import email.policy
import re
from typing import Final

from probe.analyze.bounce.fields import date_of, decoded, strip_type, text_of
from probe.analyze.bounce.legacy import legacy_bounce
from probe.analyze.bounce.rfc3464 import (
    dsn_groups,
    dsn_recipients,
    leaves,
    report_type,
    returned_part,
)
from probe.model.bounce import Bounce, BounceKind, BounceRecipient, StatusClass
from probe.model.message import PROBE_ID_PATTERN

_PARSER: Final = email.parser.BytesParser(policy=email.policy.compat32)
_PROBE_ID: Final = re.compile(PROBE_ID_PATTERN)
_ERRORS: Final = (ValueError, LookupError, TypeError, AttributeError, IndexError, UnicodeError)


# The stdlib parser checks each line against every open boundary: quadratic in the nesting.
# A bounce nests a few parts; the MIME structure is read up to the 64th boundary parameter
# (the probe ids are still searched in all of `raw`).
MAX_BOUNDARIES: Final = 64
_BOUNDARY: Final = re.compile(rb"boundary\s*=", re.I)


def parse_bounce(raw: bytes) -> Bounce | None:
    """The bounce in `raw`, or None when it is not one. Never raises."""
    try:
        msg = _PARSER.parsebytes(_structure(raw))
        return _parse(msg, raw)
    except (*_ERRORS, email.errors.MessageError, RecursionError):
        return None


def _structure(raw: bytes) -> bytes:
    """`raw` up to its `MAX_BOUNDARIES` + 1st boundary parameter."""
    for n, found in enumerate(_BOUNDARY.finditer(raw)):
        if n == MAX_BOUNDARIES:
            return raw[: found.start()]
    return raw


def _parse(msg: email.message.Message, raw: bytes) -> Bounce | None:
    report = report_type(msg)
    if report not in ("", "delivery-status"):
        return None  # feedback-report (ARF), disposition-notification (MDN)...
    parts = list(leaves(msg))
    groups = [g for part in parts for g in dsn_groups(part)]
    text = "\n".join(text_of(p) for p in parts if p.get_content_type() == "text/plain")
    if not groups and not parts:
        text = text_of(msg)
    kind: BounceKind | None = None
    per_message: dict[str, str] = {}
    recipients: list[BounceRecipient] = []
    extra: list[tuple[str, str]] = []
    if groups:
        kind = BounceKind.RFC3464
        recipients = dsn_recipients(groups, per_message, extra)
    if not recipients:
        found = legacy_bounce(text, msg)
        if found is not None:
            kind, recipients, mta = found
            per_message.setdefault("reporting-mta", mta or "")
    if kind is None:
        return None
    returned, original = returned_part(msg)
    subject = decoded(msg.get("Subject", ""))
    envid = per_message.get("original-envelope-id") or None
    probe_ids = _probe_ids(envid, original, subject, parts, raw)
    status_class = _overall(recipients)
    return Bounce(
        kind=kind,
        recipients=tuple(recipients),
        probe_ids=probe_ids,
        status_class=status_class,
        diagnostic=_summary(recipients, status_class),
        reporting_mta=strip_type(per_message.get("reporting-mta")),
        arrival_date=date_of(per_message.get("arrival-date")),
        original_envelope_id=envid,
        subject=subject,
        from_addr=decoded(msg.get("From", "")),
        message_id=str(msg.get("Message-ID", "")).strip(),
        original_message_id=(
            str(original.get("Message-ID")).strip()
            if original and original.get("Message-ID")
            else None
        ),
        returned=returned,
        extra_fields=tuple(extra),
    )


_RANK: Final = (
    StatusClass.PERMANENT,
    StatusClass.TEMPORARY,
    StatusClass.DELAYED,
    StatusClass.SUCCESS,
)


def _overall(recipients: list[BounceRecipient]) -> StatusClass:
    classes = {r.status_class for r in recipients}
    return next((c for c in _RANK if c in classes), StatusClass.UNKNOWN)


def _summary(recipients: list[BounceRecipient], status_class: StatusClass) -> str:
    if not recipients:
        return f"{status_class}: no recipient named"
    first = recipients[0]
    diagnostic = (first.diagnostic_code or "").split(";", 1)[-1].strip()
    parts = [f"{status_class}: {first.final_recipient or '?'}"]
    if first.status:
        parts.append(first.status)
    if diagnostic:
        parts.append(diagnostic)
    if first.remote_mta:
        parts.append(f"(remote {first.remote_mta})")
    if len(recipients) > 1:
        parts.append(f"(+{len(recipients) - 1} more)")
    line = " ".join(parts)
    return line if len(line) <= 300 else line[:299] + "…"


def _probe_ids(
    envid: str | None,
    original: email.message.Message | None,
    subject: str,
    parts: list[email.message.Message],
    raw: bytes,
) -> tuple[str, ...]:
    """Probe ids in order of evidence: ENVID, returned headers, Subject, then anywhere."""
    texts = [envid or ""]
    if original is not None:
        texts.extend(
            decoded(original.get(name, "")) for name in ("X-Probe-Id", "Message-ID", "Subject")
        )
        body = original.get_payload()
        texts.append(body if isinstance(body, str) else "")
    texts.append(subject)
    texts.extend(text_of(p) for p in parts if not p.is_multipart())
    texts.append(raw.decode("latin-1"))
    seen: dict[str, None] = {}
    for text in texts:
        for found in _PROBE_ID.findall(text):
            seen.setdefault(found, None)
    return tuple(seen)
