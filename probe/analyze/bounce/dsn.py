"""Bounces: delivery status notifications parsed into data (pure).

`parse_bounce(raw)` reads an RFC 3464 `multipart/report; report-type=delivery-status` (per-message
and per-recipient fields, and the returned message or headers), and recognises the common
non-standard bounces by their fixed texts: qmail-send, old Sendmail, Exchange NDRs, and failing
all of those a heuristic for anything from MAILER-DAEMON that quotes an SMTP reply. The probe
ids are collected from everywhere in the bounce (ENVID, returned X-Probe-Id, Message-ID, Subject
and body), so a bounce is matched even when the returned message was cut to its headers.
Returns None for messages that are not bounces (feedback reports, vacation replies, mail).
"""

from __future__ import annotations

import datetime as dt
import email.errors
import email.message
import email.parser
import email.policy
import email.utils
import re
from collections.abc import Iterator
from typing import Final

from probe.analyze.headers import decode_words
from probe.model.bounce import Bounce, BounceKind, BounceRecipient, StatusClass
from probe.model.message import PROBE_ID_PATTERN

_PARSER: Final = email.parser.BytesParser(policy=email.policy.compat32)
_HEADERS: Final = email.parser.HeaderParser(policy=email.policy.compat32)
_PROBE_ID: Final = re.compile(PROBE_ID_PATTERN)
_ENHANCED: Final = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_SMTP_CODE: Final = re.compile(r"(?<![\w.#/=-])([245]\d\d)(?=[ -]|$)")
_ADDRESS: Final = re.compile(r"<?([^\s<>\"'(),;:@]+@[A-Za-z0-9.-]+[A-Za-z0-9])>?")
_LINE_ADDRESS: Final = re.compile(r"\s*<?([^\s<>\"':@]+@[^\s<>\"]+?)>?\"?:?\s*")
_DSN_TYPES: Final = ("message/delivery-status", "message/global-delivery-status")
_DSN_TEXT: Final = ("text/delivery-status",)
_RETURNED_MESSAGE: Final = ("message/rfc822", "message/global")
_RETURNED_HEADERS: Final = ("text/rfc822-headers", "message/global-headers")
_PER_MESSAGE: Final = ("reporting-mta", "arrival-date", "original-envelope-id")
_ERRORS: Final = (ValueError, LookupError, TypeError, AttributeError, IndexError, UnicodeError)

# Fixed texts of the non-standard bounces (quoted from the MTAs' sources and real bounces).
_QMAIL: Final = re.compile(r"This is the qmail-send program at ([^\s.]+(?:\.[^\s.]+)*)")
_SENDMAIL: Final = re.compile(
    r"-{3,} The following addresses had (permanent fatal|permanent delivery|transient non-fatal)"
    r" errors -{3,}"
)
_EXIM: Final = re.compile(
    r"This message was created automatically by mail delivery software\.(?:.|\n)*?"
    r"The following\s+address(?:\(es\)|es)?\s+failed:[ \t]*\n",
)
_EXCHANGE: Final = re.compile(
    r"Delivery has failed to these recipients or groups:|did not reach the following recipient"
    r"|Diagnostic information for administrators:"
)
_BOUNCE_SENDER: Final = re.compile(r"mailer-daemon|postmaster|mail delivery (sub)?system", re.I)
_BOUNCE_SUBJECT: Final = re.compile(
    r"undeliver|delivery status notification|returned mail|failure notice|delivery fail"
    r"|mail delivery failed|non remis|nondeliverable|could not be delivered",
    re.I,
)


def parse_bounce(raw: bytes) -> Bounce | None:
    """The bounce in `raw`, or None when it is not one. Never raises."""
    try:
        msg = _PARSER.parsebytes(raw)
        return _parse(msg, raw)
    except (*_ERRORS, email.errors.MessageError, RecursionError):
        return None


