"""What the history store keeps of each result: an index row beside the whole JSON document.

The document is the command's own `--json` output (`probe.run/1`, `probe.check/1` per target), so
a stored result is read back with the same `from_data` as a saved file, by anyone, in any
version that still reads that schema.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from probe.model.status import Status


class RecordKind(enum.StrEnum):
    RUN = "run"  # one `probe run`
    CHECK = "check"  # one target of a `probe check`


@dataclasses.dataclass(frozen=True)
class StoredResult:
    """One stored result's index row (the document is fetched apart: it can be megabytes)."""

    result_id: str
    kind: RecordKind
    target: str  # the domain, or HOST[:PORT] for a box under test
    vantage: str  # where it was measured from (`--vantage`, default the host name)
    profile: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: Status
    interrupted: bool
    schema: str
    pinned: bool = False


@dataclasses.dataclass(frozen=True)
class HistoryQuery:
    """A filter over stored results; every field left at its default matches all."""

    target: str | None = None
    vantage: str | None = None
    kind: RecordKind | None = None
    status: Status | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 100
