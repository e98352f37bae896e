"""`probe analyze RUN.json`: a run saved from the lab decided again offline; broken input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from probe import __version__
from probe.cli import app
from probe.lab.runtime import LabInfo
from probe.model.json import document, from_data
from probe.model.run import RUN_SCHEMA, RunResult
from probe.model.status import Status
from probe.pipeline.run import perform
from probe.plan.profile_files import file_loader
from probe.plan.profiles import parse_profile
from probe.report.run import render_run
from tests.lab.runs import lab_request

runner = CliRunner()

PROFILE = """
name = "analyze-test"
description = "two sizes"
extends = "_base"

[defaults]
min_interval = 0

[[variant]]
id = "size-100k"
description = "100 kB"
size = "100kB"

[[variant]]
id = "size-1200k"
description = "1200 kB"
size = "1200kB"
"""


@pytest.fixture(scope="module")
def saved(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    """The checkpoint scenario's run (one size rejected, one delivered), saved like --save."""
    info = lab.scenario("checkpoint")
    profile = parse_profile(PROFILE, source="<test>", loader=file_loader)
    req = lab_request(
        lab, "checkpoint", profile, mailbox=f"maildir:{info.maildir}", collect_for=10.0
    )
    run = perform(req, deadline=60.0)
    result = run.result
    assert run.error is None and result.status is Status.CRITICAL
    path = tmp_path_factory.mktemp("analyze") / "run.json"
    path.write_text(json.dumps(document(RUN_SCHEMA, result), indent=2))
    return result, path


def analyze(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, ["analyze", *args], input=stdin)


def test_same_report_and_status_offline(saved: tuple[RunResult, Path]) -> None:
    result, path = saved
    out = analyze(str(path))
    assert out.exit_code == 2, out.output
    assert out.stdout.rstrip("\n") == render_run(result).rstrip("\n")
    assert result.decision is not None
    assert "\n".join(result.decision.headline) in out.stdout
    assert "554 Permanent scan failure" in out.stdout
    assert out.stdout.rstrip().endswith("status: CRITICAL")


def test_json_round_trips_the_decision(saved: tuple[RunResult, Path]) -> None:
    result, path = saved
    out = analyze("--json", str(path))
    assert out.exit_code == 2, out.output
    doc = json.loads(out.stdout)
    assert doc["schema"] == RUN_SCHEMA and doc["run_id"] == result.run_id
    again = from_data(RunResult, doc)
    assert again.decision == result.decision and again.status is Status.CRITICAL


def test_reads_stdin_and_a_run_command_json(saved: tuple[RunResult, Path]) -> None:
    result, path = saved
    out = analyze("-", stdin=path.read_text())
    assert out.exit_code == 2, out.output
    assert f"probe run {result.run_id}" in out.stdout


def test_saved_by_probe_run_is_analyzed(lab: LabInfo, tmp_path: Path) -> None:
    info = lab.scenario("clean")
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE.replace('size = "1200kB"', 'size = "20kB"'))
    save = tmp_path / "clean.json"
    ran = runner.invoke(
        app,
        ["run", info.domain, "--to", f"user@{info.domain}", "--via", info.entry]
        + ["--profile", str(profile), "--save", str(save), "--helo", "probe.invalid"],
    )
    assert ran.exit_code == 0, ran.output
    out = analyze(str(save))
    assert out.exit_code == 0, out.output
    assert out.stdout == ran.stdout


def one_line_error(out: Result, *needles: str) -> None:
    assert out.exit_code == 3, out.output
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("probe: error: ")
    assert "Traceback" not in out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr


def test_missing_file(tmp_path: Path) -> None:
    one_line_error(analyze(str(tmp_path / "nope.json")), "cannot read", "No such file")


def test_directory_and_binary(tmp_path: Path) -> None:
    one_line_error(analyze(str(tmp_path)), "cannot read")
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    one_line_error(analyze(str(binary)), "is not text")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "is not JSON"),
        ("{not json", "is not JSON (Expecting property name"),
        ("[1, 2]", "is a JSON list, not a saved probe run"),
        ('{"schema": "probe.threshold/1", "threshold": 5}', "is a probe.threshold/1 document"),
        ('{"run_id": "x"}', "without a schema field"),
        ('{"schema": "probe.run/1"}', "damaged or truncated"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_broken_documents(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text)
    one_line_error(analyze(str(path)), needle)


def test_truncated_and_damaged_runs(saved: tuple[RunResult, Path], tmp_path: Path) -> None:
    _, path = saved
    text = path.read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(text[: len(text) // 2])
    one_line_error(analyze(str(cut)), "is not JSON")

    doc = json.loads(text)
    del doc["run_id"]
    one_line_error(analyze("-", stdin=json.dumps(doc)), "damaged or truncated", "run_id")

    doc = json.loads(text)
    doc["variants"][0]["outcome"] = "exploded"
    one_line_error(analyze("-", stdin=json.dumps(doc)), "damaged or truncated")

    doc = json.loads(text)
    doc["started_at"] = 5
    one_line_error(analyze("-", stdin=json.dumps(doc)), "damaged or truncated")

    doc = json.loads(text)
    doc["variants"] = "not a list"
    one_line_error(analyze("-", stdin=json.dumps(doc)), "damaged or truncated")


def test_a_run_saved_by_an_older_probe_gets_the_same_report(saved: tuple[RunResult, Path]) -> None:
    """Its copies carry another version in X-Probe, and so does the run: no hop is accused of
    modifying X-Probe, the report is the one the run printed."""
    result, path = saved
    doc = json.loads(path.read_text())
    doc["craft_version"] = "0.0.9"
    for copy in doc["collect"]["delivered"]:
        raw = base64.b64decode(copy["raw"])
        assert f"X-Probe: probe/{__version__} ".encode() in raw
        raw = raw.replace(f"probe/{__version__} ".encode(), b"probe/0.0.9 ")
        copy["raw"] = base64.b64encode(raw).decode()
    for send in doc["variants"]:
        if send["manifest"]:
            send["manifest"]["header_sha256"] = ""  # that probe's digest is not known here
    out = analyze("-", stdin=json.dumps(doc))
    assert out.exit_code == 2, out.output
    assert "modifies headers" not in out.stdout
    assert out.stdout.rstrip("\n") == render_run(result).rstrip("\n")
