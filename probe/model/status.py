"""Monitoring-plugin status (the exit code) and how statuses combine."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable


class Status(enum.IntEnum):
    """Monitoring-plugin status; the value is the process exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


# CRITICAL outranks UNKNOWN outranks WARNING outranks OK.
_SEVERITY = {Status.OK: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}


def rank(status: Status) -> int:
    """How bad a status is, for sorting: OK 0, WARNING 1, UNKNOWN 2, CRITICAL 3."""
    return _SEVERITY[status]


def worst(statuses: Iterable[Status]) -> Status:
    """The status that wins when several are combined."""
    result = Status.OK
    for status in statuses:
        if _SEVERITY[status] > _SEVERITY[result]:
            result = status
    return result


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
