"""End to end through a hostile hop: `probe run` as a process against a real SMTP server on
loopback that delivers copies built to break parsers (a 1,000-level nested multipart,
`To: g:g:g:...`, an unknown charset in the Subject) and a DSN dated in the year 9999. Whatever
the copies hold, the run is printed and saved whole; what could not be parsed is a finding on
that copy, and `probe analyze` decides the saved run again."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from tests.lab.hostile_hop import HostileHop
from tests.lab.probe_process import Finished, run_probe
from tests.lab.smtp_peers import ThreadedServer, aiosmtpd_server

VARIANTS = ("control", "nested", "groupto", "charset", "dsn")
PROFILE = """
name = "hostile"
description = "copies built to break parsers"
extends = "_base"

[defaults]
min_interval = 0
""" + "".join(
    f'\n[[variant]]\nid = "{v}"\ndescription = "{v}"\n' for v in VARIANTS if v != "control"
)


@dataclasses.dataclass(frozen=True)
class Hostile:
    done: Finished
    saved: dict[str, Any]
    work: Path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    """One run through the hostile hop, saved and printed as --json."""
    work = tmp_path_factory.mktemp("hostile")
    (work / "hostile.toml").write_text(PROFILE)
    maildir, save = work / "Maildir", work / "run.json"
    hop = HostileHop(maildir)
    with ThreadedServer(lambda: aiosmtpd_server(hop, hostname="hostile.test")) as server:
        done = run_probe(
            "run", "hostile.test", "--to", "user@hostile.test", "--helo", "probe.invalid",
            "--via", f"127.0.0.1:{server.port}", "--profile", str(work / "hostile.toml"),
            "--mailbox", f"maildir:{maildir}", "--collect-for", "20", "--save", str(save),
            "--json", cwd=work, tmp=work / "tmp",
        )  # fmt: skip
    return Hostile(done, json.loads(save.read_text()), work)


def test_a_run_through_a_hostile_hop_is_never_lost(hostile: Hostile) -> None:
    done, saved = hostile.done, hostile.saved
    assert 0 <= done.code <= 3, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert json.loads(done.stdout) == saved and saved["schema"] == "probe.run/1"
    assert [v["variant"] for v in saved["variants"]] == list(VARIANTS)
    assert all(v["outcome"] == "accepted" for v in saved["variants"])
    again = run_probe(
        "analyze", str(hostile.work / "run.json"), "--json", cwd=hostile.work,
        tmp=hostile.work / "tmp",
    )  # fmt: skip
    assert 0 <= again.code <= 3, again.stderr
    assert "internal error" not in again.stderr and "Traceback" not in again.stderr
    assert json.loads(again.stdout)["schema"] == "probe.run/1"


def test_what_a_hostile_hop_delivers_is_collected_and_decided(hostile: Hostile) -> None:
    done, saved = hostile.done, hostile.saved
    assert "probe: error" not in done.stderr, done.stderr
    assert saved["collect"] is not None
    statuses = {s["variant"]: s["status"] for s in saved["collect"]["statuses"]}
    assert statuses == {
        "control": "delivered",
        "nested": "delivered",
        "groupto": "delivered",
        "charset": "delivered",
        "dsn": "bounced",
    }
    assert saved["decision"] is not None and not saved["interrupted"]