def _parse(msg: email.message.Message, raw: bytes) -> Bounce | None:
    report = _report_type(msg)
    if report not in ("", "delivery-status"):
        return None  # feedback-report (ARF), disposition-notification (MDN)...
    parts = list(_leaves(msg))
    dsn_groups = [g for part in parts for g in _dsn_groups(part)]
    text = "\n".join(_text(p) for p in parts if p.get_content_type() == "text/plain")
    if not dsn_groups and not parts:
        text = _text(msg)
    kind: BounceKind | None = None
    per_message: dict[str, str] = {}
    recipients: list[BounceRecipient] = []
    extra: list[tuple[str, str]] = []
    if dsn_groups:
        kind = BounceKind.RFC3464
        recipients = _rfc3464(dsn_groups, per_message, extra)
    if not recipients:
        found = _heuristic(text, msg)
        if found is not None:
            kind, recipients, mta = found
            per_message.setdefault("reporting-mta", mta or "")
    if kind is None:
        return None
    returned, original = _returned(msg)
    subject = _decoded(msg.get("Subject", ""))
    envid = per_message.get("original-envelope-id") or None
    probe_ids = _probe_ids(envid, original, subject, parts, raw)
    status_class = _overall(recipients)
    return Bounce(
        kind=kind,
        recipients=tuple(recipients),
        probe_ids=probe_ids,
        status_class=status_class,
        diagnostic=_summary(recipients, status_class),
        reporting_mta=_strip_type(per_message.get("reporting-mta")),
        arrival_date=_date(per_message.get("arrival-date")),
        original_envelope_id=envid,
        subject=subject,
        from_addr=_decoded(msg.get("From", "")),
        message_id=str(msg.get("Message-ID", "")).strip(),
        original_message_id=(
            str(original.get("Message-ID")).strip()
            if original and original.get("Message-ID")
            else None
        ),
        returned=returned,
        extra_fields=tuple(extra),
    )


# --------------------------------------------------------------------------- MIME walking


def _report_type(msg: email.message.Message) -> str:
    if msg.get_content_type() != "multipart/report":
        return ""
    return str(msg.get_param("report-type", "") or "").strip().lower()


def _leaves(msg: email.message.Message, depth: int = 0) -> Iterator[email.message.Message]:
    """Parts of the bounce itself; a returned message is a leaf, not walked into."""
    payload = msg.get_payload()
    ctype = msg.get_content_type()
    if (
        msg.is_multipart()
        and isinstance(payload, list)
        and ctype not in _RETURNED_MESSAGE + _DSN_TYPES
        and depth < 10
    ):
        for child in payload:
            if isinstance(child, email.message.Message):
                yield from _leaves(child, depth + 1)
    elif depth:
        yield msg


