"""`probe history`: list, show, compare, pin and prune the stored results of runs and checks."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated

import typer
from tabulate import tabulate

from probe.analyze.drift import compare
from probe.analyze.snapshot import run_snapshot
from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish
from probe.cli.options import DbOpt
from probe.errors import HistoryError, UsageError
from probe.history.store import History, open_history
from probe.model.check import TargetCheck
from probe.model.history import HistoryQuery, RecordKind, StoredResult
from probe.model.json import from_data
from probe.model.run import RunResult
from probe.model.snapshot import PathSnapshot
from probe.model.status import Status, utcnow

history_app = typer.Typer(help="Stored results: list, show, diff, pin, prune.")
app.add_typer(history_app, name="history")

_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([mhdw])")


def _since(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    match = _AGE.fullmatch(text.strip().lower())
    if match:
        unit = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}[match[2]]
        return utcnow() - dt.timedelta(seconds=float(match[1]) * unit)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since {text!r}: an age (30m, 12h, 7d, 2w) or an ISO time") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _row(e: StoredResult) -> list[str]:
    return [e.result_id, e.kind.value, e.target, e.vantage, e.profile,
            f"{e.started_at:%Y-%m-%d %H:%M:%S}", e.status.name,
            ("interrupted " if e.interrupted else "") + ("pinned" if e.pinned else "")]


@history_app.callback(invoke_without_command=True)
def history(
    ctx: typer.Context,
    db: DbOpt = None,
    target: Annotated[str | None, typer.Option("--target", help="Only this target.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only OK, WARNING, CRITICAL or UNKNOWN.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="7d, 12h, or an ISO time.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List stored results, newest first."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = db
        return
    wanted = None
    if status is not None:
        try:
            wanted = Status[status.upper()]
        except KeyError:
            raise UsageError(f"--status {status!r}: OK, WARNING, CRITICAL or UNKNOWN") from None
    with open_history(db) as store:
        found = store.query(HistoryQuery(target=target, status=wanted, since=_since(since),
                                         limit=limit))
    if json_out:
        emit_json("probe.history/1", {"results": found})
    else:
        headers = ["result", "kind", "target", "vantage", "profile", "started (UTC)", "status", ""]
        emit_text(tabulate([_row(e) for e in found], headers=headers) if found else "no results")
    finish(Status.OK)


def _snapshot(store: History, result_id: str) -> tuple[StoredResult, PathSnapshot | None, str]:
    entry = store.entry(result_id)
    text = store.document(result_id)
    try:
        data = json.loads(text)
        if entry.kind is RecordKind.CHECK:
            return entry, from_data(TargetCheck, data).snapshot, text
        return entry, run_snapshot(from_data(RunResult, data)), text
    except (ValueError, TypeError, KeyError) as exc:
        raise HistoryError(f"{result_id}: the stored document cannot be read: {exc}") from None


@history_app.command("show")
def show(ctx: typer.Context, result_id: str, db: DbOpt = None) -> None:
    """Print one stored result's document (the command's own --json output)."""
    with open_history(db or ctx.obj) as store:
        store.entry(result_id)
        emit_text(store.document(result_id))
    finish(Status.OK)


@history_app.command("diff")
def diff(ctx: typer.Context, before: str, after: str, db: DbOpt = None,
         json_out: JsonOpt = False) -> None:
    """What changed from BEFORE to AFTER (two stored results of one target)."""
    with open_history(db or ctx.obj) as store:
        a, snap_a, _ = _snapshot(store, before)
        b, snap_b, _ = _snapshot(store, after)
    if a.target != b.target:
        raise UsageError(f"{before} is of {a.target}, {after} of {b.target}: not one target")
    items = compare(snap_a, snap_b) if snap_a is not None and snap_b is not None else ()
    if json_out:
        emit_json("probe.history-diff/1", {"before": before, "after": after, "items": items})
    else:
        emit_text("\n".join(i.summary for i in items) or "no change")
    finish(Status.WARNING if items else Status.OK)


@history_app.command("pin")
def pin(ctx: typer.Context, result_id: str, db: DbOpt = None) -> None:
    """Make RESULT the baseline its target's later checks are compared with."""
    with open_history(db or ctx.obj) as store:
        entry = store.pin(result_id, utcnow())
    emit_text(f"{entry.result_id} is the baseline of {entry.target} ({entry.vantage})")
    finish(Status.OK)


@history_app.command("prune")
def prune(
    ctx: typer.Context,
    keep_days: Annotated[float, typer.Option("--keep-days", min=0.01, help="Keep this long.")],
    db: DbOpt = None,
) -> None:
    """Delete results older than --keep-days (pinned baselines stay)."""
    with open_history(db or ctx.obj) as store:
        count = store.prune(keep_days, utcnow())
    emit_text(f"deleted {count} result(s)")
    finish(Status.OK)
