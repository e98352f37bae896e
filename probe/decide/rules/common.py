"""Shared pieces of the decide rules: how a rule places its conclusion, the words for changes,
the reply patterns and small formatting helpers (pure).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from probe.analyze import fingerprint
from probe.decide.context import Context, Placed, SeenProduct
from probe.model.diff import ChangeKind
from probe.model.smtp import Outcome, Reply
from probe.model.verdict import Action, Confidence, Evidence, HopAction, HopKey, ReplyMeaning

Rule = Callable[[Context], list[Placed]]


def place(
    hop: HopKey,
    action: Action,
    summary: str,
    *,
    condition: str,
    evidence: Iterable[Evidence],
    confidence: Confidence,
    rule: str,
    variants: Iterable[str] = (),
    check: str = "",
    ambiguous: str = "",
    alternatives: Iterable[HopKey] = (),
    products: Iterable[SeenProduct] = (),
    reply: ReplyMeaning | None = None,
) -> Placed:
    """A rule's conclusion that `hop` takes `action`, on the evidence given (the one way the
    rules build a placed action). When the evidence cannot decide, `hop` is the likeliest,
    `alternatives` the other candidates (likeliest first) and `ambiguous` says why; the
    assembly caps such an action's confidence (`model.verdict.AMBIGUOUS_CONFIDENCE`)."""
    others = tuple(dict.fromkeys(k for k in alternatives if k != hop))
    found = HopAction(
        action,
        summary,
        condition=condition,
        evidence=tuple(evidence),
        confidence=confidence,
        rule=rule,
        check=check,
        variants=tuple(variants),
        alternatives=others,
        ambiguity=ambiguous if others else "",
        reply=reply,
    )
    return Placed(hop, found, tuple(products), ambiguous=ambiguous)


REWRITE_WORDS = {
    ChangeKind.SUBJECT_TAGGED: "tags the Subject",
    ChangeKind.ADDRESS_REWRITTEN: "rewrites addresses",
    ChangeKind.MESSAGE_ID_REPLACED: "replaces the Message-ID",
    ChangeKind.BODY_APPENDED: "appends text to the body",
    ChangeKind.BODY_PREPENDED: "prepends text to the body",
    ChangeKind.BODY_INSERTED: "inserts text into the body",
    ChangeKind.BODY_CHANGED: "changes the body",
    ChangeKind.ENCODING_CHANGED: "changes the transfer encoding",
    ChangeKind.CHARSET_CHANGED: "changes the charset",
    ChangeKind.CONTENT_TYPE_CHANGED: "changes a content type",
    ChangeKind.LINE_REWRAPPED: "re-wraps lines",
    ChangeKind.PART_REMOVED: "removes MIME parts",
    ChangeKind.PART_ADDED: "adds MIME parts",
    ChangeKind.ATTACHMENT_REPLACED: "replaces attachments",
    ChangeKind.ATTACHMENT_RENAMED: "renames attachments",
    ChangeKind.STRUCTURE_CHANGED: "restructures the MIME tree",
    ChangeKind.URL_REWRITTEN: "rewrites URLs",
    ChangeKind.HEADER_MODIFIED: "modifies headers",
    ChangeKind.HEADER_REMOVED: "removes headers",
}


# probe's own marker headers, which plan.craft writes: a change to one is no hop's rewrite (a run
# re-analysed by another probe version re-crafts another X-Probe, and with it another padding).
MARKER_HEADERS = frozenset({"x-probe", "x-probe-id", "x-probe-padding"})


GREYLIST = re.compile(r"grey|gray|try again later|temporar", re.I)


VIRUS = re.compile(r"virus|malware|infect|eicar|scan", re.I)


MB = 1024 * 1024


BROKEN = {
    Outcome.TIMEOUT,
    Outcome.DISCONNECTED,
    Outcome.RESET,
    Outcome.GARBAGE,
    Outcome.TLS_FAILED,
    Outcome.REFUSED,
    Outcome.UNREACHABLE,
}


def reply_line(reply: Reply | None, stage: str) -> str:
    if reply is None:
        return f"{stage}: (no reply)"
    return f"{stage}: {reply.code} {reply.text}".strip()


def first_sentence(text: str) -> str:
    """`Permanent scan failure. Email Session ID: {...}` -> `Permanent scan failure`."""
    head = re.split(r"\.\s", text, maxsplit=1)[0]
    return head.rstrip(".") if head else text


def human(n: int) -> str:
    return f"{n:,}"


def is_middlebox(match: fingerprint.ProductMatch) -> bool:
    return match.role is fingerprint.Role.MIDDLEBOX
