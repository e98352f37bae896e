"""Delivery-status fields written outside a `message/delivery-status` part (pure).

Amazon WorkMail puts them in its text/plain part; a bounce forwarded inline, a bounce whose MIME
boundaries are missing and Postfix's delay report sent without MIME carry them in the body's
text. The fields are read from the first field line to where the returned message starts, and
then read as RFC 3464 groups.
"""

from __future__ import annotations

import re
from typing import Final

from probe.analyze.bounce.rfc3464 import fields_of

# The fields that start a report (a per-message or a per-recipient group).
_START: Final = re.compile(
    r"^[^\S\n]*(?:reporting-mta|final-recipient|original-recipient)[^\S\n]*:", re.I | re.M
)
_FIELD: Final = re.compile(r"[^\S\n]*[A-Za-z][A-Za-z0-9-]*[^\S\n]*:")
# Where the report ends: a MIME boundary, the returned message's headers or a copy's heading.
_END: Final = re.compile(
    r"^(?:--\S|content-type:|received:|return-path:|[^\S\n]*-{3,}|[^\S\n]*\*{3,})", re.I | re.M
)
_RECIPIENT: Final = re.compile(r"^[^\S\n]*(?:final|original)-recipient[^\S\n]*:", re.I | re.M)


def text_groups(text: str) -> list[list[tuple[str, str]]]:
    """The field groups of the report written in `text`; [] when it names no recipient."""
    start = _START.search(text)
    first = _RECIPIENT.search(text, start.start()) if start else None
    if start is None or first is None:
        return []
    end = _END.search(text, first.end())
    section = text[start.start() : end.start() if end else len(text)]
    lines = (line.lstrip() if _FIELD.match(line) else line for line in section.splitlines())
    return fields_of("\n".join(lines))
