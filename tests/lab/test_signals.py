"""A run is never lost: SIGTERM and SIGINT sent to a real `probe run` process at each stage.

Each time, what was observed is printed, the `--save` file is complete (and says
`interrupted: true` and where), the exit code is a monitoring status (0-3), and nothing is left
in TMPDIR or beside the save. The same for `probe demo`, whose lab directory (with its CA) must
go. Stages are reached by what the peers do: a resolver that never answers (resolve), a hop that
stalls after the message (send), a hop that holds one copy back (collect), a 4 MB copy whose
analysis takes a while (analyze).
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.history.store import open_history
from probe.lab.runtime import LabInfo
from tests.lab.hostile_hop import HostileHop
from tests.lab.probe_process import Finished, ProbeProcess
from tests.lab.smtp_peers import Stall, ThreadedServer, aiosmtpd_server, raw_server

PROFILE = """
name = "signals"
description = "signal tests"
extends = "_base"

[defaults]
min_interval = 0

[defaults.timeouts]
connect = 5
banner = 5
command = 20
data = 20
{variants}
"""
LATE = '\n[[variant]]\nid = "late"\ndescription = "held back by the hop"\n'
BIG = '\n[[variant]]\nid = "big"\ndescription = "4 MB"\nsize = "4MB"\n'


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "tmp").mkdir()
    return tmp_path


def profile(work: Path, variants: str = "") -> str:
    path = work / "signals.toml"
    path.write_text(PROFILE.format(variants=variants))
    return str(path)


def start(work: Path, *args: str) -> ProbeProcess:
    return ProbeProcess(
        "run", *args, "--helo", "probe.invalid", "--save", str(work / "out" / "run.json"),
        "--db", str(work / "history.sqlite"), cwd=work, tmp=work / "tmp",
    )  # fmt: skip


def stopped_cleanly(work: Path, done: Finished, stage: str, sig: signal.Signals) -> dict[str, Any]:
    """The checks every interrupted run must pass; the saved document for more."""
    assert 0 <= done.code <= 3, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    how = "interrupted by SIGTERM" if sig is signal.SIGTERM else "interrupted"
    why = f"{how} during {stage}"
    assert f"INTERRUPTED: {why}" in done.stdout, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("status: ")
    doc = json.loads((work / "out" / "run.json").read_text())
    assert doc["schema"] == "probe.run/1" and doc["interrupted"] is True
    assert why in doc["stop_reason"]
    assert sorted(p.name for p in (work / "out").iterdir()) == ["run.json"]  # no temp file
    assert list((work / "tmp").iterdir()) == []
    with open_history(work / "history.sqlite") as store:  # and in the history, as interrupted
        entry = store.entry(doc["run_id"])
        assert entry.interrupted and json.loads(store.document(entry.result_id)) == doc
    return doc


@pytest.fixture
def silent_dns() -> Iterator[int]:
    """A UDP port where no resolver answers: resolving waits there."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_stopped_while_resolving(work: Path, silent_dns: int) -> None:
    sig = signal.SIGTERM
    (work / "out").mkdir()
    run = start(
        work, "quiet.test", "--to", "user@quiet.test", "--profile", profile(work),
        "--nameserver", f"127.0.0.1:{silent_dns}", "--timeout", "30",
    )  # fmt: skip
    run.wait_for("resolving quiet.test")
    run.send(sig)
    doc = stopped_cleanly(work, run.finish(), "resolve", sig)
    assert doc["variants"] == [] and doc["status"] == "UNKNOWN"


def test_stopped_while_sending(work: Path) -> None:
    sig = signal.SIGINT
    (work / "out").mkdir()
    peer = Stall()
    with ThreadedServer(lambda: raw_server(peer)) as server:
        run = start(
            work, "peer.test", "--to", "user@peer.test", "--profile", profile(work),
            "--via", f"127.0.0.1:{server.port}",
        )  # fmt: skip
        end = time.monotonic() + 30
        while not peer.waiting.is_set() and time.monotonic() < end:
            time.sleep(0.02)
        assert peer.waiting.is_set(), "the message never reached the stalling hop"
        run.send(sig)
        done = run.finish()
    doc = stopped_cleanly(work, done, "send", sig)
    (control,) = doc["variants"]
    assert (control["outcome"], control["stage"]) == ("interrupted", "data-end")
    assert control["attempts"][0]["data_reply"]["code"] == 354
    assert "control" in done.stdout  # the variant table was printed


def test_stopped_while_collecting_keeps_the_copies_found(work: Path) -> None:
    (work / "out").mkdir()
    hop = HostileHop(work / "Maildir")
    with ThreadedServer(lambda: aiosmtpd_server(hop, hostname="hostile.test")) as server:
        run = start(
            work, "hostile.test", "--to", "user@hostile.test", "--profile", profile(work, LATE),
            "--via", f"127.0.0.1:{server.port}", "--mailbox", f"maildir:{work / 'Maildir'}",
            "--collect-for", "60",
        )  # fmt: skip
        run.wait_for("collecting 2 copies")
        time.sleep(0.5)  # its first look finds the control's copy
        run.send(signal.SIGTERM)
        done = run.finish()
    doc = stopped_cleanly(work, done, "collect", signal.SIGTERM)
    assert [v["outcome"] for v in doc["variants"]] == ["accepted", "accepted"]
    statuses = doc["collect"]["statuses"]
    assert [(s["variant"], s["status"]) for s in statuses] == [("control", "delivered")]
    assert len(doc["collect"]["delivered"]) == 1
    assert "drops" not in json.dumps(doc["decision"])  # not collected is not dropped


def test_stopped_while_analysing_keeps_the_observations(work: Path, lab: LabInfo) -> None:
    (work / "out").mkdir()
    info = lab.scenario("disclaimer")
    host, port = lab.nameserver
    run = start(
        work, info.domain, "--to", f"user@{info.domain}", "--profile", profile(work, BIG),
        "--port", str(info.port), "--nameserver", f"{host}:{port}",
        "--mailbox", f"maildir:{info.maildir}", "--collect-for", "30",
    )  # fmt: skip
    run.wait_for("analysing what was observed")
    run.send(signal.SIGINT)
    doc = stopped_cleanly(work, run.finish(), "analyze", signal.SIGINT)
    assert doc["decision"] is None and doc["status"] == "UNKNOWN"
    assert len(doc["collect"]["delivered"]) == 2  # the observations are all there


def test_demo_stopped_by_sigterm_removes_its_lab(work: Path) -> None:
    demo = ProbeProcess("demo", "-v", cwd=work, tmp=work / "tmp")
    demo.wait_for(": resolving")
    demo.send(signal.SIGTERM)
    done = demo.finish()
    assert done.code == 3, done.stderr
    last = done.stderr.rstrip().splitlines()[-1]
    assert last == "probe: error: interrupted by SIGTERM: the demo did not finish"
    assert "Traceback" not in done.stderr
    assert list((work / "tmp").iterdir()) == []  # the lab's directory and CA are gone


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_at_start_up_is_one_line_and_exit_3(work: Path, sig: signal.Signals) -> None:
    demo = ProbeProcess("demo", cwd=work, tmp=work / "tmp")
    demo.wait_catching(signal.SIGTERM)  # probe's first line ran; its modules are loading
    demo.send(sig)
    done = demo.finish()
    assert done.code == 3, done.stderr
    assert done.stderr.splitlines()[-1].startswith("probe: error: interrupted"), done.stderr
    assert "Traceback" not in done.stderr
    assert list((work / "tmp").iterdir()) == []
