"""The process edge: bounded input files, atomic saves of any string, --json for every outcome,
bounded echoes of what a message says."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from probe.cli import app
from probe.cli.commands.analyze import load_run
from probe.cli.commands.run import output
from probe.cli.files import check_input, read_input, write_atomic
from probe.errors import UsageError
from probe.model.collect import CollectResult
from probe.model.json import document
from probe.model.run import RUN_SCHEMA, RunResult
from probe.report.trace import FIELD

runner = CliRunner()
WHEN = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
ODD_PATH = (
    "maildir:/srv/mail/caf\udce9/Maildir"  # a Latin-1 byte in a file name, as Python holds it
)


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    assert read_input(path, cap=100) == b"Subject: x\r\n\r\nbody\r\n"
    assert check_input(path, cap=100) == str(path)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: os.mkfifo(p), "a FIFO"),
        (lambda p: p.mkdir(), "a directory"),
    ],
)
def test_what_is_not_a_regular_file_is_refused_at_once(
    tmp_path: Path, make: object, kind: str
) -> None:
    path = tmp_path / "input"
    make(path)  # type: ignore[operator]
    with pytest.raises(UsageError, match=f"cannot read {path}: not a regular file \\({kind}\\)"):
        read_input(path, cap=100)
    with pytest.raises(UsageError, match=kind):
        check_input(path, cap=100, label=f"--tls-cert {path}")


def test_a_device_is_refused_not_read_until_memory_runs_out() -> None:
    with pytest.raises(UsageError, match="a character device"):
        read_input("/dev/zero", cap=100)


def test_too_large_a_file_or_stdin_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 2048)
    with pytest.raises(UsageError, match="larger than 1,024"):
        read_input(path, cap=1024)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"y" * 2048)))
    with pytest.raises(UsageError, match="cannot read stdin: more than 1,024 bytes"):
        read_input("-", cap=1024)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="No such file"):
        read_input(tmp_path / "nope", cap=10)


def test_a_save_replaces_the_file_at_once_and_keeps_any_string(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("old")
    write_atomic(path, json.dumps({"mailbox": ODD_PATH}, ensure_ascii=False))
    assert json.loads(path.read_text())["mailbox"] == ODD_PATH  # loads back as the same string
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left


def test_a_save_that_fails_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_atomic(tmp_path / "missing" / "run.json", "{}")
    assert list(tmp_path.iterdir()) == []


def _run(**fields: object) -> RunResult:
    base: dict[str, object] = dict(
        run_id="20261123T120000-abcdef",
        domain="example.org",
        to="box@example.org",
        mail_from="probe@probe.invalid",
        profile="quick",
        started_at=WHEN,
    )
    return RunResult(**{**base, **fields})  # type: ignore[arg-type]


def test_a_run_holding_a_non_utf8_path_is_saved_printed_and_loaded_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    collected = CollectResult(ODD_PATH, ODD_PATH, WHEN, 10.0, False)
    result = _run(collect=collected, interrupted=True, stop_reason="interrupted during collect")
    save = tmp_path / "run.json"
    assert output(result, json_out=True, save=save, transcript=False)
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads(save.read_text())
    assert printed == saved and saved["collect"]["mailbox"] == ODD_PATH
    assert saved["interrupted"] is True
    assert load_run("run.json", saved).collect == collected


def test_a_run_saved_before_interrupted_existed_loads_as_not_interrupted() -> None:
    doc = document(RUN_SCHEMA, _run())
    del doc["interrupted"], doc["stop_reason"]
    loaded = load_run("old.json", doc)
    assert loaded.interrupted is False and loaded.stop_reason == ""


@pytest.mark.parametrize(
    "args",
    [
        ["trace", "/nonexistent/m.eml", "--json"],
        ["run", "example.org", "--json"],  # no --to: a usage error of click's
        ["analyze", "/nonexistent/run.json", "--json"],
        ["threshold", "example.org", "--to", "a@example.org", "--min", "0", "--json"],
    ],
)
def test_with_json_a_refusal_is_a_json_document_too(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["schema"] == "probe.error/1" and doc["status"] == "UNKNOWN"
    assert doc["error"] and "\n" not in doc["error"]
    assert result.stderr.startswith("probe: error: ")


def test_without_json_a_refusal_leaves_stdout_empty() -> None:
    result = runner.invoke(app, ["trace", "/nonexistent/m.eml"])
    assert result.exit_code == 3 and result.stdout == ""


def test_trace_bounds_what_it_echoes(tmp_path: Path) -> None:
    stamp = b"Received: from a.example by b.example with ESMTP id " + b"x" * 200_000
    message = tmp_path / "m.eml"
    message.write_bytes(stamp + b"; Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: t\r\n\r\nbody\r\n")
    text = runner.invoke(app, ["trace", str(message)])
    assert text.exit_code in (0, 1) and len(text.stdout) < 5_000
    doc = runner.invoke(app, ["trace", "--json", str(message)])
    assert len(doc.stdout) < 40_000

    def longest(data: object) -> int:
        if isinstance(data, dict):
            return max((longest(v) for v in data.values()), default=0)
        if isinstance(data, list):
            return max((longest(v) for v in data), default=0)
        return len(data) if isinstance(data, str) else 0

    parsed = json.loads(doc.stdout)
    assert longest(parsed) <= FIELD + 40 and "[cut: " in json.dumps(parsed)
