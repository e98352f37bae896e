"""probe firewall across real hosts: three network namespaces the test run creates and removes
(tests/mta/netns.py), `probe firewall` in the outside one, a box in the middle one and
`probe listen --record` in the inside one, each a process of its own. Every box must come out
as exactly what it does, and the plain TCP forwarder as changing nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.lab.certs import LabCA
from probe.server.session_files import load_sessions
from tests.mta import firewall_postfix, netns

ROOT = Path(__file__).resolve().parents[2]
SINK_PORT = 2525
BOX_PORT = 25
RUN_TIMEOUT = 90.0  # seconds for one probe firewall process


@pytest.fixture(scope="module")
def chain() -> Iterator[netns.Chain]:
    reason = netns.missing_reason()
    if reason:
        pytest.skip(reason)
    yield from netns.chain()


def _probe(*args: str) -> list[str]:
    return [sys.executable, "-m", "probe", *args]


@pytest.fixture
def sink(chain: netns.Chain, tmp_path: Path) -> Iterator[Path]:
    """probe listen in the inside namespace; yields its record directory."""
    ca = LabCA(tmp_path / "ca")
    cert, key = ca.issue("sink.firewall.probe.test")
    records = tmp_path / "records"
    log = tmp_path / "listen.log"
    argv = _probe(
        "listen",
        "--host",
        chain.sink,
        "--port",
        str(SINK_PORT),
        "--record",
        str(records),
        "--hostname",
        "sink.firewall.probe.test",
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
    )
    with chain.serving(chain.inside, argv, log, ROOT, (chain.sink, SINK_PORT)):
        yield records


@pytest.fixture
def box(
    request: pytest.FixtureRequest, chain: netns.Chain, sink: Path, tmp_path: Path
) -> Iterator[str]:
    kind = request.param
    if kind == "postfix":
        reason = firewall_postfix.missing_reason()
        if reason:
            pytest.skip(reason)
        cert, key = LabCA(tmp_path / "box-ca").issue(firewall_postfix.NAME)
        with firewall_postfix.proxy_postfix(chain, BOX_PORT, SINK_PORT, cert, key):
            yield kind
        return
    log = tmp_path / "box.log"
    argv = [
        sys.executable,
        "-m",
        "tests.mta.firewall_boxes",
        kind,
        chain.box_outer,
        str(BOX_PORT),
        chain.sink,
        str(SINK_PORT),
        str(tmp_path / "box"),
    ]
    with chain.serving(chain.box, argv, log, ROOT, (chain.box_outer, BOX_PORT)):
        yield kind


def _firewall(chain: netns.Chain, records: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    argv = _probe(
        "firewall",
        f"{chain.box_outer}:{BOX_PORT}",
        "--records",
        str(records),
        "--json",
        "--timeout",
        "10",
        "--wait",
        "4",
        *extra,
    )
    done = subprocess.run(
        chain.exec(chain.outside, *argv), capture_output=True, cwd=ROOT, timeout=RUN_TIMEOUT
    )
    return done.returncode, json.loads(done.stdout)


def _differences(document: dict[str, Any]) -> dict[str, str]:
    ok = {"passed", "identical", "end-to-end"}
    return {
        f"{c['session']} {c['check']}": c["effect"]
        for c in document["checks"]
        if c["effect"] not in ok
    }


COMMANDS = ("HELP", "VRFY", "EXPN", "ETRN", "unknown verb", "long line", "BDAT", "split line")
PIPELINED = ("MAIL (pipelined)", "RCPT (pipelined)", "RSET (pipelined)")
MESSAGES = ("plain", "starttls", "8bit", "long-lines", "attachment", "size-100k", "size-1m")
LOOKALIKES = ("LF.LF", "CRLF.LF", "LF.CRLF", "CR.CR", "CRLF.CR", "CR.CRLF")


def _each(what: dict[str, str], sessions: tuple[str, ...]) -> dict[str, str]:
    return {f"{s} {check}": effect for s in sessions for check, effect in what.items()}


# Every check of each box that does not pass unchanged, and what the box did to it; a check
# not listed must pass (the control, the TCP forwarder, changes nothing at all: it forwards
# the end-of-data look-alikes byte for byte, which is no change).
DIFFERENCES: dict[str, dict[str, str]] = {
    "forwarder": {f"smuggle {name} smuggling {name}": "forwarded" for name in LOOKALIKES},
    "asa": {
        # inspect esmtp: banner masked, keywords off its allow-list masked with X's, the
        # commands off its list answered with 500 by the box itself; more than 100 RCPT drop
        # the connection (the listener's 452 at 101 never comes back); and it reads <LF>.<CR><LF>
        # as the end of data, then waits: no reply, no message
        "plain banner": "masked",
        **{f"plain capability {k}": "renamed" for k in ("STARTTLS", "SMTPUTF8", "CHUNKING")},
        "starttls starttls": "stripped",
        **{f"commands command {k}": "blocked" for k in ("EXPN", "unknown verb", "BDAT")},
        "commands command STARTTLS": "blocked",
        "chunking message": "not-tested",
        "smtputf8 message": "not-tested",
        "recipients recipients": "limited",
        **{f"smuggle {k} smuggling {k}": "forwarded" for k in LOOKALIKES if k != "LF.CRLF"},
        "smuggle LF.CRLF smuggling LF.CRLF": "not-arrived",
    },
    "checkpoint": {
        # an SMTP server of its own relaying inline: its banner and keywords, its own TLS
        # certificate, an X-CheckPoint header on every message (the body byte for byte), the
        # sessions without a message never leave it, and it re-encodes every look-alike
        "plain banner": "replaced",
        **{
            f"plain capability {name}": "removed"
            for name in (
                "PIPELINING",
                "VRFY",
                "ETRN",
                "ENHANCEDSTATUSCODES",
                "DSN",
                "SMTPUTF8",
                "CHUNKING",
            )
        },
        "plain capability SIZE": "changed",
        **_each({"header X-CheckPoint": "injected", "message": "altered"}, MESSAGES),
        "starttls starttls": "terminated",
        "commands session": "not-arrived",
        **{f"commands command {name}": "blocked" for name in (*COMMANDS, *PIPELINED)},
        "chunking session": "not-tested",
        "smtputf8 session": "not-tested",
        "recipients recipients": "not-tested",
        "size declared size": "limited",  # its own SIZE, refused by itself
        **{f"smuggle {k} smuggling {k}": "normalised" for k in LOOKALIKES},
    },
    "postfix": {
        # smtpd_proxy_filter: Postfix's own banner, keywords and TLS; it answers every command
        # but the transaction's MAIL and RCPT itself, passes BDAT on as DATA, adds its Received
        # header (the body byte for byte), passes the listener's 452 back, and turns a bare LF
        # into CRLF: the listener then reads the smuggled MAIL as a command
        "plain banner": "replaced",
        "plain capability SIZE": "changed",
        **_each(
            {"header Received": "injected", "message": "altered"},
            (*MESSAGES, "chunking", "smtputf8"),
        ),
        "starttls starttls": "terminated",
        **{f"commands command {name}": "blocked" for name in (*COMMANDS, "RSET (pipelined)")},
        "chunking command BDAT": "rewritten",
        "size declared size": "limited",  # message_size_limit, refused by Postfix itself
        **{f"smuggle {k} smuggling {k}": "smuggled" for k in ("LF.LF", "CRLF.LF", "LF.CRLF")},
        **{f"smuggle {k} smuggling {k}": "forwarded" for k in ("CR.CR", "CRLF.CR", "CR.CRLF")},
    },
}
STATUS = {"forwarder": 0, "asa": 2, "checkpoint": 2, "postfix": 2}
# the smallest declared SIZE refused: the listener's 25 MiB limit through the transparent boxes;
# Postfix (3.7) refuses from message_size_limit + 128 on, its own allowance
SIZE_REFUSED = {
    "forwarder": range(26214401, 26214402),
    "asa": range(26214401, 26214402),
    "checkpoint": range(10485761, 10485762),
    "postfix": range(10240001, 10241001),
}


@pytest.mark.parametrize("box", list(DIFFERENCES), indirect=True)
def test_every_change_of_the_box_and_nothing_else(chain: netns.Chain, sink: Path, box: str) -> None:
    code, document = _firewall(chain, sink, "--smuggling")
    assert _differences(document) == DIFFERENCES[box]
    assert code == STATUS[box]
    (size,) = (c for c in document["checks"] if c["check"] == "declared size")
    assert int(size["sent"].removeprefix("SIZE=")) in SIZE_REFUSED[box]
    if box == "forwarder":
        assert document["summary"] == ["changes nothing"]
        checks = {c["check"] for c in document["checks"]}
        assert checks >= {"banner", "starttls", "message", "recipients", "concurrent sessions"}
        assert {c["session"] for c in document["checks"] if c["check"] == "scan latency"} == {
            "plain",
            "attachment",
            "size-100k",
            "size-1m",
        }
    # nothing reached the listener but through the box: there is no other route
    token = f"fw-{document['token']}-"
    tagged = [r for r in load_sessions(sink) if any(token in x.text for x in r.client_lines())]
    assert tagged and {r.peer for r in tagged} == {chain.box_inner}
