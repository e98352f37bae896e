"""The history schema as versioned migrations, one list for SQLite and PostgreSQL alike.

Statements are written once with three placeholders for what the dialects spell differently
(`{ts}` a UTC timestamp, `{bool}`, `{doc}` the JSON document); `render` fills them in. A database
records the version it reached in `probe_schema`; opening it applies the missing migrations in
one transaction, under a lock, so two processes opening a new database at once do not race.
Never edit a released migration: append a new one.
"""

from __future__ import annotations

from typing import Final

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: results with their index columns, and pinned baselines
    (
        """CREATE TABLE results (
            result_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            vantage TEXT NOT NULL,
            profile TEXT NOT NULL,
            started_at {ts} NOT NULL,
            finished_at {ts},
            status TEXT NOT NULL,
            interrupted {bool} NOT NULL,
            schema_name TEXT NOT NULL,
            document {doc} NOT NULL
        )""",
        "CREATE INDEX results_by_target ON results (target, vantage, kind, started_at)",
        "CREATE INDEX results_by_time ON results (started_at)",
        """CREATE TABLE baselines (
            target TEXT NOT NULL,
            vantage TEXT NOT NULL,
            kind TEXT NOT NULL,
            result_id TEXT NOT NULL REFERENCES results (result_id) ON DELETE CASCADE,
            pinned_at {ts} NOT NULL,
            PRIMARY KEY (target, vantage, kind)
        )""",
    ),
)

LATEST: Final = len(MIGRATIONS)

DIALECTS: Final = {
    "sqlite": {"ts": "TEXT", "bool": "INTEGER", "doc": "TEXT"},
    "postgresql": {"ts": "TIMESTAMPTZ", "bool": "BOOLEAN", "doc": "TEXT"},
}


def render(statement: str, dialect: str) -> str:
    return statement.format(**DIALECTS[dialect])


def pending(current: int, dialect: str) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """The migrations after `current`, numbered, ready for `dialect`."""
    return tuple(
        (number, tuple(render(s, dialect) for s in MIGRATIONS[number - 1]))
        for number in range(current + 1, LATEST + 1)
    )
