"""What the collect stage found, per probe (pure data; the run result embeds it).

Each expected probe ends in one of three states. `missing` means the message was accepted
(the sender got a 250) but neither a copy nor a bounce turned up before the deadline: the
silent drop or quarantine that the decide stage reasons about.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from probe.model.json import INLINE
from probe.model.message import DeliveredCopy


class Arrival(enum.StrEnum):
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    MISSING = "missing"  # accepted but neither delivered nor bounced before the deadline


@dataclasses.dataclass(frozen=True)
class FoundMessage:
    """A message from a mailbox that is not a probe copy (a bounce candidate), with its place."""

    raw: bytes
    folder: str
    junk: bool = False
    source: str = ""
    found_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class CollectedBounce:
    """A bounce found in a mailbox, matched to the probe ids it reports on.

    `analyze.bounce` parses `message.raw` later. In JSON the message's fields sit next to
    `probe_ids` (one flat object, as before the bounce held a `FoundMessage`).
    """

    probe_ids: tuple[str, ...]
    message: FoundMessage = dataclasses.field(metadata=INLINE)


@dataclasses.dataclass(frozen=True)
class ArrivalStatus:
    probe_id: str
    variant: str
    status: Arrival
    folders: tuple[str, ...] = ()  # where copies landed (INBOX, Junk, ...)
    junk: bool = False  # at least one copy in a junk/spam folder
    matched_by: str = ""  # the tag that matched the first copy
    bounces: int = 0
    first_seen_ms: float | None = None  # since collection started


@dataclasses.dataclass(frozen=True)
class CollectResult:
    mailbox: str  # URL without secrets
    bounce_mailbox: str
    started_at: dt.datetime
    duration_ms: float
    deadline_passed: bool
    statuses: tuple[ArrivalStatus, ...] = ()
    delivered: tuple[DeliveredCopy, ...] = ()
    bounces: tuple[CollectedBounce, ...] = ()
    skipped: tuple[str, ...] = ()  # files not read as messages, and why (a FIFO, over the cap)

    def status_of(self, probe_id: str) -> Arrival | None:
        for status in self.statuses:
            if status.probe_id == probe_id:
                return status.status
        return None

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(s.probe_id for s in self.statuses if s.status is Arrival.MISSING)
