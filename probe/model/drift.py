"""Drift: what changed on a path between two measurements, each change with before and after."""

from __future__ import annotations

import dataclasses
import enum


class DriftKind(enum.StrEnum):
    MX_SET = "mx-set"  # the exchanges changed
    BANNER = "banner"
    CAPABILITIES = "capabilities"  # an extension appeared or vanished
    STARTTLS_VANISHED = "starttls-vanished"  # offered before, not now
    CERTIFICATE = "certificate"  # fingerprint, issuer or expiry changed
    HOP_ADDED = "hop-added"
    HOP_REMOVED = "hop-removed"
    HOP_SOFTWARE = "hop-software"  # the same hop names other software
    INJECTED_HEADERS = "injected-headers"
    SIZE_LIMIT = "size-limit"
    HOP_DELAY = "hop-delay"  # a hop's delay grew markedly
    VERDICTS = "verdicts"  # a hop does something it did not, or no longer


@dataclasses.dataclass(frozen=True)
class DriftItem:
    kind: DriftKind
    subject: str  # what changed: an address, a hop, the target
    before: str
    after: str
    summary: str  # one sentence


class DriftBase(enum.StrEnum):
    PREVIOUS = "previous"  # the newest finished result before this one
    BASELINE = "baseline"  # the result pinned with `probe history pin`


@dataclasses.dataclass(frozen=True)
class Drift:
    """The changes of `after_id` against `before_id` (the previous result or the baseline)."""

    before_id: str
    after_id: str
    against: DriftBase
    items: tuple[DriftItem, ...] = ()
