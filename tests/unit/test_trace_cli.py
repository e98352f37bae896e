"""`probe trace`: exit codes, --json, stdin, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import probe.cli.commands.trace  # noqa: F401 - registers the command
from probe.cli.base import app

DATA = Path(__file__).parents[1] / "data" / "received"
runner = CliRunner()


def test_clean_path_exits_0_with_a_table() -> None:
    result = runner.invoke(app, ["trace", str(DATA / "postfix_amavis_lmtp.eml")])
    assert result.exit_code == 0, result.output
    assert "mx.example.org" in result.stdout
    assert "total delay: 6s" in result.stdout
    assert "lmtp-delivery" in result.stdout


def test_anomalies_exit_1_and_json_is_one_document() -> None:
    result = runner.invoke(app, ["trace", "--json", str(DATA / "exchange_skew_tls_stop.eml")])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["schema"] == "probe.trace/1"
    assert [a["code"] for a in doc["anomalies"]] == ["clock-skew"]
    assert doc["links"][0]["delay"] == -4.0


def test_stdin() -> None:
    data = (DATA / "postfix_amavis_lmtp.eml").read_bytes()
    result = runner.invoke(app, ["trace", "-"], input=data)
    assert result.exit_code == 0
    assert "network hops: 1" in result.stdout


def test_unreadable_file_exits_3_with_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["trace", str(tmp_path / "missing.eml")])
    assert result.exit_code == 3
    assert result.stdout == ""


def test_not_a_message_exits_3(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02 no header here\n")
    result = runner.invoke(app, ["trace", str(junk)])
    assert result.exit_code == 3
