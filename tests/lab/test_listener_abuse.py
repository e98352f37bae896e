"""probe listen attacked as an internet-facing server is, beyond tests/lab/test_listener_bounds:
a flood of connections from many addresses, an endless BDAT chunk, a session of thousands of
lines, hostile words in what it writes: it stays within its bounds, writes only under its
directory, keeps serving the others and never relays. Every loop is bounded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from probe.model.listener import LINE_KEPT, LINES_KEPT
from probe.server.session_files import FILE_MAX, load_sessions
from tests.lab.raw_smtp import Client, Served, transaction
from tests.lab.test_listener_bounds import SMALL, _until

LIMITS = dataclasses.replace(SMALL, max_sessions=6, session_timeout=20.0)
FLOOD = 40  # connections opened at once


def test_a_flood_of_connections_is_capped_and_the_admitted_are_served(tmp_path: Path) -> None:
    # idle long enough that the admitted wait out the flood's greetings on a busy machine
    with Served(tmp_path, dataclasses.replace(LIMITS, idle_timeout=15.0)) as served:
        clients = [Client(served.port, f"127.0.0.{2 + i % 10}") for i in range(FLOOD)]
        greetings = [c.reply() for c in clients]
        admitted = [c for c, g in zip(clients, greetings, strict=True) if g.startswith("220")]
        refused = [g for g in greetings if not g.startswith("220")]
        assert len(admitted) == LIMITS.max_sessions
        assert len(refused) == FLOOD - len(admitted)
        assert all(g.startswith("421 4.7.0 sink.test Error: too many connections") for g in refused)
        for c in admitted:  # the ones within the caps are served while the flood goes on
            assert transaction(c).startswith("250")
        for c in clients:
            c.close()
        _until(lambda: served.open_sessions() == 0)
        with Client(served.port) as later:
            assert later.reply().startswith("220")
    stored = list((served.maildir / "new").iterdir())
    assert len(stored) == LIMITS.max_sessions


def test_an_endless_bdat_chunk_is_cut_and_never_stored(tmp_path: Path) -> None:
    with Served(tmp_path, LIMITS) as served:
        with Client(served.port, "127.0.0.2") as endless:
            endless.reply()
            endless.cmd("EHLO endless.test")
            endless.cmd("MAIL FROM:<a@endless.test>")
            endless.cmd("RCPT TO:<b@sink.test>")
            endless.send(b"BDAT 99999999999 LAST\r\n")
            for _ in range(20):  # 2 MB of a chunk that never ends, over the size limit
                endless.send(b"y" * 100_000)
            with Client(served.port, "127.0.0.3") as other:  # others are served meanwhile
                other.reply()
                assert transaction(other).startswith("250")
            assert endless.reply() == "421 4.4.2 sink.test Error: timeout exceeded"
        assert len(list((served.maildir / "new").iterdir())) == 1


def test_a_session_of_thousands_of_lines_has_a_bounded_record(tmp_path: Path) -> None:
    limits = dataclasses.replace(LIMITS, idle_timeout=10.0)
    with Served(tmp_path, limits) as served:
        with Client(served.port, timeout=20) as c:
            c.reply()
            c.send(b"NOOP " + b"n" * 400 + b"\r\n" + b"NOOP\r\n" * 3000 + b"QUIT\r\n")
            for _ in range(3002):
                if not c.reply():
                    break
        _until(lambda: bool(load_sessions(served.maildir)))
    (record,) = load_sessions(served.maildir)
    assert len(record.lines) == LINES_KEPT and record.lines_dropped > 5000
    assert all(len(line.text) <= LINE_KEPT for line in record.lines)
    (path,) = (served.maildir / "sessions").iterdir()
    assert path.stat().st_size < FILE_MAX
    assert path.name.endswith(".json") and "NOOP" not in path.name  # named by the listener
