"""What a delivery path changed in a probe message: the result of `probe.analyze.diff`.

A `DiffResult` lists every difference between the message as sent and the copy as delivered as a
`Change`, in delivered order, with its evidence: the exact place of an added header among the
Received headers (which lets `decide` attribute it to a hop), the text a hop inserted, quoted
exactly up to `EXACT` characters, and before/after excerpts cut at `EXCERPT`. The diff is bounded
(MIME depth and parts, header fields, alignment work): where a bound is reached, a `not-compared`
change names it, so a partial comparison is never mistaken for a complete one.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Final

EXCERPT: Final = 200  # bound of a before/after excerpt
EXACT: Final = 4000  # bound of text quoted exactly (footers, banners, tags)


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """`text` cut to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ChangeKind(enum.StrEnum):
    TRACE_ADDED = "trace-added"
    HEADER_ADDED = "header-added"
    HEADER_REMOVED = "header-removed"
    HEADER_MODIFIED = "header-modified"
    SUBJECT_TAGGED = "subject-tagged"
    ADDRESS_REWRITTEN = "address-rewritten"
    MESSAGE_ID_REPLACED = "message-id-replaced"
    BODY_APPENDED = "body-appended"
    BODY_PREPENDED = "body-prepended"
    BODY_INSERTED = "body-inserted"  # text inserted in the middle of a part
    BODY_CHANGED = "body-changed"
    ENCODING_CHANGED = "encoding-changed"
    CHARSET_CHANGED = "charset-changed"
    CONTENT_TYPE_CHANGED = "content-type-changed"
    LINE_REWRAPPED = "line-rewrapped"
    LINE_ENDINGS_CHANGED = "line-endings-changed"  # CRLF stored as LF: a mailbox artifact
    PART_REMOVED = "part-removed"
    PART_ADDED = "part-added"
    ATTACHMENT_REPLACED = "attachment-replaced"
    ATTACHMENT_RENAMED = "attachment-renamed"
    STRUCTURE_CHANGED = "structure-changed"
    URL_REWRITTEN = "url-rewritten"
    MALFORMED = "malformed"  # the delivered copy has MIME defects the sent one did not
    NOT_COMPARED = "not-compared"  # a bound was reached: its detail names it and what was left


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a header sits in the delivered header block.

    Headers are prepended, so one found below the Received header of hop k (and above that of
    hop k-1) was added by hop k or by an invisible hop between them. `received_above_by` and
    `received_below_by` name those Received headers by their `by` host.
    """

    index: int  # 0-based index in the delivered header block
    received_above: int  # Received headers above it
    received_total: int  # Received headers in the whole block
    received_above_by: str | None = None  # `by` of the Received header directly above
    received_below_by: str | None = None  # `by` of the Received header directly below


@dataclasses.dataclass(frozen=True)
class Change:
    kind: ChangeKind
    where: str  # header name, or MIME part path ("0" root, "1", "1.2"; "1->2" when it moved)
    before: str = ""
    after: str = ""
    detail: str = ""  # one line
    inserted: str = ""  # exact text a hop added: footer, banner, subject tag
    placement: Placement | None = None  # header additions and modifications
    trace: bool = False  # expected hop bookkeeping, listed but not a finding


@dataclasses.dataclass(frozen=True)
class DiffResult:
    changes: tuple[Change, ...]
    size_sent: int
    size_delivered: int
    size_delta: int

    @property
    def findings(self) -> tuple[Change, ...]:
        """The changes that are not trace bookkeeping."""
        return tuple(c for c in self.changes if not c.trace)
