"""`probe run` stores every result in the history, as `probe check` does: the default store in
the XDG state folder, `--db`, `--no-history`, and an unusable `--db` refused before sending."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from probe.cli import app
from probe.history.store import default_path, open_history
from probe.lab.runtime import LabInfo
from probe.model.history import HistoryQuery, RecordKind
from probe.model.status import Status

runner = CliRunner()

PROFILE = """
name = "history-test"
description = "one small and one over the checkpoint's limit"
extends = "_base"

[defaults]
min_interval = 0

[[variant]]
id = "size-20k"
description = "20 kB"
size = "20kB"

[[variant]]
id = "size-1200k"
description = "1200 kB"
size = "1200kB"
"""


def run_lab(lab: LabInfo, tmp_path: Path, scenario: str, *extra: str) -> tuple[int, str]:
    info = lab.scenario(scenario)
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE)
    ran = runner.invoke(
        app,
        ["run", info.domain, "--to", f"user@{info.domain}", "--via", info.entry]
        + ["--profile", str(profile), "--helo", "probe.invalid", "--json", *extra],
    )
    return ran.exit_code, ran.stdout


def test_a_run_is_stored_with_its_document_and_vantage(lab: LabInfo, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    code, out = run_lab(lab, tmp_path, "checkpoint", "--db", str(db), "--vantage", "lab-a")
    doc = json.loads(out)
    assert code == 2, out
    with open_history(db) as store:
        (entry,) = store.query(HistoryQuery(kind=RecordKind.RUN))
        stored = json.loads(store.document(entry.result_id))
    assert entry.result_id == doc["run_id"]
    assert (entry.target, entry.vantage, entry.profile) == (doc["domain"], "lab-a", "history-test")
    assert entry.status is Status.CRITICAL and not entry.interrupted
    assert stored == doc  # the command's own --json document, whole


def test_two_runs_of_one_domain_diff_in_probe_history(lab: LabInfo, tmp_path: Path) -> None:
    db = str(tmp_path / "h.sqlite")
    run_lab(lab, tmp_path, "clean", "--db", db)
    run_lab(lab, tmp_path, "clean", "--db", db)
    listed = runner.invoke(app, ["history", "--db", db, "--json"])
    ids = [r["result_id"] for r in json.loads(listed.stdout)["results"]]
    assert len(ids) == 2, listed.stdout
    diff = runner.invoke(app, ["history", "diff", ids[1], ids[0], "--db", db])
    assert diff.exit_code in (0, 1), diff.output  # same path twice: no drift, or timing noise
    assert "Traceback" not in diff.output


def test_default_store_and_no_history(lab: LabInfo, tmp_path: Path) -> None:
    where = default_path()  # the test run's own XDG_STATE_HOME (tests/conftest.py)
    before = _count(where)
    run_lab(lab, tmp_path, "clean")
    assert _count(where) == before + 1
    run_lab(lab, tmp_path, "clean", "--no-history")
    assert _count(where) == before + 1


def test_an_unusable_db_is_refused_before_anything_is_sent(lab: LabInfo, tmp_path: Path) -> None:
    garbage = tmp_path / "not-a-db.sqlite"
    garbage.write_bytes(b"this is not a database\n" * 100)
    code, out = run_lab(lab, tmp_path, "clean", "--db", str(garbage))
    doc = json.loads(out)
    assert code == 3
    assert doc["status"] == "UNKNOWN" and "not-a-db.sqlite" in doc["error"]
    assert "variants" not in doc  # refused before the matrix, not after


def _count(where: Path) -> int:
    if not where.exists():
        return 0
    with open_history(where) as store:
        return len(store.query(HistoryQuery(kind=RecordKind.RUN, limit=10_000)))
