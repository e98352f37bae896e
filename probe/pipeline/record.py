"""Storing a `probe run` in the history, beside the checks: the same store, its own kind.

A run is stored whole (its `probe.run/1` document, which holds no secret), finished or
interrupted, under its run id, so `probe history` lists it and `probe history diff` compares two
runs of one domain.
"""

from __future__ import annotations

import json

from probe.history.store import History
from probe.model.history import RecordKind, StoredResult
from probe.model.json import document
from probe.model.run import RUN_SCHEMA, RunResult


def run_entry(result: RunResult, vantage: str) -> StoredResult:
    """The index row of one run."""
    return StoredResult(
        result_id=result.run_id,
        kind=RecordKind.RUN,
        target=result.domain,
        vantage=vantage,
        profile=result.profile,
        started_at=result.started_at,
        finished_at=result.finished_at,
        status=result.status,
        interrupted=result.interrupted,
        schema=RUN_SCHEMA,
    )


def store_run(history: History, result: RunResult, vantage: str) -> None:
    history.add(run_entry(result, vantage), json.dumps(document(RUN_SCHEMA, result)))
