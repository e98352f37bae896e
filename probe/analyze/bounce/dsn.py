"""Bounces: delivery status notifications parsed into data (pure).

`parse_bounce(raw)` tries the readers from the most to the least exact, the first that names a
recipient wins: an RFC 3464 `message/delivery-status` part (`rfc3464`); the same fields written
in text (`text_fields`: Amazon WorkMail, inline forwards, missing boundaries, Postfix without
MIME); the fixed formats of qmail-send, Exim, old Sendmail (`legacy`) and Exchange (`exchange`);
a bounce forwarded as an attachment (read inside, flagged); products' text notices and, failing
all, a loose reading of anything from MAILER-DAEMON that quotes an SMTP reply (`notices`). Each
recipient is built by `recipient` (codes, class, sources, flags); shared text helpers are in
`fields`. CR-only line ends are read as line ends. The probe ids are collected from everywhere in
the bounce (ENVID, returned X-Probe-Id, Message-ID, Subject and body), so a bounce is matched even
when the returned message was cut to its headers. Returns None for messages that are not bounces
(feedback reports, vacation replies, mail).
"""

from __future__ import annotations

import dataclasses
import email.errors
import email.message
import email.parser
import email.policy
import re
from typing import Final

from probe.analyze.bounce.fields import date_of, decoded, line_ends, strip_type, text_of
from probe.analyze.bounce.legacy import legacy_bounce
from probe.analyze.bounce.notices import header_recipients, notice_bounce
from probe.analyze.bounce.recipient import MAX_RECIPIENTS, unique
from probe.analyze.bounce.rfc3464 import (
    RETURNED_MESSAGE,
    dsn_groups,
    dsn_recipients,
    leaves,
    report_type,
    returned_part,
)
from probe.analyze.bounce.text_fields import text_groups
from probe.model.bounce import Bounce, BounceKind, BounceRecipient, ParseFlag, Reader, StatusClass
from probe.model.message import PROBE_ID_PATTERN

_PARSER: Final = email.parser.BytesParser(policy=email.policy.compat32)
_HEADERS: Final = email.parser.HeaderParser(policy=email.policy.compat32)
_PROBE_ID: Final = re.compile(PROBE_ID_PATTERN)
_ERRORS: Final = (ValueError, LookupError, TypeError, AttributeError, IndexError, UnicodeError)


# The stdlib parser checks each line against every open boundary: quadratic in the nesting.
# A bounce nests a few parts; the MIME structure is read up to the 64th boundary parameter
# (the probe ids are still searched in all of `raw`).
MAX_BOUNDARIES: Final = 64
_BOUNDARY: Final = re.compile(rb"boundary\s*=", re.I)
# A bounce's own words are short; a longer text is a returned message written inline. The text
# readers read this much of it (a bounce found in a text cut here is flagged `truncated`).
MAX_TEXT_CHARS: Final = 256 * 1024
MAX_FORWARD_DEPTH: Final = 2  # a bounce forwarded as an attachment, itself forwarded once
# Where the returned message starts in a notice's text.
_RETURNED_TEXT: Final = re.compile(
    r"^[^\S\n]*-{2,}[^\S\n]*(?:original message|returned message|below this line"
    r"|this is a copy|the header of the original|forwarded message)"
    r"|^original message follows|^content-type:[^\S\n]*message/rfc822",
    re.I | re.M,
)


def parse_bounce(raw: bytes) -> Bounce | None:
    """The bounce in `raw`, or None when it is not one. Never raises."""
    try:
        raw = line_ends(raw)
        structure = _structure(raw)
        bounce = _parse(_PARSER.parsebytes(structure), raw, 0)
        if bounce is not None and len(structure) < len(raw):
            bounce = dataclasses.replace(bounce, flags=(*bounce.flags, ParseFlag.TRUNCATED))
        return bounce
    except (*_ERRORS, email.errors.MessageError, RecursionError):
        return None


