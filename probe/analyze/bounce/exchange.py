"""Exchange's non-delivery reports without a delivery-status part (pure).

Exchange 2007-2019 and Exchange Online write `Delivery has failed to these recipients or groups:`
with the addresses, then `Diagnostic information for administrators:` with `host #550 5.1.1
... ##` lines or `Remote Server returned '...'` per address.
"""

from __future__ import annotations

import re
from typing import Final

from probe.analyze.bounce.fields import ADDRESS
from probe.analyze.bounce.recipient import MAX_RECIPIENTS, loose
from probe.model.bounce import BounceRecipient, Reader

HEADING: Final = re.compile(
    r"Delivery has failed to these recipients or groups:|did not reach the following recipient"
    r"|Diagnostic information for administrators:"
)
GENERATING: Final = re.compile(r"Generating server:\s*(\S+)")
_HASHED_AFTER_HOST: Final = re.compile(r"\s*(\S+)\s+#(\d{3})")
_HASHED: Final = re.compile(r"\s*#(\d{3})")
_RETURNED: Final = re.compile(r"Remote Server returned '(.*)'")
_LISTED: Final = re.compile(r"^[^\S\n]*(\S+@\S+?)(?: on .*)?\n\s*(.*)", re.M)
_ADMIN: Final = "Diagnostic information for administrators:"


def exchange(body: str) -> list[BounceRecipient]:
    """Each address with its `#550 ...##` or `Remote Server returned` line, else the listed
    addresses with the line under each."""
    admin = body.split(_ADMIN, 1)[-1]
    out: list[BounceRecipient] = []
    seen: set[str] = set()
    lines = admin.splitlines()
    for i, line in enumerate(lines):
        if len(out) > MAX_RECIPIENTS:
            break
        hashed = _hashed(line)
        returned = _RETURNED.search(line)
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
        out.append(loose(address, diagnostic, mta, None, Reader.EXCHANGE, evidence=line))
    if not out:
        listed = body.split(_ADMIN, 1)[0]
        listed = re.split(r"recipients or groups:|following recipient\(s\):", listed)[-1]
        for match in _LISTED.finditer(listed):
            if len(out) > MAX_RECIPIENTS:
                break
            if match.group(1).lower() not in seen:
                seen.add(match.group(1).lower())
                reason = match.group(2).strip()
                out.append(
                    loose(match.group(1), reason, None, True, Reader.EXCHANGE, evidence=match[0])
                )
    return out


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
