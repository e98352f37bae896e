"""`probe codes` through typer's CliRunner: output, JSON, exit codes, one-line errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from probe.cli import app

runner = CliRunner()
SEED = "Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}"


def test_seed_reply_names_checkpoint() -> None:
    result = runner.invoke(app, ["codes", "554", SEED])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("554 (permanent):") and "Check Point" in first
    assert "checkpoint-session-id" in result.stdout
    assert "remedy:" in result.stdout


def test_seed_reply_json() -> None:
    result = runner.invoke(app, ["codes", "554", SEED, "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["schema"] == "probe.codes/1"
    assert doc["code"] == 554 and doc["reply_class"] == "permanent"
    assert doc["vendors"][0]["products"] == ["checkpoint"]
    assert doc["products"][0]["product"] == "checkpoint"
    assert doc["id_format"] == "checkpoint-session-id"


def test_enhanced_code_alone() -> None:
    result = runner.invoke(app, ["codes", "5.7.1"])
    assert result.exit_code == 0
    assert result.stdout.startswith("5.7.1 (permanent): Delivery not authorized")
    doc = json.loads(runner.invoke(app, ["codes", "5.7.1", "--json"]).stdout)
    assert [p["code"] for p in doc["parts"]] == ["5", "X.7", "X.7.1"]


def test_unregistered_code_warns() -> None:
    result = runner.invoke(app, ["codes", "299"])
    assert result.exit_code == 1
    assert "not a registered reply code" in result.stdout


def test_malformed_code_is_one_line_error_exit_3() -> None:
    for args in (["codes", "99x"], ["codes", "600"], ["codes", "5.7"], ["codes"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 3, args
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("probe: error:")
        assert "Traceback" not in result.stderr
