"""probe listen under a bounded attack client (raw sockets, loopback): every bound holds and the
honest clients are still served. Small limits, so each test takes a second or two."""

from __future__ import annotations

import dataclasses
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.errors import ConfigError
from probe.lab.runtime import LabThread
from probe.lab.scenarios import parse_scenarios
from probe.server.limits import Limits
from probe.server.records import load_record
from tests.lab.raw_smtp import Client, Served, transaction

SMALL = Limits(
    max_size=100_000,
    max_recipients=5,
    max_sessions=4,
    max_sessions_per_client=2,
    max_line_length=512,
    idle_timeout=1.0,
    session_timeout=20.0,
    disk_budget=10_000_000,
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with Served(tmp_path, SMALL) as running:
        yield running


def _stored(maildir: Path) -> list[Path]:
    return sorted((maildir / "new").iterdir())


def _until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --------------------------------------------------------------------------- size


def test_size_is_advertised_and_enforced_while_reading(served: Served) -> None:
    with Client(served.port) as c:
        assert c.reply().startswith("220 sink.test")
        assert "250 SIZE 100000" in c.cmd("EHLO client.test").splitlines()
        assert c.cmd("MAIL FROM:<a@client.test> SIZE=100001").startswith("552 5.3.4")
        assert c.cmd("MAIL FROM:<a@client.test>").startswith("250")
        assert c.cmd("RCPT TO:<b@sink.test>").startswith("250")
        assert c.cmd("DATA").startswith("354")
        c.send(b"x\r\n" * 100_000 + b".\r\n")  # 300 KB of short lines
        assert c.reply() == "552 5.3.4 Message size exceeds fixed limit"
        assert c.cmd("NOOP").startswith("250")  # the session goes on
        assert transaction(c, b"Subject: s\r\n\r\n" + b"y" * 99_000 + b"\r\n").startswith("250")
    assert len(_stored(served.maildir)) == 1


def _rss_peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for the RSS")
def test_the_process_stays_small_under_a_huge_data_and_logs_one_escaped_line(
    tmp_path: Path,
) -> None:
    """`probe listen` as a process: 24 MB of DATA over a 1 MB limit leave its peak RSS within
    the limit plus slack; what hostile clients send reaches stderr escaped, without traceback."""
    port = _free_port()
    stderr = (tmp_path / "stderr").open("w+b")
    process = subprocess.Popen(
        [sys.executable, "-m", "probe", "listen", "--maildir", str(tmp_path / "md"),
         "--port", str(port), "--max-size", "1000000", "--duration", "60", "--json"],
        stdout=subprocess.PIPE, stderr=stderr,
    )  # fmt: skip
    try:
        for _ in range(200):  # until it listens
            try:
                Client(port).close()
                break
            except OSError:
                time.sleep(0.05)
        with Client(port) as c:
            c.reply()
            assert transaction(c).startswith("250")  # warm: every code path loaded
            before = _rss_peak(process.pid)
            c.cmd("MAIL FROM:<a@client.test>")
            c.cmd("RCPT TO:<b@sink.test>")
            assert c.cmd("DATA").startswith("354")
            line = b"x" * 998 + b"\r\n"
            for _ in range(24):
                c.send(line * 1000)
            c.send(b".\r\n")
            assert c.reply().startswith("552 5.3.4")
            growth = _rss_peak(process.pid) - before
            assert growth < 1_000_000 + 8_000_000, f"peak RSS grew {growth:,} bytes"
            assert c.cmd(b"NO\x1bOP").startswith("500")  # aiosmtpd logs unknown commands
            assert transaction(c, helo=b"evil\x1b[2J\x00name").startswith("250")
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    stderr.seek(0)
    log = stderr.read()
    assert b"\x1b" not in log and b"\x00" not in log and b"Traceback" not in log, log
    assert b"evil\\x1b[2J\\x00name" in log  # the record line, escaped
    assert b"unrecognised: NO\\x1bOP" in log  # aiosmtpd's own warning, escaped
    document = json.loads(out)
    assert document["stored"] == 2 and document["limits"]["max_size"] == 1_000_000


# --------------------------------------------------------------------------- recipients


def test_recipients_beyond_the_limit_get_452_and_one_copy_is_stored(served: Served) -> None:
    with Client(served.port) as c:
        c.reply()
        c.cmd("EHLO client.test")
        assert c.cmd("MAIL FROM:<a@client.test>").startswith("250")
        c.send(b"".join(b"RCPT TO:<r%d@sink.test>\r\n" % i for i in range(1000)))
        replies = [c.reply() for _ in range(1000)]
        assert all(r.startswith("250") for r in replies[:5])
        assert set(replies[5:]) == {"452 4.5.3 Too many recipients"}
        assert c.cmd("DATA").startswith("354")
        c.send(b"Subject: many\r\n\r\n20-byte body here.\r\n.\r\n")
        assert c.reply().startswith("250")
    (copy,) = _stored(served.maildir)
    head = copy.read_bytes().split(b"\r\n\r\n")[0]
    assert head.count(b"Delivered-To: ") == 5
    record = load_record(served.maildir / "dialogues" / f"{copy.name}.json")
    assert [r.address for r in record.rcpts] == [f"r{i}@sink.test" for i in range(5)]
    assert len(record.commands) <= 256
    assert (served.maildir / "dialogues" / f"{copy.name}.json").stat().st_size < 20_000


# --------------------------------------------------------------------------- sessions


def test_sessions_beyond_the_caps_get_421_and_the_others_are_served(served: Served) -> None:
    first = [Client(served.port, "127.0.0.1") for _ in range(2)]
    for c in first:
        assert c.reply().startswith("220")
    with Client(served.port, "127.0.0.1") as third:
        assert third.reply() == "421 4.7.0 sink.test Error: too many connections from 127.0.0.1"
        assert third.closed()
    others = [Client(served.port, "127.0.0.2") for _ in range(2)]
    for c in others:
        assert c.reply().startswith("220")
    with Client(served.port, "127.0.0.3") as fifth:
        assert fifth.reply() == "421 4.7.0 sink.test Error: too many connections"
        assert fifth.closed()
    for c in first + others:  # the sessions within the caps are served
        assert transaction(c).startswith("250")
        c.cmd("QUIT")
        c.close()
    _until(lambda: served.open_sessions() == 0)
    with Client(served.port, "127.0.0.3") as later:
        assert later.reply().startswith("220")
    assert len(_stored(served.maildir)) == 4


# --------------------------------------------------------------------------- lines and time


def test_a_long_command_line_gets_500_and_an_endless_one_ends_at_the_idle_timeout(
    served: Served,
) -> None:
    with Client(served.port) as c:
        c.reply()
        assert c.cmd("NOOP " + "x" * 600) == "500 5.5.2 Line too long"
        assert c.cmd("NOOP").startswith("250")
    with Client(served.port) as c:
        c.reply()
        started = time.monotonic()
        for _ in range(3):
            c.send(b"A" * 1_000_000)  # no end of line, ever
        assert c.reply() == "421 4.4.2 sink.test Error: timeout exceeded"
        assert c.closed()
        assert time.monotonic() - started < SMALL.idle_timeout + 3  # type: ignore[operator]


def test_slowloris_is_cut_at_the_idle_timeout_and_a_slow_data_at_the_session_timeout(
    tmp_path: Path,
) -> None:
    with Served(tmp_path, dataclasses.replace(SMALL, session_timeout=1.5)) as served:
        with Client(served.port) as c:
            c.reply()
            started = time.monotonic()
            try:
                for byte in b"EHLO slow.client.test":  # a byte every 0.2 s, never a whole line
                    c.send(bytes([byte]))
                    time.sleep(0.2)
            except OSError:
                pass  # cut
            assert c.reply() == "421 4.4.2 sink.test Error: timeout exceeded"
            assert time.monotonic() - started < 2.5
        with Client(served.port) as c:
            c.reply()
            c.cmd("EHLO client.test")
            c.cmd("MAIL FROM:<a@client.test>")
            c.cmd("RCPT TO:<b@sink.test>")
            assert c.cmd("DATA").startswith("354")
            try:
                for _ in range(20):  # a line every 0.3 s: never idle, but never done
                    c.send(b"slow line\r\n")
                    time.sleep(0.3)
            except OSError:
                pass
            assert c.reply() == "421 4.4.2 sink.test Error: session timeout exceeded"
        assert _stored(served.maildir) == []


def test_a_pipelining_client_does_not_starve_another(tmp_path: Path) -> None:
    limits = dataclasses.replace(SMALL, idle_timeout=10.0)
    burst = 10_000
    with Served(tmp_path, limits) as served:
        greedy = Client(served.port, timeout=20)
        greedy.reply()
        greedy.cmd("EHLO greedy.test")
        greedy.cmd("MAIL FROM:<a@greedy.test>")
        answered = [0]

        def drain() -> None:
            for _ in range(burst + 1):
                if not greedy.reply():
                    return
                answered[0] += 1

        reader = threading.Thread(target=drain)
        reader.start()
        greedy.send(b"RCPT TO:<r@sink.test>\r\n" * burst + b"QUIT\r\n")
        _until(lambda: answered[0] > 100)
        with Client(served.port) as other:
            other.reply()
            assert transaction(other).startswith("250")
            done_at = answered[0]
        reader.join(30)
        greedy.close()
    assert answered[0] == burst + 1
    assert done_at < burst * 0.9, f"the other client finished only after {done_at} replies"


# --------------------------------------------------------------------------- disk


def test_client_words_never_name_a_file_nor_break_a_header(served: Served) -> None:
    with Client(served.port) as c:
        c.reply()
        assert c.cmd(b"EHLO ../../x\rX-Injected: 1").startswith("250")
        assert c.cmd("MAIL FROM:<../../../etc/passwd@client.test>").startswith("250")
        for rcpt in (b"../../y@sink.test", b"a/b@sink.test", b"c\x00d@sink.test", b"/e@f"):
            c.cmd(b"RCPT TO:<" + rcpt + b">")
        assert c.cmd("DATA").startswith("354")
        c.send(b"Subject: paths\r\n\r\nbody\r\n.\r\n")
        assert c.reply().startswith("250")
    root = served.maildir.parent
    for path in root.rglob("*"):
        assert path.resolve().is_relative_to(served.maildir.resolve()), path
    (copy,) = _stored(served.maildir)
    head = copy.read_bytes().split(b"\r\n\r\n")[0]
    assert b"\x00" not in head
    assert all(b"\r" not in line for line in head.split(b"\r\n"))  # no bare CR
    assert b"Received: from ../../x?X-Injected: 1 " in head
    record = load_record(served.maildir / "dialogues" / f"{copy.name}.json")
    assert record.helo == "../../x\rX-Injected: 1"  # the dialogue keeps what was said


def test_the_disk_budget_is_kept(tmp_path: Path) -> None:
    budget = 20_000
    with Served(tmp_path, dataclasses.replace(SMALL, disk_budget=budget)) as served:
        finals = []
        with Client(served.port) as c:
            c.reply()
            c.cmd("EHLO client.test")
            declared = c.cmd(f"MAIL FROM:<a@client.test> SIZE={budget + 1}")
            assert declared == "452 4.3.1 Insufficient system storage"
            for _ in range(10):
                reply = c.cmd("MAIL FROM:<a@client.test>")
                if not reply.startswith("250"):
                    finals.append(reply)
                    break
                c.cmd("RCPT TO:<b@sink.test>")
                c.cmd("DATA")
                c.send(b"Subject: fill\r\n\r\n" + b"z" * 5000 + b"\r\n.\r\n")
                finals.append(c.reply())
        assert "452 4.3.1 Insufficient system storage" in finals
        used = sum(p.stat().st_size for p in served.maildir.rglob("*") if p.is_file())
        assert used <= budget + 5_000  # one dialogue at most past the budget


def test_it_never_relays(served: Served) -> None:
    """Mail for other domains is stored here, as a sink does; the server holds no SMTP client."""
    with Client(served.port) as c:
        c.reply()
        c.cmd("EHLO client.test")
        c.cmd("MAIL FROM:<a@client.test>")
        assert c.cmd("RCPT TO:<victim@example.com>").startswith("250")
        assert c.cmd("RCPT TO:<@relay.example:u@example.net>").startswith("250")
        c.cmd("DATA")
        c.send(b"Subject: relay?\r\n\r\nbody\r\n.\r\n")
        assert c.reply().startswith("250")
    assert len(_stored(served.maildir)) == 1
    server = Path(__file__).resolve().parents[2] / "probe" / "server"
    for module in server.glob("*.py"):
        text = module.read_text()
        assert "aiosmtplib" not in text and "smtplib" not in text, module


# --------------------------------------------------------------------------- the lab


def test_a_lab_hop_is_bounded_only_where_its_scenario_asks(tmp_path: Path) -> None:
    scenarios = parse_scenarios(
        {
            "scenario": [
                {"name": "plain", "hops": [{"kind": "final"}]},
                {"name": "bounded", "hops": [{"kind": "final", "max_recipients": 2}]},
            ]
        }
    )
    with LabThread(scenarios, directory=tmp_path) as running:
        for name, accepted in (("plain", 5), ("bounded", 2)):
            info = running.info.scenario(name)
            with Client(info.port, host=info.address) as c:
                c.reply()
                c.cmd("EHLO client.test")
                c.cmd("MAIL FROM:<a@client.test>")
                replies = [c.cmd(f"RCPT TO:<r{i}@x.test>") for i in range(5)]
                assert [r[:3] for r in replies] == ["250"] * accepted + ["452"] * (5 - accepted)
    bad = [{"kind": "asa", "max_sessions": 1}, {"kind": "final"}]
    with pytest.raises(ConfigError, match="takes no limits"):
        with LabThread(parse_scenarios({"scenario": [{"name": "bad", "hops": bad}]})):
            pass
