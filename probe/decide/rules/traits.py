"""The properties of a variant a condition can be made of (size, attachments, the body's
transfer encoding, SMTPUTF8, long lines, Received count, recipients), each with the words a user
reads, and the predicates a set of refused variants shares (pure). `conditions` searches them
for the one that separates refused from passed variants.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Sequence

from probe.model.send import VariantSend
from probe.model.variant import AttachmentKind, Encoding, VariantSpec


class Trait(enum.StrEnum):
    """A property a condition names; the order is the order of words in a condition."""

    SIZE = "size"
    ATTACHMENT = "attachment"  # any attachment
    ATTACHMENT_KIND = "attachment-kind"  # attachments of some kinds only
    ENCODING = "encoding"  # the body's transfer encoding (8bit, quoted-printable, base64)
    SMTPUTF8 = "smtputf8"
    LONG_LINES = "long-lines"
    RECEIVED = "received"  # Received headers the message already carries
    RECIPIENTS = "recipients"  # recipients in one transaction


# How a condition names an attachment kind ("messages with a ZIP attachment").
KIND_WORDS: dict[AttachmentKind, str] = {
    AttachmentKind.TEXT: "a text attachment",
    AttachmentKind.BINARY: "a binary attachment",
    AttachmentKind.ZIP: "a ZIP attachment",
    AttachmentKind.ZIP_EXE: "a ZIP holding an .exe",
    AttachmentKind.EXE: "an .exe attachment",
    AttachmentKind.PDF: "a PDF attachment",
    AttachmentKind.RFC822: "an attached message",
    AttachmentKind.LONGNAME: "an attachment with a long non-ASCII file name",
    AttachmentKind.EICAR: "the EICAR test file",
}


@dataclasses.dataclass(frozen=True)
class Facts:
    """What a condition can say about one variant as it was sent."""

    variant: str
    size: int | None
    kinds: frozenset[AttachmentKind] = frozenset()
    recipients: int = 1
    received: int = 0
    encoding: Encoding = Encoding.SEVEN_BIT
    smtputf8: bool = False
    line_length: int = 0


def facts_of(send: VariantSend, spec: VariantSpec | None) -> Facts:
    if spec is None:
        return Facts(send.variant, send.size or None)
    return Facts(
        send.variant,
        send.size or None,
        frozenset(a.kind for a in spec.attachments),
        spec.recipients,
        spec.received_headers,
        spec.encoding,
        spec.smtputf8,
        spec.line_length or 0,
    )


@dataclasses.dataclass(frozen=True)
class Predicate:
    """A property every refused variant has; `words` follow "messages" in a condition."""

    trait: Trait
    words: str
    holds: Callable[[Facts], bool]
    limit: str = ""  # where the limit lies, from the passed variants: "(the limit lies ...)"
    figure: int | None = None  # the smallest refused value of a numeric trait


def shared_predicates(failed: Sequence[Facts], passed: Sequence[Facts]) -> list[Predicate]:
    """Every predicate all `failed` variants satisfy, in `Trait` order; `passed` only sets the
    words (the kinds no passed variant had, where a limit lies)."""
    found: list[Predicate] = []
    for make in _MAKERS:
        found.extend(p for p in make(failed, passed) if all(p.holds(f) for f in failed))
    return found


def _size(failed: Sequence[Facts], passed: Sequence[Facts]) -> Iterable[Predicate]:
    sizes = [f.size for f in failed]
    if not sizes or any(s is None for s in sizes):
        return
    low = min(s for s in sizes if s is not None)
    below = [p.size for p in passed if p.size is not None and p.size < low]
    limit = f"(the limit lies between {max(below):,} and {low:,} bytes)" if below else ""
    yield Predicate(
        Trait.SIZE,
        f"of {low:,} bytes and more",
        lambda f: f.size is not None and f.size >= low,
        limit,
        low,
    )


def _attachments(failed: Sequence[Facts], passed: Sequence[Facts]) -> Iterable[Predicate]:
    yield Predicate(Trait.ATTACHMENT, "with an attachment", lambda f: bool(f.kinds))
    passed_kinds = frozenset().union(*(p.kinds for p in passed))
    only = frozenset().union(*(f.kinds for f in failed)) - passed_kinds
    if only:
        words = " or ".join(KIND_WORDS[k] for k in sorted(only))
        yield Predicate(Trait.ATTACHMENT_KIND, f"with {words}", lambda f: bool(f.kinds & only))


def _flags(failed: Sequence[Facts], passed: Sequence[Facts]) -> Iterable[Predicate]:
    encodings = {f.encoding for f in failed}
    if len(encodings) == 1 and (body := encodings.pop()) is not Encoding.SEVEN_BIT:
        article = "an" if body is Encoding.EIGHT_BIT else "a"
        words = f"with {article} {body} body"
        yield Predicate(Trait.ENCODING, words, lambda f: f.encoding is body)
    yield Predicate(Trait.SMTPUTF8, "with UTF-8 addresses (SMTPUTF8)", lambda f: f.smtputf8)
    low = min((f.line_length for f in failed), default=0)
    if low > 0:
        yield Predicate(
            Trait.LONG_LINES,
            f"with a line of {low:,} characters or more",
            lambda f: f.line_length >= low,
            figure=low,
        )


def _received(failed: Sequence[Facts], passed: Sequence[Facts]) -> Iterable[Predicate]:
    low = min((f.received for f in failed), default=0)
    if low <= 0:
        return
    below = [p.received for p in passed if p.received < low]
    limit = f"(the most that passed carried {max(below)})" if below else ""
    yield Predicate(
        Trait.RECEIVED,
        f"already carrying {low} or more Received headers",
        lambda f: f.received >= low,
        limit,
        low,
    )


def _recipients(failed: Sequence[Facts], passed: Sequence[Facts]) -> Iterable[Predicate]:
    low = min((f.recipients for f in failed), default=1)
    if low <= 1:
        return
    below = [p.recipients for p in passed if p.recipients < low]
    if max(below, default=1) <= 1:
        words, limit = "sent to several recipients at once", ""
    else:
        words = f"sent to {low} or more recipients at once"
        limit = f"(the most that passed: {max(below)})"
    yield Predicate(Trait.RECIPIENTS, words, lambda f: f.recipients >= low, limit, low)


_MAKERS = (_size, _attachments, _flags, _received, _recipients)
