"""`probe check` end to end on loopback: the lab's DNS and hops, probe's history on a real SQLite
file, the outputs read back by their own tools, drift introduced between two runs by hand."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from probe.cli import app
from probe.lab.runtime import LabInfo
from tests.lab.smtp_peers import Recorder, ThreadedServer, aiosmtpd_server

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "checks.toml"
    path.write_text(body)
    return path


def _lab_config(lab: LabInfo, tmp_path: Path, *names: str, starttls: str = "critical") -> Path:
    port = lab.scenario(names[0]).port
    targets = "".join(f'\n[[target]]\ndomain = "{lab.scenario(n).domain}"\nport = {port}\n'
                      for n in names)
    return _config(tmp_path, f"""
[check]
deadline = 60
[defaults.expect]
starttls = "{starttls}"
certificate_days = "off"
{targets}""")


def _check(lab: LabInfo, tmp_path: Path, config: Path, *extra: str) -> object:
    return runner.invoke(app, [
        "check", "--config", str(config), "--db", str(tmp_path / "h.sqlite"),
        "--nameserver", f"{lab.dns_host}:{lab.dns_port}", "--timeout", "5",
        "--helo", "probe.invalid", "--ca-file", str(lab.ca_file), *extra,
    ])


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def test_a_healthy_target_is_silent_and_minus_v_shows_it(lab: LabInfo, tmp_path: Path) -> None:
    config = _lab_config(lab, tmp_path, "clean")
    quiet = _check(lab, tmp_path, config)
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout == ""
    loud = _check(lab, tmp_path, config, "-v")
    assert loud.exit_code == 0
    assert "clean.lab.probe.test" in loud.stdout and "1 of 1 targets OK" in loud.stdout


def test_json_nagios_and_prometheus_outputs(lab: LabInfo, tmp_path: Path) -> None:
    config = _lab_config(lab, tmp_path, "clean", "asa")
    prom = tmp_path / "probe.prom"
    result = _check(lab, tmp_path, config, "--json", "--prometheus-textfile", str(prom))
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "probe.check/1" and doc["status"] == "CRITICAL"
    by = {t["target"]: t for t in doc["targets"]}
    assert by["clean.lab.probe.test"]["status"] == "OK"
    asa = by["asa.lab.probe.test"]
    assert asa["status"] == "CRITICAL"
    assert any("STARTTLS is not offered" in f["summary"] for f in asa["findings"])
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    offered = {s.labels["target"]: s.value for s in families["probe_starttls_offered"].samples}
    assert offered == {"clean.lab.probe.test": 1.0, "asa.lab.probe.test": 0.0}
    nagios = _check(lab, tmp_path, config, "--format", "nagios")
    first = nagios.stdout.splitlines()[0]
    assert first.startswith("PROBE CHECK CRITICAL - 1 of 2 targets not OK: asa.lab.probe.test:")
    assert " | targets=2;;;0 critical=1;;;0" in first


def test_drift_between_two_runs_starttls_removed_by_hand(tmp_path: Path) -> None:
    ca = trustme.CA()
    tls = ca.issue_cert("127.0.0.1", "mx.test")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.configure_cert(ctx)
    with ThreadedServer(lambda: aiosmtpd_server(Recorder(), tls_context=ctx,
                                                require_starttls=False)) as first:
        port = first.port
        config = _config(tmp_path, f'[[target]]\nhost = "127.0.0.1:{port}"\n'
                                   '[target.expect]\ncertificate_days = "off"\n')
        args = ["check", "--config", str(config), "--db", str(tmp_path / "h.sqlite"),
                "--timeout", "5", "--helo", "probe.invalid", "--json"]
        one = runner.invoke(app, args)
        assert one.exit_code == 0, one.output
        two = runner.invoke(app, args)
        assert two.exit_code == 0, two.output
        assert json.loads(two.stdout)["targets"][0]["drift"]["items"] == []
    with ThreadedServer(lambda: aiosmtpd_server(Recorder(), port=port)):
        three = runner.invoke(app, args)
    doc = json.loads(three.stdout)
    (target,) = doc["targets"]
    kinds = [i["kind"] for i in target["drift"]["items"]]
    assert "starttls-vanished" in kinds
    assert three.exit_code == 1  # STARTTLS (warning by default) and drift (warning)
    summaries = [f["summary"] for f in target["findings"] if f["status"] != "OK"]
    assert any("since previous" in s and "STARTTLS is no longer offered" in s for s in summaries)


def test_a_second_check_of_the_same_config_waits_for_nobody(tmp_path: Path) -> None:
    """The lock: a check already running makes the second exit UNKNOWN naming the holder."""
    config = _config(tmp_path, '[[target]]\nhost = "127.0.0.1:9"\n')
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time\n"
            "from pathlib import Path\n"
            "from probe.history.store import default_path\n"
            "from probe.pipeline.lock import exclusive, lock_path\n"
            f"key = str(Path({str(config)!r}).resolve())\n"
            "with exclusive(lock_path(default_path().parent, key), 'x'):\n"
            "    print('held', flush=True); time.sleep(30)\n")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = runner.invoke(app, ["check", "--config", str(config), "--no-history"])
        assert result.exit_code == 3
        assert f"pid {holder.pid}" in result.stderr
    finally:
        holder.kill()
        holder.wait(10)


@pytest.mark.parametrize(("body", "needle"), [
    ("[[target]]\n", "give exactly one of domain or host"),
    ('[[target]]\ndomain = "a.test"\nprofile = "quick"\n', "sends mail: give to and mailbox"),
    ('[[target]]\ndomain = "a.test"\n[target.expect]\nstarttls = "loud"\n', "unknown level"),
    ('[[target]]\ndomain = "a.test"\nmailbox = "imaps://u:pw@h/INBOX"\n', "password in the URL"),
    ("[check]\nconcurrency = 0\n[[target]]\ndomain = 'a.test'\n", "out of range"),
    ("target = 5\n", "expected a list"),
    ("[[target]\n", "not valid TOML"),
])
def test_bad_configs_are_one_line_errors(tmp_path: Path, body: str, needle: str) -> None:
    result = runner.invoke(app, ["check", "--config", str(_config(tmp_path, body)), "--no-history"])
    assert result.exit_code == 3, result.output
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_shards_split_targets_deterministically(tmp_path: Path) -> None:
    from probe.pipeline.check import in_shard

    names = [f"t{i}.test" for i in range(200)]
    shares = [[n for n in names if in_shard(n, (i, 3))] for i in (1, 2, 3)]
    assert sorted(sum(shares, [])) == sorted(names)
    assert all(40 < len(s) < 100 for s in shares)
    assert shares[0] == [n for n in names if in_shard(n, (1, 3))]


def _wait_for_rows(db: Path, count: int, within: float = 60.0) -> None:
    import sqlite3

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db, timeout=1) as conn:
                if conn.execute("SELECT count(*) FROM results").fetchone()[0] >= count:
                    return
        except sqlite3.Error:
            pass  # not created yet
        time.sleep(0.1)
    raise AssertionError(f"{db}: fewer than {count} stored results after {within} s")


def test_sigterm_stores_and_reports_what_was_measured(tmp_path: Path) -> None:
    """A target that hangs at the banner; SIGTERM mid-check: the finished one is stored, the
    hanging one is UNKNOWN, the process exits within 0-3 with a JSON document."""
    import asyncio

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # no banner; ends when the killed client's socket closes (bounded)
        await asyncio.wait_for(reader.read(), timeout=20)

    from tests.lab.smtp_peers import raw_server

    with ThreadedServer(lambda: aiosmtpd_server(Recorder())) as good, \
            ThreadedServer(lambda: raw_server(silent)) as hang:
        config = _config(tmp_path, f'[[target]]\nhost = "127.0.0.1:{good.port}"\n'
                                   f'[[target]]\nhost = "127.0.0.1:{hang.port}"\n')
        db = tmp_path / "h.sqlite"
        proc = subprocess.Popen(
            [sys.executable, "-m", "probe", "check", "--config", str(config), "--db", str(db),
             "--json", "--timeout", "30"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
        )
        _wait_for_rows(db, 1)  # the good target is stored: the check is under way
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 1, 2, 3), err
    doc = json.loads(out)
    assert doc["interrupted"] is True
    statuses = sorted(t["status"] for t in doc["targets"])
    assert "UNKNOWN" in statuses
    from probe.history.store import open_history
    from probe.model.history import HistoryQuery

    with open_history(db) as history:
        assert len(history.query(HistoryQuery())) == 2
