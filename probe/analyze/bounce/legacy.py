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
_SENDMAIL: Final = re.compile(  # from the start of a run of dashes only: linear in the run
    r"(?<!-)-{3,} The following addresses had"
    r" (permanent fatal|permanent delivery|transient non-fatal) errors -{3,}"
)
# Exim's heading, then its list heading further on: two searches, not one lazy match from
# every heading (which read the rest of the text once per heading).
_EXIM: Final = re.compile(r"This message was created automatically by mail delivery software\.")
_EXIM_LIST: Final = re.compile(r"The following\s+address(?:\(es\)|es)?\s+failed:[ \t]*\n")
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

# Each reads in time linear in its text: a line starts with blanks other than line breaks (with
# `\s*` a run of blank lines was re-read from each of its lines), a word is tried only where it
# starts, a bracketed address is at most 100 characters.
_QMAIL_SAID: Final = re.compile(r"Remote host said:\s*")
_QMAIL_GIVING_UP: Final = re.compile(r"(?<!\s)\s*Giving up on")
_QMAIL_REMOTE: Final = re.compile(r"(?<!\S)(\S+) does not like recipient|Connected to (\S+) but")
_EXIM_HOST: Final = re.compile(r"host:?\s+(\S+?)(?:\s+\[[^\]]{0,100}\])?(?::|\s|$)")
_EXIM_SAID: Final = re.compile(r"host:?\s+\S+(?:\s+\[[^\]]{0,100}\])?:?\s+(.*)")
_SENDMAIL_ADDRESS: Final = re.compile(
    r"^[^\S\n]*<?([^\s<>]+@[^\s<>]+?)>?\s*\n(?:\s*\(reason: (.*)\))?", re.M
)
_HASHED_AFTER_HOST: Final = re.compile(r"\s*(\S+)\s+#(\d{3})")
_HASHED: Final = re.compile(r"\s*#(\d{3})")
_EXCHANGE_LISTED: Final = re.compile(r"^[^\S\n]*(\S+@\S+?)(?: on .*)?\n\s*(.*)", re.M)

Found = tuple[BounceKind, list[BounceRecipient], str | None]


def legacy_bounce(text: str, msg: email.message.Message) -> Found | None:
    body = text.split("--- Below this line is a copy of the message.")[0]
    qmail = _QMAIL.search(body)
    if qmail:
        return BounceKind.QMAIL, _qmail(body), qmail.group(1)
    exim = _EXIM.search(body)
    exim_list = _EXIM_LIST.search(body, exim.end()) if exim else None
    if exim_list:
        section = body[exim_list.end() :]
        return BounceKind.EXIM_LEGACY, _exim(section, "permanent error" in body), None
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
        said = _qmail_said(reason)
        remote = _QMAIL_REMOTE.search(reason)
        diagnostic = reason if said is None else said
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
        host = _EXIM_HOST.search(reason)
        said = _EXIM_SAID.search(reason)
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
    for match in _SENDMAIL_ADDRESS.finditer(section):
        diagnostic = match.group(2) or (replies[-1] if replies else "")
        mta = talking.group(1) if talking else None
        out.append(_loose_recipient(match.group(1), diagnostic, mta, permanent))
    return out


def _exchange(body: str) -> list[BounceRecipient]:
    """Exchange NDR: `#550 5.1.1 ... ##` lines or `Remote Server returned '...'` per address."""
    admin = body.split("Diagnostic information for administrators:", 1)[-1]
    out: list[BounceRecipient] = []
    seen: set[str] = set()
    lines = admin.splitlines()
    for i, line in enumerate(lines):
        hashed = _hashed(line)
        returned = re.search(r"Remote Server returned '(.*)'", line)
        if not (hashed or returned):
            continue
        address = next(
            (m.group(1) for m in map(ADDRESS.search, reversed(lines[max(0, i - 3) : i])) if m),
            None,
        )
        if hashed:
            host, diagnostic = hashed
            mta = host if host and "@" not in host else None
        else:
            mta, diagnostic = None, returned.group(1) if returned else ""
        if address is None:
            found = ADDRESS.search(diagnostic)
            address = found.group(1) if found else ""
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        out.append(_loose_recipient(address, diagnostic, mta, None))
    if not out:
        listed = body.split("Diagnostic information for administrators:", 1)[0]
        listed = re.split(r"recipients or groups:|following recipient\(s\):", listed)[-1]
        for match in _EXCHANGE_LISTED.finditer(listed):
            if match.group(1).lower() not in seen:
                seen.add(match.group(1).lower())
                reason = match.group(2).strip()
                out.append(_loose_recipient(match.group(1), reason, None, True))
    return out


def _qmail_said(reason: str) -> str | None:
    """What follows `Remote host said:`, without a trailing `Giving up on ...`."""
    said = _QMAIL_SAID.search(reason)
    if said is None:
        return None
    rest = reason[said.end() :]
    giving_up = _QMAIL_GIVING_UP.search(rest)
    return rest if giving_up is None else rest[: giving_up.start()]


def _hashed(line: str) -> tuple[str | None, str] | None:
    """(host, reply) of an Exchange `host #550 5.1.1 ... ##` line: the reply runs from the
    code to the first `##`, blanks before it dropped; the host is the word before `#`."""
    for pattern in (_HASHED_AFTER_HOST, _HASHED):
        match = pattern.match(line)
        if match is None:
            continue
        end = line.find("##", match.end())
        if end >= 0:
            host = match.group(1) if pattern is _HASHED_AFTER_HOST else None
            return host, (match.group(match.lastindex or 1) + line[match.end() : end]).rstrip()
    return None


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