def _structure(raw: bytes) -> bytes:
    """`raw` up to its `MAX_BOUNDARIES` + 1st boundary parameter."""
    for n, found in enumerate(_BOUNDARY.finditer(raw)):
        if n == MAX_BOUNDARIES:
            return raw[: found.start()]
    return raw


Read = tuple[BounceKind, list[BounceRecipient], dict[str, str], list[tuple[str, str]]]


def _read(parts: list[email.message.Message], text: str) -> Read | None:
    """The first reader that names a recipient, from the most exact: (kind, recipients,
    per-message fields, other per-message fields)."""
    per_message: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    groups = [g for part in parts for g in dsn_groups(part)]
    recipients = dsn_recipients(groups, per_message, extra) if groups else []
    if recipients:
        return BounceKind.RFC3464, recipients, per_message, extra
    recipients = dsn_recipients(text_groups(text), per_message, extra, Reader.TEXT_FIELDS)
    if recipients:
        return BounceKind.TEXT_FIELDS, recipients, per_message, extra
    found = legacy_bounce(text)
    if found is not None:
        return found[0], unique(found[1]), {"reporting-mta": found[2] or ""}, []
    return None


_READER: Final = {
    BounceKind.QMAIL: Reader.QMAIL,
    BounceKind.EXIM_LEGACY: Reader.EXIM,
    BounceKind.SENDMAIL_LEGACY: Reader.SENDMAIL,
    BounceKind.EXCHANGE_NDR: Reader.EXCHANGE,
}


def _parse(msg: email.message.Message, raw: bytes, depth: int) -> Bounce | None:
    report = report_type(msg)
    if report not in ("", "delivery-status"):
        return None  # feedback-report (ARF), disposition-notification (MDN)...
    parts = list(leaves(msg))
    text = "\n".join(text_of(p) for p in parts if _is_text(p))
    if not parts:
        text = text_of(msg)
    cut = len(text) > MAX_TEXT_CHARS
    text = text[:MAX_TEXT_CHARS]
    returned, original = returned_part(msg)
    read = _read(parts, text)
    if (read is None or not read[1]) and depth < MAX_FORWARD_DEPTH:
        inner = _forwarded(parts, raw, depth)
        if inner is not None:
            return dataclasses.replace(inner, flags=(*inner.flags, ParseFlag.FORWARDED))
    if read is None:
        own = _RETURNED_TEXT.search(text)
        if own is not None and original is None:  # the returned message as text after a heading
            copy = text[own.end() :].partition("\n")[2].lstrip("\n")
            original = _HEADERS.parsestr(copy, headersonly=True)
        found = notice_bounce(text[: own.start()] if own else text, msg, original)
        if found is None:
            return None
        read = found[0], found[1], {}, []
    kind, recipients, per_message, extra = read
    if not recipients:  # a fixed format whose list is empty or cut off
        reader = _READER.get(kind, Reader.LOOSE)
        recipients = header_recipients(text.splitlines(), msg, original, reader)
    cut = (cut and kind is not BounceKind.RFC3464) or len(recipients) > MAX_RECIPIENTS
    recipients = recipients[:MAX_RECIPIENTS]
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
        flags=(ParseFlag.TRUNCATED,) if cut else (),
    )


def _is_text(part: email.message.Message) -> bool:
    """A text part, or a multipart whose boundary is missing (its body is text to the parser)."""
    if part.get_content_type() == "text/plain":
        return True
    return part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), str)


def _forwarded(parts: list[email.message.Message], raw: bytes, depth: int) -> Bounce | None:
    """A bounce attached to this message (a forward), read as a bounce of its own."""
    for part in parts:
        payload = part.get_payload() if part.get_content_type() in RETURNED_MESSAGE else None
        if isinstance(payload, list) and payload and isinstance(payload[0], email.message.Message):
            inner = _parse(payload[0], raw, depth + 1)
            if inner is not None:
                return inner
    return None


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
