"""`probe threshold` through CliRunner against the lab's size-limited hops and hostile peers.

Ranges are narrow so each search moves a few dozen messages at most over loopback.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from typer.testing import CliRunner, Result

from probe.cli import app
from probe.lab.runtime import LabInfo, ScenarioInfo
from probe.model.threshold import ProbePoint, ProbeVerdict
from probe.plan.threshold import next_points, record, start
from tests.lab.smtp_peers import Recorder, Stall, ThreadedServer, aiosmtpd_server, raw_server

runner = CliRunner()
FAST = ["--helo", "probe.invalid", "--timeout", "2", "--deadline", "60"]


def threshold(info: ScenarioInfo, *args: str, via: bool = True) -> Result:
    target = ["--via", info.entry] if via else []
    return runner.invoke(
        app, ["threshold", info.domain, "--to", f"user@{info.domain}", *FAST, *target, *args]
    )


def rounds_needed(low: int, high: int, limit: int, k: int = 4) -> int:
    """What the pure planner needs for a hop that rejects from `limit` on."""
    state = start(low, high, k=k)
    while not state.done:
        points = next_points(state)
        state = record(
            state,
            tuple(
                ProbePoint(p, ProbeVerdict.FAIL if p >= limit else ProbeVerdict.PASS)
                for p in points
            ),
        )
    return len(state.rounds)


def test_checkpoint_proxy_threshold_to_the_byte(lab: LabInfo) -> None:
    info = lab.scenario("checkpoint")
    result = threshold(info, "--min", "1040000", "--max", "1060000")
    assert result.exit_code == 2, result.output
    rounds = rounds_needed(1_040_000, 1_060_000, 1_048_577)
    assert rounds <= 7
    out = result.stdout
    assert (
        f"threshold: 1,048,577 bytes (1.0 MB) and more fail; largest passing size 1,048,576 "
        f"bytes; {rounds} rounds" in out
    )
    assert "reply at the boundary: rejected at data-end: 554 Permanent scan failure" in out
    assert "although it advertises SIZE 10,485,760: the hop breaks its word" in out
    assert "lower bound  1,040,000  pass" in out
    assert out.rstrip().endswith("status: CRITICAL")
    assert "threshold round 1:" in result.stderr  # progress on stderr


def test_checkpoint_json_through_the_lab_dns(lab: LabInfo) -> None:
    info = lab.scenario("checkpoint")
    host, port = lab.nameserver
    result = threshold(
        info,
        "--nameserver",
        f"{host}:{port}",
        "--port",
        str(info.port),
        "--min",
        "1048000",
        "--max",
        "1049000",
        "--json",
        via=False,
    )
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "probe.threshold/1" and doc["status"] == "CRITICAL"
    assert doc["threshold"] == 1_048_577 and doc["largest_pass"] == 1_048_576
    assert doc["advertised_size"] == 10_485_760
    assert doc["rounds"] == rounds_needed(1_048_000, 1_049_000, 1_048_577)
    assert doc["target"].startswith("mx.checkpoint.lab.probe.test ")
    assert doc["report"]["search"]["high_tested"] is True
    assert "554 Permanent scan failure" in doc["report"]["boundary_reply"]
    assert doc["lower_bound"]["verdict"] == "pass"


def test_size_enforced_exactly_at_the_advertised_size_is_ok(lab: LabInfo) -> None:
    # --max defaults to the advertised SIZE + 1 = 2,000,001: the limit is the range end.
    result = threshold(lab.scenario("sizeenforce"), "--min", "1999900", "--k", "8")
    assert result.exit_code == 0, result.output
    assert "searched (1,999,900, 2,000,001] bytes, 8 probes per round" in result.stdout
    assert "threshold: 2,000,001 bytes" in result.stdout
    assert "enforces its advertised SIZE 2,000,000 exactly" in result.stdout
    assert "552 5.3.4" in result.stdout


def test_limit_below_advertised_size_is_critical(lab: LabInfo) -> None:
    # 4,999,999 passes; (4,999,999, 5,000,003] in four parts is every byte: one round.
    result = threshold(lab.scenario("sizelimit"), "--min", "4999999", "--max", "5000003", "--json")
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    assert doc["threshold"] == 5_000_001 and doc["status"] == "CRITICAL" and doc["rounds"] == 1
    assert "breaks its word" in doc["meaning"]


def test_no_failure_up_to_the_range_end_is_ok(lab: LabInfo) -> None:
    result = threshold(lab.scenario("clean"), "--max", "200000")
    assert result.exit_code == 0, result.output
    assert "no failure up to 200,000 bytes" in result.stdout
    assert "largest passing size 200,000 bytes; 1 round\n" in result.stdout


def test_recipient_rejected_stops_with_a_clear_message() -> None:
    handler = Recorder()
    handler.reject_rcpt.add("nobody@example.test")
    with ThreadedServer(lambda: aiosmtpd_server(handler)) as server:
        result = runner.invoke(
            app,
            [
                "threshold",
                "example.test",
                "--to",
                "nobody@example.test",
                "--via",
                f"127.0.0.1:{server.port}",
                *FAST,
            ],
        )
        as_json = runner.invoke(
            app,
            ["threshold", "example.test", "--to", "nobody@example.test", "--json"]
            + ["--via", f"127.0.0.1:{server.port}", *FAST],
        )
    assert result.exit_code == 3, result.output
    assert "stops at the first hard failure that is not size-related" in result.stdout
    assert "550 5.1.1 <nobody@example.test>" in result.stdout
    assert "threshold round" not in result.stderr  # no search after the hard failure
    assert len(handler.envelopes) == 0
    doc = json.loads(as_json.stdout)
    assert as_json.exit_code == 3 and doc["status"] == "UNKNOWN"
    assert doc["lower_bound"]["verdict"] == "hard" and doc["report"] is None


def test_refuses_a_recipient_outside_the_domain(lab: LabInfo) -> None:
    info = lab.scenario("clean")
    result = runner.invoke(app, ["threshold", info.domain, "--to", "user@example.org", *FAST])
    assert result.exit_code == 3  # a bad argument: UNKNOWN, not a CRITICAL finding
    assert result.stderr.count("\n") == 1 and "is not in clean.lab.probe.test" in result.stderr
    assert result.stdout == ""


def test_bad_ranges_and_dead_hosts_are_one_line_errors(lab: LabInfo) -> None:
    info = lab.scenario("clean")
    result = threshold(info, "--min", "5000", "--max", "5000")
    assert result.exit_code == 3 and "--max 5,000 must be above --min 5,000" in result.stderr
    result = threshold(info, "--k", "1")
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner.invoke(
        app, ["threshold", "x.test", "--to", "a@x.test", "--via", f"127.0.0.1:{port}", *FAST]
    )
    assert result.exit_code == 3 and "could not talk to 127.0.0.1: refused" in result.stderr
    assert "Traceback" not in result.output


class SilentLimit(Recorder):
    """Advertises no SIZE but refuses messages of 40,000 bytes and more after DATA."""

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        if len(envelope.original_content) >= 40_000:
            return "552 5.3.4 Message too big for system"
        return await super().handle_DATA(server, session, envelope)


def test_limit_without_advertised_size_is_a_warning() -> None:
    factory = lambda: aiosmtpd_server(SilentLimit(), data_size_limit=None)  # noqa: E731
    with ThreadedServer(factory) as server:
        result = runner.invoke(
            app,
            ["threshold", "example.test", "--to", "a@example.test", "--max", "100000"]
            + ["--via", f"127.0.0.1:{server.port}", *FAST],
        )
    assert result.exit_code == 1, result.output
    assert "hop 1 advertises no SIZE" in result.stdout
    assert "threshold: 40,000 bytes" in result.stdout
    assert "advertises no SIZE, so senders learn the limit only from the rejection" in result.stdout


def test_a_search_cut_off_by_its_deadline_reports_the_rounds_it_measured() -> None:
    """The lower bound passes, then every probe of round 1 stalls before its final reply: the
    deadline ends the search, and what it measured is still printed (UNKNOWN), not lost."""
    with ThreadedServer(lambda: raw_server(Stall(stall_from=20_000))) as server:
        base = ["threshold", "peer.test", "--to", "user@peer.test", "--helo", "probe.invalid"]
        base += ["--via", f"127.0.0.1:{server.port}", "--min", "10000", "--max", "90000"]
        text = runner.invoke(app, [*base, "--deadline", "1"])
        as_json = runner.invoke(app, [*base, "--deadline", "1", "--json"])
    assert text.exit_code == 3 and "Traceback" not in text.output
    assert "deadline of 1 s: reporting what was measured" in text.stderr
    assert "10,000  pass" in text.stdout
    assert "90,000  unknown    interrupted at data-end" in text.stdout
    assert "deadline of 1 s: interrupted during round 1: search not finished" in text.stdout
    doc = json.loads(as_json.stdout)
    assert as_json.exit_code == 3 and doc["status"] == "UNKNOWN"
    assert doc["lower_bound"]["verdict"] == "pass" and doc["threshold"] is None
    (round1,) = doc["report"]["search"]["rounds"]
    assert {p["verdict"] for p in round1["points"]} == {"unknown"}
