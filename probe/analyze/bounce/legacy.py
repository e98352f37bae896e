"""Bounces without a delivery-status part, recognised by their fixed texts (pure).

qmail-send, Exim's plain-text bounce, old Sendmail and (in `exchange`) Exchange NDRs; what none
of them recognises goes to `notices` (products' fixed texts, then the loose reader).
"""

from __future__ import annotations

import re
from typing import Final

from probe.analyze.bounce.exchange import GENERATING, HEADING, exchange
from probe.analyze.bounce.fields import LINE_ADDRESS, smtp_code, unfold
from probe.analyze.bounce.recipient import MAX_RECIPIENTS, loose
from probe.model.bounce import BounceKind, BounceRecipient, Reader

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
# Each reads in time linear in its text: a line starts with blanks other than line breaks (with
# `\s*` a run of blank lines was re-read from each of its lines), a word is tried only where it
# starts, a bracketed address is at most 100 characters.
_QMAIL_SAID: Final = re.compile(r"Remote host said:\s*")
_QMAIL_GIVING_UP: Final = re.compile(r"(?<!\s)\s*Giving up on")
_QMAIL_REMOTE: Final = re.compile(r"(?<!\S)(\S+) does not like recipient|Connected to (\S+) but")
_EXIM_HOST: Final = re.compile(r"host:?\s+(\S+?)(?:\s+\[[^\]]{0,100}\])?(?::|\s|$)")
_EXIM_SAID: Final = re.compile(r"host:?\s+\S+(?:\s+\[[^\]]{0,100}\])?:?\s+(.*)")
# An Exim address line: at most two blanks in, the address (quoted, bracketed, or a bare local
# part alone on its line), `:` and the reason on the same line in the one-line form.
_EXIM_ADDRESS: Final = re.compile(r'^ {0,2}"?<?([^\s<>"]+?)>?"?(?::[ \t]*(.*)|[ \t]*)$')
_EXIM_LOCAL: Final = re.compile(r"[\w.+=-]{1,64}")
_EXIM_END: Final = re.compile(r"^-{2,} (?:This is a copy|The header of the original)", re.M)
_SENDMAIL_ADDRESS: Final = re.compile(
    r"^[^\S\n]*<?([^\s<>]+@[^\s<>]+?)>?\s*\n(?:\s*\(reason: (.*)\))?", re.M
)

Found = tuple[BounceKind, list[BounceRecipient], str | None]


def legacy_bounce(text: str) -> Found | None:
    body = text.split("--- Below this line is a copy of the message.")[0]
    qmail = _QMAIL.search(body)
    if qmail:
        return BounceKind.QMAIL, _qmail(body), qmail.group(1)
    exim = _EXIM.search(body)
    exim_list = _EXIM_LIST.search(body, exim.end()) if exim else None
    if exim_list:
        return BounceKind.EXIM_LEGACY, _exim(body[exim_list.end() :]), None
    sendmail = _SENDMAIL.search(body)
    if sendmail:
        return BounceKind.SENDMAIL_LEGACY, _sendmail(body, sendmail), None
    if HEADING.search(body):
        generating = GENERATING.search(body)
        return BounceKind.EXCHANGE_NDR, exchange(body), generating and generating.group(1)
    return None


def _qmail(body: str) -> list[BounceRecipient]:
    """`<addr>:` then the reason lines, up to the next blank line (qmail-send's bounce)."""
    permanent = True if "permanent error" in body else None  # qmail bounces when it gives up
    out = []
    for match in re.finditer(r"^<([^>\s]+)>:\n((?:.+\n?)*)", body, re.M):
        reason = unfold(match.group(2))
        said = _qmail_said(reason)
        remote = _QMAIL_REMOTE.search(reason)
        diagnostic = reason if said is None else said
        mta = remote and (remote.group(1) or remote.group(2))
        out.append(loose(match.group(1), diagnostic, mta, permanent, Reader.QMAIL))
        if len(out) > MAX_RECIPIENTS:
            break
    return out


def _exim(section: str) -> list[BounceRecipient]:
    """Exim's list: an address line (indented by two, or unindented and quoted as GMX writes it,
    or `<addr>: reason` on one line, or a bare local part), then its reason lines."""
    end = _EXIM_END.search(section)
    lines = section[: end.start() if end else len(section)].splitlines()
    found: list[tuple[str, str, list[str]]] = []  # address, its line, reason lines
    for line in lines:
        if not line.strip():
            if found and found[-1][2]:
                found.append(("", "", []))  # a blank line ends a recipient's reason
            continue
        starts = _exim_address(line)
        if starts is not None:
            found.append((starts[0], line, [starts[1]] if starts[1] else []))
        elif found and found[-1][0]:
            found[-1][2].append(line)
    out: list[BounceRecipient] = []
    for address, line, reason_lines in found:
        if len(out) > MAX_RECIPIENTS:
            break
        if not address:
            continue
        reason = unfold("\n".join(reason_lines))
        host = _EXIM_HOST.search(reason)
        said = _EXIM_SAID.search(reason)
        diagnostic = said.group(1) if said else reason
        mta = host.group(1) if host else None
        out.append(loose(address, diagnostic, mta, None, Reader.EXIM, evidence=line))
    return out


def _exim_address(line: str) -> tuple[str, str] | None:
    """(address, the reason on its line) when `line` starts a recipient of Exim's list."""
    match = _EXIM_ADDRESS.match(line)
    if match is None:
        return None
    token, rest = match.group(1), (match.group(2) or "").strip()
    if "@" in token and LINE_ADDRESS.fullmatch(token):
        return token, rest
    if not rest and line.startswith("  ") and _EXIM_LOCAL.fullmatch(token):
        return token, ""  # a local delivery (pipe, file) names the local part only
    return None


def _sendmail(body: str, heading: re.Match[str]) -> list[BounceRecipient]:
    """The address list under the heading, the reason lines and the transcript's peer."""
    permanent = heading.group(1).startswith("permanent")
    section = body[heading.end() :].split("-----", 1)[0]
    talking = re.search(r"while talking to ([^\s:]+?)\.?:", body)
    replies = re.findall(r"^<<< (.*)$", body, re.M)
    failure = next((r for r in replies if smtp_code(r)), replies[-1] if replies else "")
    out: list[BounceRecipient] = []
    for match in _SENDMAIL_ADDRESS.finditer(section):
        if len(out) > MAX_RECIPIENTS:
            break
        diagnostic = match.group(2) or failure
        mta = talking.group(1) if talking else None
        out.append(
            loose(match.group(1), diagnostic, mta, permanent, Reader.SENDMAIL, evidence=match[0])
        )
    return out


def _qmail_said(reason: str) -> str | None:
    """What follows `Remote host said:`, without a trailing `Giving up on ...`."""
    said = _QMAIL_SAID.search(reason)
    if said is None:
        return None
    rest = reason[said.end() :]
    giving_up = _QMAIL_GIVING_UP.search(rest)
    return rest if giving_up is None else rest[: giving_up.start()]
