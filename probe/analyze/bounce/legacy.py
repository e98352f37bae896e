"""Bounces without a delivery-status part, recognised by their fixed texts (pure).

qmail-send, Exim's plain-text bounce, old Sendmail, Exchange NDRs, and failing all of those a
heuristic for anything from MAILER-DAEMON that quotes an SMTP reply.
"""

from __future__ import annotations

import email.message
import re
from typing import Final

from probe.analyze.bounce.fields import (
    ADDRESS,
    ENHANCED,
    LINE_ADDRESS,
    SMTP_CODE,
    decoded,
    smtp_code,
    status_class,
    unfold,
)
from probe.model.bounce import BounceKind, BounceRecipient

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

Found = tuple[BounceKind, list[BounceRecipient], str | None]


def legacy_bounce(text: str, msg: email.message.Message) -> Found | None:
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
        decoded(msg.get("Subject", ""))
    )
    if looks and SMTP_CODE.search(body):
        return BounceKind.HEURISTIC, _loose(body), None
    return None


def _qmail(body: str) -> list[BounceRecipient]:
    """`<addr>:` then the reason lines, up to the next blank line (qmail-send's bounce)."""
    permanent = "permanent error" in body
    out = []
    for match in re.finditer(r"^<([^>\s]+)>:\n((?:.+\n?)*)", body, re.M):
        reason = unfold(match.group(2))
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
        address = LINE_ADDRESS.fullmatch(match.group(1))
        if not address:
            continue
        reason = unfold(match.group(2))
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
            (m.group(1) for m in map(ADDRESS.search, reversed(lines[max(0, i - 3) : i])) if m),
            None,
        )
        if hashed:
            mta = hashed.group(1) if hashed.group(1) and "@" not in hashed.group(1) else None
            diagnostic = hashed.group(2)
        else:
            mta, diagnostic = None, returned.group(1) if returned else ""
        if address is None:
            found = ADDRESS.search(diagnostic)
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
        address = LINE_ADDRESS.fullmatch(line)
        if not address:
            continue
        diagnostic = next((x.strip() for x in lines[i + 1 : i + 6] if SMTP_CODE.search(x)), "")
        out.append(_loose_recipient(address.group(1), diagnostic, None, None))
    if not out:
        diagnostic = next((x.strip() for x in lines if SMTP_CODE.search(x)), "")
        found = ADDRESS.search(diagnostic)
        out.append(_loose_recipient(found.group(1) if found else "", diagnostic, None, None))
    return out


def _loose_recipient(
    address: str, diagnostic: str, mta: str | None, permanent: bool | None
) -> BounceRecipient:
    diagnostic = unfold(diagnostic)
    enhanced = ENHANCED.search(diagnostic)
    code = smtp_code(diagnostic)
    status = enhanced.group(1) if enhanced else None
    action = "failed" if permanent is not False else "delayed"
    return BounceRecipient(
        final_recipient=address,
        action=action,
        status=status,
        remote_mta=mta,
        diagnostic_code=diagnostic or None,
        smtp_code=code,
        status_class=status_class(action, status, code),
    )
