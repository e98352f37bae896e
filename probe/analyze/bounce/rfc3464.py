"""RFC 3464 delivery status notifications: the report's parts, its field groups, recipients.

A `multipart/report; report-type=delivery-status` holds a human-readable part, the
machine-readable `message/delivery-status` (a per-message group, then one group per recipient)
and the returned message or its headers (pure).
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import re
from collections.abc import Iterator
from typing import Final

from probe.analyze.bounce.fields import ENHANCED, date_of, strip_type, text_of, unfold
from probe.analyze.bounce.recipient import MAX_RECIPIENTS, recipient, source
from probe.model.bounce import BounceRecipient, Reader

_HEADERS: Final = email.parser.HeaderParser(policy=email.policy.compat32)
DSN_TYPES: Final = ("message/delivery-status", "message/global-delivery-status")
_DSN_TEXT: Final = ("text/delivery-status",)
RETURNED_MESSAGE: Final = ("message/rfc822", "message/global")
_RETURNED_HEADERS: Final = ("text/rfc822-headers", "message/global-headers")
_PER_MESSAGE: Final = ("reporting-mta", "arrival-date", "original-envelope-id")


def report_type(msg: email.message.Message) -> str:
    if msg.get_content_type() != "multipart/report":
        return ""
    return str(msg.get_param("report-type", "") or "").strip().lower()


def leaves(msg: email.message.Message, depth: int = 0) -> Iterator[email.message.Message]:
    """Parts of the bounce itself; a returned message is a leaf, not walked into."""
    payload = msg.get_payload()
    ctype = msg.get_content_type()
    if (
        msg.is_multipart()
        and isinstance(payload, list)
        and ctype not in RETURNED_MESSAGE + DSN_TYPES
        and depth < 10
    ):
        for child in payload:
            if isinstance(child, email.message.Message):
                yield from leaves(child, depth + 1)
    elif depth:
        yield msg


def returned_part(msg: email.message.Message) -> tuple[str, email.message.Message | None]:
    for part in msg.walk() if msg.is_multipart() else ():
        ctype = part.get_content_type()
        if ctype in RETURNED_MESSAGE:
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                inner = payload[0]
                if isinstance(inner, email.message.Message):
                    return "message", inner
            return "message", _HEADERS.parsestr(text_of(part))
        if ctype in _RETURNED_HEADERS:
            return "headers", _HEADERS.parsestr(text_of(part), headersonly=True)
    return "none", None


def dsn_groups(part: email.message.Message) -> list[list[tuple[str, str]]]:
    """The field groups (per-message, then per-recipient) of a delivery-status part."""
    ctype = part.get_content_type()
    if ctype not in DSN_TYPES + _DSN_TEXT:
        return []
    payload = part.get_payload()
    if isinstance(payload, list):
        groups = []
        for block in payload:
            if isinstance(block, email.message.Message):
                fields = [(k, unfold(str(v))) for k, v in block.items()]
                groups.append(fields + [f for g in fields_of(str(block.get_payload())) for f in g])
        return groups
    return fields_of(text_of(part))


def fields_of(text: str) -> list[list[tuple[str, str]]]:
    """Blank-line separated groups of `Name: value` fields; folding undone, junk lines skipped."""
    groups: list[list[tuple[str, str]]] = []
    current: list[tuple[str, list[str]]] = []  # a value's folded lines joined once, at the end
    for line in text.splitlines():
        if not line.strip():
            if current:
                groups.append(_joined(current))
                current = []
        elif line[0] in " \t" and current:
            current[-1][1].append(line.strip())
        else:
            name, sep, value = line.partition(":")
            if sep and _FIELD_NAME.fullmatch(name.strip()):
                current.append((name.strip(), [value.strip()]))
    if current:
        groups.append(_joined(current))
    return groups


_FIELD_NAME: Final = re.compile(r"[A-Za-z0-9-]+")


def _joined(fields: list[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    return [(name, " ".join(lines)) for name, lines in fields]


def dsn_recipients(
    groups: list[list[tuple[str, str]]],
    per_message: dict[str, str],
    extra: list[tuple[str, str]],
    reader: Reader = Reader.DELIVERY_STATUS,
) -> list[BounceRecipient]:
    recipients: list[BounceRecipient] = []
    for group in groups:
        if len(recipients) > MAX_RECIPIENTS:
            break
        fields: dict[str, str] = {}
        for name, value in group:
            key = name.strip().lower()  # Mimecast writes `Status : 5.0.0`
            if key in ("final-recipient", "original-recipient") and key in fields:
                recipients.extend(_recipient(fields, reader))  # two recipients in one group
                fields = {}
            if key in _PER_MESSAGE or (key.startswith("x-") and "final-recipient" not in fields):
                if key not in per_message:
                    per_message[key] = value
                    if key not in _PER_MESSAGE:
                        extra.append((name.strip(), value))
            elif key not in fields:
                fields[key] = value
        recipients.extend(_recipient(fields, reader))
    return recipients


def _recipient(fields: dict[str, str], reader: Reader) -> list[BounceRecipient]:
    final = fields.get("final-recipient") or fields.get("original-recipient")
    if not final:
        return []
    action = (fields.get("action") or "").split("(")[0].strip().lower() or None
    status = ENHANCED.search(fields.get("status", ""))
    evidence = tuple(
        source(field, reader, f"{name}: {fields[name.lower()]}")
        for field, name in (
            ("final_recipient", "Final-Recipient"),
            ("action", "Action"),
            ("status", "Status"),
            ("remote_mta", "Remote-MTA"),
        )
        if fields.get(name.lower())
    )
    return [
        recipient(
            strip_type(final) or final,
            fields.get("diagnostic-code"),
            reader=reader,
            action=action,
            status=status.group(1) if status else None,
            remote_mta=strip_type(fields.get("remote-mta")),
            original=strip_type(fields.get("original-recipient")),
            last_attempt=date_of(fields.get("last-attempt-date")),
            evidence=evidence,
        )
    ]
