"""The SQLite driver of the history: one file, WAL journal, writers wait instead of failing.

WAL lets readers (`probe history`) run beside a writing `probe check`; `BEGIN IMMEDIATE` takes
the write lock at the start of a transaction so two writers queue rather than deadlock, and the
busy timeout bounds the wait. A process killed mid-transaction leaves the file as it was before
that transaction (SQLite's journal rolls it back on the next open).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from probe.errors import HistoryError

BUSY_TIMEOUT_S = 30.0


class SqliteDriver:
    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection

    def execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, tuple(params))

    @contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[None]:
        """`BEGIN IMMEDIATE` always takes the write lock: every transaction is exclusive."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.rollback()
            raise
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()


def connect_sqlite(path: Path) -> SqliteDriver:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not path.is_file():
            raise HistoryError(f"{path}: not a regular file")
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot open the history {path}: {exc}") from None
    except OSError as exc:
        raise HistoryError(f"cannot open the history {path}: {exc.strerror or exc}") from None
    return SqliteDriver(conn)
