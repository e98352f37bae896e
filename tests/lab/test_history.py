"""The history store on a real SQLite file and a real PostgreSQL server, with the same tests.

Each backend gets a fresh database per test (a new file; a new schema-less database on the one
session server). Concurrent writers are separate processes, as two cron jobs would be; a writer
killed with SIGKILL in the middle of its writes leaves a readable database.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.errors import HistoryError
from probe.history import schema
from probe.history.store import History, default_path, open_history
from probe.model.history import HistoryQuery, RecordKind, StoredResult
from probe.model.status import Status
from tests.lab import postgres

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install -e '.[test]')")
    reason = postgres.unavailable_reason()
    if reason:
        pytest.skip(reason)
    with postgres.running_postgres() as url:
        yield url


def _fresh_pg_database(server_url: str) -> str:
    import psycopg

    name = f"h{os.getpid()}_{next(_counter)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.replace("/probe?", f"/{name}?")


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "state" / "history.sqlite")
    return _fresh_pg_database(request.getfixturevalue("pg_server"))


def _entry(n: int, *, target: str = "example.test", status: Status = Status.OK,
           kind: RecordKind = RecordKind.RUN, interrupted: bool = False,
           vantage: str = "probe-a") -> StoredResult:
    return StoredResult(
        result_id=f"20261201T08{n:04d}-abcdef", kind=kind, target=target, vantage=vantage,
        profile="quick", started_at=T0 + dt.timedelta(minutes=n),
        finished_at=T0 + dt.timedelta(minutes=n, seconds=30), status=status,
        interrupted=interrupted, schema="probe.run/1",
    )


def _doc(n: int) -> str:
    return json.dumps({"schema": "probe.run/1", "run_id": f"r{n}", "note": "é ✓ \udcff"[:5]})


def test_a_new_database_gets_the_latest_schema_and_reopens(where: str) -> None:
    with open_history(where) as history:
        assert history.version() == schema.LATEST
        history.add(_entry(1), _doc(1))
    with open_history(where) as again:
        assert again.version() == schema.LATEST
        assert [e.result_id for e in again.query(HistoryQuery())] == [_entry(1).result_id]


def test_add_query_filter_and_fetch(where: str) -> None:
    with open_history(where) as history:
        history.add(_entry(1), _doc(1))
        history.add(_entry(2, status=Status.CRITICAL), _doc(2))
        history.add(_entry(3, target="other.test"), _doc(3))
        history.add(_entry(4, kind=RecordKind.CHECK), _doc(4))
        newest_first = [e.result_id[-12:-7] for e in history.query(HistoryQuery())]
        assert newest_first == ["80004", "80003", "80002", "80001"]
        critical = history.query(HistoryQuery(status=Status.CRITICAL))
        assert [e.status for e in critical] == [Status.CRITICAL]
        assert len(history.query(HistoryQuery(target="other.test"))) == 1
        assert len(history.query(HistoryQuery(kind=RecordKind.CHECK))) == 1
        window = history.query(HistoryQuery(since=T0 + dt.timedelta(minutes=2),
                                            until=T0 + dt.timedelta(minutes=4)))
        assert len(window) == 2
        assert len(history.query(HistoryQuery(limit=1))) == 1
        got = history.entry(_entry(2).result_id)
        assert got == _entry(2, status=Status.CRITICAL)
        assert json.loads(history.document(_entry(2).result_id))["run_id"] == "r2"
        with pytest.raises(HistoryError, match="no stored result"):
            history.entry("nope")


def test_previous_skips_other_targets_vantages_kinds_and_interrupted_runs(where: str) -> None:
    with open_history(where) as history:
        history.add(_entry(1), _doc(1))
        history.add(_entry(2, target="other.test"), _doc(2))
        history.add(_entry(3, vantage="probe-b"), _doc(3))
        history.add(_entry(4, interrupted=True), _doc(4))
        history.add(_entry(5, kind=RecordKind.CHECK), _doc(5))
        history.add(_entry(6), _doc(6))
        previous = history.previous(_entry(6))
        assert previous is not None and previous.result_id == _entry(1).result_id
        assert history.previous(_entry(1)) is None


def test_pin_a_baseline_and_prune_keeps_it(where: str) -> None:
    with open_history(where) as history:
        for n in range(1, 5):
            history.add(_entry(n), _doc(n))
        pinned = history.pin(_entry(1).result_id, now=T0)
        assert pinned.pinned
        baseline = history.baseline("example.test", "probe-a", RecordKind.RUN)
        assert baseline is not None and baseline.result_id == _entry(1).result_id
        history.pin(_entry(2).result_id, now=T0)  # a new pin replaces the old one
        baseline = history.baseline("example.test", "probe-a", RecordKind.RUN)
        assert baseline is not None and baseline.result_id == _entry(2).result_id
        deleted = history.prune(keep_days=1, now=T0 + dt.timedelta(days=1, minutes=3, seconds=1))
        assert deleted == 2  # results 1 and 3; 2 is pinned, 4 is recent
        assert [e.result_id for e in history.query(HistoryQuery())] == [
            _entry(4).result_id, _entry(2).result_id]


def _writer(where: str, first: int, count: int) -> None:
    with open_history(where) as history:
        for n in range(first, first + count):
            history.add(_entry(n), _doc(n))


def test_concurrent_writers_lose_nothing(where: str) -> None:
    open_history(where).close()  # the schema exists before the race
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(where, i * 100, 25)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    with open_history(where) as history:
        assert len(history.query(HistoryQuery(limit=1000))) == 100


def test_concurrent_first_opens_migrate_once(where: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(where, i * 10, 1)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    with open_history(where) as history:
        assert history.version() == schema.LATEST
        assert len(history.query(HistoryQuery())) == 4


KILLED_WRITER = """
import sys, time
from tests.lab.test_history import _entry, _doc
from probe.history.store import open_history
with open_history(sys.argv[1]) as history:
    for n in range(100000):
        history.add(_entry(n), _doc(n)[:-1] + ', "pad": "' + 'x' * 20000 + '"}')
        if n == 20:
            print("writing", flush=True)
