"""The PostgreSQL driver of the history (psycopg 3), for many vantage points writing to one store.

The statements are the SQLite ones with `?` placeholders; they are turned into psycopg's `%s`
here. Migrations run under a transaction-level advisory lock, so probes starting at once against
a new database apply them once. psycopg is imported only when a `postgresql://` URL is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from probe.errors import HistoryError, error_line

CONNECT_TIMEOUT_S = 10
_MIGRATION_LOCK = 0x70726F6265  # "probe"


class PostgresDriver:
    dialect = "postgresql"

    def __init__(self, connection: Any) -> None:
        self._conn = connection

    def execute(self, sql: str, params: Sequence[object] = ()) -> Any:
        return self._conn.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(params))

    @contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[None]:
        with self._conn.transaction():
            if exclusive:
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            yield

    def close(self) -> None:
        self._conn.close()


def connect_postgres(url: str) -> PostgresDriver:
    """Connect; a password in the URL is refused (it would show in process titles and shell
    history): libpq reads it from PGPASSWORD or a ~/.pgpass / PGPASSFILE file instead."""
    userinfo = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
    if ":" in userinfo or "password=" in url:
        raise HistoryError(
            "a password in the history URL is refused (it would show in process titles):"
            " use PGPASSWORD or a .pgpass file (PGPASSFILE)"
        )
    try:
        import psycopg
    except ImportError:
        raise HistoryError(
            "a postgresql:// history needs psycopg 3 (pip install 'probe-mailpath[postgres]')"
        ) from None
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise HistoryError(f"cannot connect to the history database: {error_line(exc)}") from None
    return PostgresDriver(conn)