def _text(part: email.message.Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(part.get_payload())
    charset = part.get_content_charset() or "utf-8"
    try:
        text = data.decode(charset, "replace")
    except LookupError:
        text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _returned(msg: email.message.Message) -> tuple[str, email.message.Message | None]:
    for part in msg.walk() if msg.is_multipart() else ():
        ctype = part.get_content_type()
        if ctype in _RETURNED_MESSAGE:
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                inner = payload[0]
                if isinstance(inner, email.message.Message):
                    return "message", inner
            return "message", _HEADERS.parsestr(_text(part))
        if ctype in _RETURNED_HEADERS:
            return "headers", _HEADERS.parsestr(_text(part), headersonly=True)
    return "none", None


# --------------------------------------------------------------------------- RFC 3464


def _dsn_groups(part: email.message.Message) -> list[list[tuple[str, str]]]:
    """The field groups (per-message, then per-recipient) of a delivery-status part."""
    ctype = part.get_content_type()
    if ctype not in _DSN_TYPES + _DSN_TEXT:
        return []
    payload = part.get_payload()
    if isinstance(payload, list):
        groups = []
        for block in payload:
            if isinstance(block, email.message.Message):
                fields = [(k, _unfold(str(v))) for k, v in block.items()]
                groups.append(fields + [f for g in _fields(str(block.get_payload())) for f in g])
        return groups
    return _fields(_text(part))


def _fields(text: str) -> list[list[tuple[str, str]]]:
    """Blank-line separated groups of `Name: value` fields; folding undone, junk lines skipped."""
    groups: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            if current:
                groups.append(current)
                current = []
        elif line[0] in " \t" and current:
            name, value = current[-1]
            current[-1] = (name, f"{value} {line.strip()}")
        else:
            name, sep, value = line.partition(":")
            if sep and re.fullmatch(r"[A-Za-z0-9-]+", name.strip()):
                current.append((name.strip(), value.strip()))
    if current:
        groups.append(current)
    return groups


def _rfc3464(
    groups: list[list[tuple[str, str]]], per_message: dict[str, str], extra: list[tuple[str, str]]
) -> list[BounceRecipient]:
    recipients: list[BounceRecipient] = []
    for group in groups:
        fields: dict[str, str] = {}
        for name, value in group:
            key = name.lower()
            if key in ("final-recipient", "original-recipient") and key in fields:
                recipients.extend(_recipient(fields))  # two recipients in one group
                fields = {}
            if key in _PER_MESSAGE or (key.startswith("x-") and "final-recipient" not in fields):
                if key not in per_message:
                    per_message[key] = value
                    if key not in _PER_MESSAGE:
                        extra.append((name, value))
            elif key not in fields:
                fields[key] = value
        recipients.extend(_recipient(fields))
    return recipients


def _recipient(fields: dict[str, str]) -> list[BounceRecipient]:
    final = fields.get("final-recipient") or fields.get("original-recipient")
    if not final:
        return []
    diagnostic = fields.get("diagnostic-code")
    action = (fields.get("action") or "").split("(")[0].strip().lower() or None
    status = _ENHANCED.search(fields.get("status", ""))
    code = status.group(1) if status else None
    return [
        BounceRecipient(
            final_recipient=_strip_type(final) or final,
            original_recipient=_strip_type(fields.get("original-recipient")),
            action=action,
            status=code,
            remote_mta=_strip_type(fields.get("remote-mta")),
            diagnostic_code=diagnostic,
            smtp_code=_smtp_code(diagnostic),
            last_attempt_date=_date(fields.get("last-attempt-date")),
            status_class=_status_class(action, code, _smtp_code(diagnostic)),
        )
    ]


# --------------------------------------------------------------------------- heuristics

Found = tuple[BounceKind, list[BounceRecipient], str | None]


def _heuristic(text: str, msg: email.message.Message) -> Found | None:
    body = text.split("--- Below this line is a copy of the message.")[0]
    qmail = _QMAIL.search(body)
    if qmail:
        return BounceKind.QMAIL, _qmail(body), qmail.group(1)
    exim = _EXIM.search(body)
    if exim:
        return BounceKind.EXIM_LEGACY, _exim(body[exim.end() :], "permanent error" in body), None
    sendmail = _SENDMAIL.search(body)
    if sendmail:
        return BounceKind.SENDMAIL_LEGACY, _sendmail(body, sendmail), None
    if _EXCHANGE.search(body):
        generating = re.search(r"Generating server:\s*(\S+)", body)
        return BounceKind.EXCHANGE_NDR, _exchange(body), generating and generating.group(1)
    looks = _BOUNCE_SENDER.search(str(msg.get("From", ""))) or _BOUNCE_SUBJECT.search(
        _decoded(msg.get("Subject", ""))
    )
    if looks and _SMTP_CODE.search(body):
        return BounceKind.HEURISTIC, _loose(body), None
    return None


def _qmail(body: str) -> list[BounceRecipient]:
    """`<addr>:` then the reason lines, up to the next blank line (qmail-send's bounce)."""
    permanent = "permanent error" in body
    out = []
    for match in re.finditer(r"^<([^>\s]+)>:\n((?:.+\n?)*)", body, re.M):
        reason = _unfold(match.group(2))
        said = re.search(r"Remote host said:\s*(.*?)(?:\s*Giving up on.*)?$", reason)
        remote = re.search(r"(\S+) does not like recipient|Connected to (\S+) but", reason)
        diagnostic = said.group(1) if said else reason
        mta = remote and (remote.group(1) or remote.group(2))
        out.append(_loose_recipient(match.group(1), diagnostic, mta, permanent))
    return out


def _exim(section: str, permanent: bool) -> list[BounceRecipient]:
    """Exim: an address line indented by two, its reason lines indented further."""
    section = section.split("------ This is a copy of the message")[0]
    out = []
    for match in re.finditer(r"^  (\S.*)\n((?:(?:    |\t).*\n?)*)", section, re.M):
        address = _LINE_ADDRESS.fullmatch(match.group(1))
        if not address:
            continue
        reason = _unfold(match.group(2))
        host = re.search(r"host:?\s+(\S+?)(?:\s+\[[^\]]*\])?(?::|\s|$)", reason)
        said = re.search(r"host:?\s+\S+(?:\s+\[[^\]]*\])?:?\s+(.*)", reason)
        diagnostic = said.group(1) if said else reason
        out.append(
            _loose_recipient(address.group(1), diagnostic, host and host.group(1), permanent)
        )
    return out


def _sendmail(body: str, heading: re.Match[str]) -> list[BounceRecipient]:
    """The address list under the heading, the reason lines and the transcript's peer."""
    permanent = heading.group(1).startswith("permanent")
    section = body[heading.end() :].split("-----", 1)[0]
    talking = re.search(r"while talking to ([^\s:]+?)\.?:", body)
    replies = re.findall(r"^<<< (.*)$", body, re.M)
    out = []
    for match in re.finditer(
        r"^\s*<?([^\s<>]+@[^\s<>]+?)>?\s*\n(?:\s*\(reason: (.*)\))?", section, re.M
    ):
        diagnostic = match.group(2) or (replies[-1] if replies else "")
        mta = talking.group(1) if talking else None
        out.append(_loose_recipient(match.group(1), diagnostic, mta, permanent))
    return out


def _exchange(body: str) -> list[BounceRecipient]:
    """Exchange NDR: `#550 5.1.1 ... ##` lines or `Remote Server returned '...'` per address."""
    admin = body.split("Diagnostic information for administrators:", 1)[-1]
    out: list[BounceRecipient] = []
    lines = admin.splitlines()
    for i, line in enumerate(lines):
        hashed = re.match(r"\s*(?:(\S+)\s+)?#(\d{3}.*?)\s*##", line)
        returned = re.search(r"Remote Server returned '(.*)'", line)
        if not (hashed or returned):
            continue
        address = next(
            (m.group(1) for m in map(_ADDRESS.search, reversed(lines[max(0, i - 3) : i])) if m),
            None,
        )
        if hashed:
            mta = hashed.group(1) if hashed.group(1) and "@" not in hashed.group(1) else None
            diagnostic = hashed.group(2)
        else:
            mta, diagnostic = None, returned.group(1) if returned else ""
        if address is None:
            found = _ADDRESS.search(diagnostic)
            address = found.group(1) if found else ""
        if any(r.final_recipient.lower() == address.lower() for r in out):
            continue
        out.append(_loose_recipient(address, diagnostic, mta, None))
    if not out:
        listed = body.split("Diagnostic information for administrators:", 1)[0]
        listed = re.split(r"recipients or groups:|following recipient\(s\):", listed)[-1]
        for match in re.finditer(r"^\s*(\S+@\S+?)(?: on .*)?\n\s*(.*)", listed, re.M):
            if all(r.final_recipient.lower() != match.group(1).lower() for r in out):
                reason = match.group(2).strip()
                out.append(_loose_recipient(match.group(1), reason, None, True))
    return out


def _loose(body: str) -> list[BounceRecipient]:
    """Anything else: each line that names an address, with the first SMTP reply after it."""
    out: list[BounceRecipient] = []
    lines = body.splitlines()
    for i, line in enumerate(lines):
        address = _LINE_ADDRESS.fullmatch(line)
        if not address:
            continue
        diagnostic = next((x.strip() for x in lines[i + 1 : i + 6] if _SMTP_CODE.search(x)), "")
        out.append(_loose_recipient(address.group(1), diagnostic, None, None))
    if not out:
        diagnostic = next((x.strip() for x in lines if _SMTP_CODE.search(x)), "")
        found = _ADDRESS.search(diagnostic)
        out.append(_loose_recipient(found.group(1) if found else "", diagnostic, None, None))
    return out


def _loose_recipient(
    address: str, diagnostic: str, mta: str | None, permanent: bool | None
) -> BounceRecipient:
    diagnostic = _unfold(diagnostic)
    enhanced = _ENHANCED.search(diagnostic)
    code = _smtp_code(diagnostic)
    status = enhanced.group(1) if enhanced else None
    action = "failed" if permanent is not False else "delayed"
    return BounceRecipient(
        final_recipient=address,
        action=action,
        status=status,
        remote_mta=mta,
        diagnostic_code=diagnostic or None,
        smtp_code=code,
        status_class=_status_class(action, status, code),
    )


# --------------------------------------------------------------------------- small helpers


def _status_class(action: str | None, status: str | None, code: int | None) -> StatusClass:
    first = status[0] if status else (str(code)[0] if code else "")
    if action == "delayed":
        return StatusClass.DELAYED
    if action in ("delivered", "relayed", "expanded"):
        return StatusClass.SUCCESS
    if first == "4":
        return StatusClass.TEMPORARY
    if first == "5" or action == "failed":
        return StatusClass.PERMANENT
    return StatusClass.UNKNOWN


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
            _decoded(original.get(name, "")) for name in ("X-Probe-Id", "Message-ID", "Subject")
        )
        body = original.get_payload()
        texts.append(body if isinstance(body, str) else "")
    texts.append(subject)
    texts.extend(_text(p) for p in parts if not p.is_multipart())
    texts.append(raw.decode("latin-1"))
    seen: dict[str, None] = {}
    for text in texts:
        for found in _PROBE_ID.findall(text):
            seen.setdefault(found, None)
    return tuple(seen)


def _strip_type(value: str | None) -> str | None:
    """`dns; mx.example.net` -> `mx.example.net`; `rfc822; <a@b>` -> `a@b`."""
    if not value:
        return None
    text = value.split(";", 1)[-1].split("(", 1)[0].strip().strip("<>").strip()
    return text or None


def _unfold(value: str) -> str:
    return re.sub(r"\s*\n\s*", " ", value).strip()


def _smtp_code(diagnostic: str | None) -> int | None:
    if not diagnostic:
        return None
    text = diagnostic.split(";", 1)[-1] if ";" in diagnostic[:12] else diagnostic
    match = _SMTP_CODE.search(text)
    return int(match.group(1)) if match else None


def _decoded(value: object) -> str:
    return _unfold(decode_words(str(value)))


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
