"""The history of results: one store, on SQLite (the embedded default) or PostgreSQL (a fleet).

`open_history(where)` takes a file path or a `postgresql://` URL and returns a `History`; both
run the same statements and the same migrations (`history.schema`), so a fleet of probes can
write to one PostgreSQL and a single host keeps a file in its XDG state directory.

Writes are one transaction each, so a run killed half-way (even by SIGKILL) leaves the database
readable with every earlier result; concurrent writers wait for each other (SQLite in WAL mode
with a busy timeout, PostgreSQL row locks). What is stored is the command's own JSON document,
which by construction holds no secret.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from probe.errors import HistoryError, error_line
from probe.history import schema
from probe.model.history import HistoryQuery, RecordKind, StoredResult
from probe.model.status import Status

DEFAULT_NAME = "history.sqlite"


def default_path(environ: dict[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/probe/history.sqlite` (default `~/.local/state/probe/...`)."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME", "~")).expanduser()
    base = env.get("XDG_STATE_HOME") or str(home / ".local" / "state")
    return Path(base) / "probe" / DEFAULT_NAME


def default_vantage() -> str:
    return socket.gethostname() or "localhost"


class _Cursor(Protocol):
    def fetchall(self) -> Sequence[Sequence[Any]]: ...


class _Driver(Protocol):
    dialect: str

    def execute(self, sql: str, params: Sequence[object] = ()) -> _Cursor: ...

    def transaction(self, *, exclusive: bool = False) -> Any: ...

    def close(self) -> None: ...


_COLUMNS = (
    "result_id, kind, target, vantage, profile, started_at, finished_at, status, interrupted,"
    " schema_name"
)


class History:
    """Stored results: add, list, fetch, pin a baseline, find the previous one, prune."""

    def __init__(self, driver: _Driver, where: str) -> None:
        self._db = driver
        self.where = where
        self._migrate()

    # ------------------------------------------------------------------ schema

    def _migrate(self) -> None:
        with self._guard("prepare"), self._db.transaction(exclusive=True):
            self._db.execute("CREATE TABLE IF NOT EXISTS probe_schema (version INTEGER NOT NULL)")
            rows = self._db.execute("SELECT max(version) FROM probe_schema").fetchall()
            current = int(rows[0][0] or 0) if rows else 0
            if current > schema.LATEST:
                raise HistoryError(
                    f"{self.where}: the history schema is version {current}, newer than this"
                    f" probe knows ({schema.LATEST}); upgrade probe"
                )
            for number, statements in schema.pending(current, self._db.dialect):
                for statement in statements:
                    self._db.execute(statement)
                self._db.execute("INSERT INTO probe_schema (version) VALUES (?)", (number,))

    def version(self) -> int:
        rows = self._db.execute("SELECT max(version) FROM probe_schema").fetchall()
        return int(rows[0][0] or 0)

    # ------------------------------------------------------------------ writes

    def add(self, entry: StoredResult, document: str) -> None:
        """Store one result; a result id stored before is replaced (a re-analysed run)."""
        row = (
            entry.result_id, entry.kind.value, entry.target, entry.vantage, entry.profile,
            self._ts(entry.started_at), self._ts(entry.finished_at), entry.status.name,
            entry.interrupted, entry.schema, document,
        )
        with self._guard("store a result in"), self._db.transaction():
            self._db.execute("DELETE FROM results WHERE result_id = ?", (entry.result_id,))
            self._db.execute(
                f"INSERT INTO results ({_COLUMNS}, document)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def pin(self, result_id: str, now: dt.datetime) -> StoredResult:
        """Make a stored result the baseline of its target (per vantage and kind)."""
        entry = self.entry(result_id)
        with self._guard("pin a baseline in"), self._db.transaction():
            self._db.execute(
                "DELETE FROM baselines WHERE target = ? AND vantage = ? AND kind = ?",
                (entry.target, entry.vantage, entry.kind.value),
            )
            self._db.execute(
                "INSERT INTO baselines (target, vantage, kind, result_id, pinned_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (entry.target, entry.vantage, entry.kind.value, result_id, self._ts(now)),
            )
        return self.entry(result_id)

    def prune(self, keep_days: float, now: dt.datetime) -> int:
        """Delete results older than `keep_days`, except pinned baselines; the count deleted."""
        cutoff = self._ts(now - dt.timedelta(days=keep_days))
        keep = "SELECT result_id FROM baselines"
        with self._guard("prune"), self._db.transaction():
            rows = self._db.execute(
                f"SELECT count(*) FROM results WHERE started_at < ? AND result_id NOT IN ({keep})",
                (cutoff,),
            ).fetchall()
            self._db.execute(
                f"DELETE FROM results WHERE started_at < ? AND result_id NOT IN ({keep})",
                (cutoff,),
            )
        return int(rows[0][0])

    # ------------------------------------------------------------------ reads

    def query(self, q: HistoryQuery) -> tuple[StoredResult, ...]:
        """Newest first."""
        where: list[str] = []
        params: list[object] = []
        for column, value in (
            ("target", q.target), ("vantage", q.vantage),
            ("kind", q.kind.value if q.kind else None),
            ("status", q.status.name if q.status is not None else None),
        ):
            if value is not None:
                where.append(f"r.{column} = ?")
                params.append(value)
        if q.since is not None:
            where.append("r.started_at >= ?")
            params.append(self._ts(q.since))
        if q.until is not None:
            where.append("r.started_at < ?")
            params.append(self._ts(q.until))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        params.append(max(1, q.limit))
        order = "ORDER BY r.started_at DESC, r.result_id DESC LIMIT ?"
        return self._select(f"{clause} {order}", params)

    def entry(self, result_id: str) -> StoredResult:
        found = self._select("WHERE r.result_id = ?", (result_id,))
        if not found:
            raise HistoryError(f"{self.where}: no stored result {result_id!r}")
        return found[0]

    def document(self, result_id: str) -> str:
        with self._guard("read"):
            rows = self._db.execute(
                "SELECT document FROM results WHERE result_id = ?", (result_id,)
            ).fetchall()
        if not rows:
            raise HistoryError(f"{self.where}: no stored result {result_id!r}")
        return str(rows[0][0])

    def previous(self, entry: StoredResult) -> StoredResult | None:
        """The newest finished result of the same target, vantage and kind before `entry`."""
        found = self._select(
            "WHERE r.target = ? AND r.vantage = ? AND r.kind = ? AND r.result_id <> ?"
            " AND r.started_at <= ? AND r.interrupted = ?"
            " ORDER BY r.started_at DESC, r.result_id DESC LIMIT 1",
            (entry.target, entry.vantage, entry.kind.value, entry.result_id,
             self._ts(entry.started_at), False),
        )
        return found[0] if found else None

    def baseline(self, target: str, vantage: str, kind: RecordKind) -> StoredResult | None:
        found = self._select(
            "WHERE r.target = ? AND r.vantage = ? AND r.kind = ? AND b.result_id IS NOT NULL",
            (target, vantage, kind.value),
        )
        return found[0] if found else None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers

    def _select(self, tail: str, params: Sequence[object]) -> tuple[StoredResult, ...]:
        columns = ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(","))
        sql = (
            f"SELECT {columns}, b.result_id FROM results r LEFT JOIN baselines b"
            f" ON b.result_id = r.result_id {tail}"
        )
        with self._guard("read"):
            rows = self._db.execute(sql, params).fetchall()
        return tuple(self._entry(row) for row in rows)

    def _entry(self, row: Sequence[Any]) -> StoredResult:
        return StoredResult(
            result_id=row[0], kind=RecordKind(row[1]), target=row[2], vantage=row[3],
            profile=row[4], started_at=_from_ts(row[5]), finished_at=_from_ts_or_none(row[6]),
            status=Status[row[7]], interrupted=bool(row[8]), schema=row[9],
            pinned=row[10] is not None,
        )

    def _ts(self, value: dt.datetime | None) -> object:
        if value is None:
            return None
        value = value.astimezone(dt.UTC)
        if self._db.dialect == "sqlite":
            return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # fixed width: sorts as text
        return value

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except HistoryError:
            raise
        except Exception as exc:  # the driver's own errors, translated at this edge
            if type(exc).__module__.split(".")[0] not in ("sqlite3", "psycopg"):
                raise
            text = error_line(exc)
            raise HistoryError(f"cannot {doing} the history {self.where}: {text}") from None


def _from_ts(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _from_ts_or_none(value: object) -> dt.datetime | None:
    return None if value is None else _from_ts(value)


def open_history(where: str | Path | None = None) -> History:
    """A path (created with its folder), `sqlite:PATH`, or a `postgresql://` URL."""
    text = str(where) if where is not None else str(default_path())
    if text.startswith(("postgresql://", "postgres://")):
        from probe.history.postgres import connect_postgres

        return History(connect_postgres(text), text)
    if text.startswith("sqlite:"):
        text = text[len("sqlite:"):]
    from probe.history.sqlite import connect_sqlite

    return History(connect_sqlite(Path(text)), text)