"""


def test_a_writer_killed_with_sigkill_leaves_a_readable_database(where: str) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, where], cwd=root,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with open_history(where) as history:
        stored = history.query(HistoryQuery(limit=100000))
        assert len(stored) >= 21
        for entry in stored[:5]:
            json.loads(history.document(entry.result_id))
    if not where.startswith("postgresql"):
        with sqlite3.connect(where) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_newer_schema_is_refused(where: str) -> None:
    history = open_history(where)
    history._db.execute("INSERT INTO probe_schema (version) VALUES (?)", (schema.LATEST + 5,))
    history.close()
    with pytest.raises(HistoryError, match="newer than this probe knows"):
        open_history(where)


def test_sqlite_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(HistoryError, match="not a regular file"):
        open_history(tmp_path / "dir.sqlite")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryError, match="cannot") as info:
        open_history(garbage)
    assert "\n" not in str(info.value)


def test_a_password_in_the_postgres_url_is_refused() -> None:
    with pytest.raises(HistoryError, match="PGPASSWORD") as info:
        open_history("postgresql://probe:s3cret@db.invalid/probe")
    assert "s3cret" not in str(info.value)


def test_the_default_place_is_the_xdg_state_directory() -> None:
    assert default_path({"XDG_STATE_HOME": "/s"}) == Path("/s/probe/history.sqlite")
    assert default_path({"HOME": "/home/u"}) == Path("/home/u/.local/state/probe/history.sqlite")


def test_history_type_is_the_one_returned(tmp_path: Path) -> None:
    assert isinstance(open_history(tmp_path / "h.sqlite"), History)
