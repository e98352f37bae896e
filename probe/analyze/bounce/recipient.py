"""One recipient of a bounce built from what a reader found: the codes read from its diagnostic,
the status class, where each field came from and what is unsure (pure).

Every reader hands its findings here, so a reply code, an enhanced code and the flags are read
one way whatever the format.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Final

from probe.analyze.bounce.fields import enhanced_in, smtp_code, status_class, unfold
from probe.model.bounce import BounceRecipient, FieldSource, ParseFlag, Reader, StatusClass

EVIDENCE_CHARS: Final = 200
# Recipients read from one bounce: a reader stops after one more (so the cut is seen and flagged).
MAX_RECIPIENTS: Final = 100
_SUCCESS: Final = ("delivered", "relayed", "expanded")


def source(field: str, reader: Reader, text: str) -> FieldSource:
    text = unfold(text)
    cut = text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"
    return FieldSource(field, reader, cut)


def recipient(
    address: str,
    diagnostic: str | None,
    *,
    reader: Reader,
    action: str | None,
    status: str | None = None,
    remote_mta: str | None = None,
    original: str | None = None,
    last_attempt: dt.datetime | None = None,
    fallback: StatusClass = StatusClass.UNKNOWN,
    evidence: tuple[FieldSource, ...] = (),
    flags: tuple[ParseFlag, ...] = (),
) -> BounceRecipient:
    """A recipient; `status` is a stated Status field (RFC 3464 readers), the diagnostic's own
    code is read here; `fallback` is the class a reader knows from the words when no code says."""
    text = unfold(diagnostic) if diagnostic else None
    code = smtp_code(text, success=action in _SUCCESS)
    diag_status = enhanced_in(text, code)
    stated = status or diag_status
    klass = status_class(action, stated, code)
    if klass is StatusClass.UNKNOWN or (stated is None and code is None):
        klass = fallback if fallback is not StatusClass.UNKNOWN else klass
    found = list(evidence)
    if text and (code is not None or diag_status is not None):
        found.append(source("diagnostic_code", reader, text))
    marks = list(flags)
    if stated is None:
        marks.append(ParseFlag.STATUS_NOT_STATED)
    if code is None and action not in _SUCCESS:
        marks.append(ParseFlag.CODE_NOT_STATED)
    if not address:
        marks.append(ParseFlag.RECIPIENT_UNKNOWN)
    elif "@" not in address:
        marks.append(ParseFlag.RECIPIENT_LOCAL_PART)
    result = BounceRecipient(
        final_recipient=address,
        original_recipient=original,
        action=action,
        status=stated,
        remote_mta=remote_mta,
        diagnostic_code=text or None,
        smtp_code=code,
        last_attempt_date=last_attempt,
        status_class=klass,
        diagnostic_status=diag_status,
        reader=reader,
        sources=tuple(found),
    )
    if status and diag_status and result.specific_status == status != diag_status:
        marks.append(ParseFlag.STATUS_DISAGREES)
    return _with_flags(result, marks)


def _with_flags(rcpt: BounceRecipient, marks: list[ParseFlag]) -> BounceRecipient:
    return dataclasses.replace(rcpt, flags=tuple(dict.fromkeys(marks)))


def loose(
    address: str,
    diagnostic: str,
    mta: str | None,
    permanent: bool | None,
    reader: Reader,
    *,
    evidence: str = "",
    fallback: StatusClass = StatusClass.UNKNOWN,
    flags: tuple[ParseFlag, ...] = (),
) -> BounceRecipient:
    """A recipient of a text bounce: `permanent` False means the text says it is still trying."""
    action = "failed" if permanent is not False else "delayed"
    found = [source("final_recipient", reader, evidence or address)] if address else []
    if mta:
        found.append(source("remote_mta", reader, mta))
    return recipient(
        address,
        diagnostic,
        reader=reader,
        action=action,
        remote_mta=mta,
        fallback=fallback,
        evidence=tuple(found),
        flags=flags,
    )


def unique(recipients: list[BounceRecipient]) -> list[BounceRecipient]:
    """One recipient per address (the first, most specific reading kept); an empty address only
    when no recipient was named at all."""
    seen: dict[str, BounceRecipient] = {}
    for rcpt in recipients:
        key = rcpt.final_recipient.lower()
        if key not in seen:
            seen[key] = rcpt
        elif seen[key].smtp_code is None and rcpt.smtp_code is not None:
            seen[key] = rcpt
    named = [r for k, r in seen.items() if k]
    return named or list(seen.values())
