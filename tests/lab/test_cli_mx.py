"""`probe mx` through typer's CliRunner against the lab DNS responder in a background thread.

The command calls asyncio.run itself, so the responder runs on its own loop in another thread.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner, Result

from probe.cli import app
from probe.lab.dnsserver import DnsResponder, DnsZone
from probe.model.json import from_data
from probe.model.mx import MxResult, MxSource

ZONE = DnsZone(
    records={
        "good.test.": (("MX", "20 mx2.good.test."), ("MX", "10 mx1.good.test.")),
        "mx1.good.test.": (("A", "127.0.0.1"), ("AAAA", "::1")),
        "mx2.good.test.": (("A", "127.0.0.2"),),
        "odd.test.": (("MX", "10 alias.good.test."), ("MX", "20 192.0.2.1.")),
        "alias.good.test.": (("CNAME", "mx1.good.test."),),
        "null.test.": (("MX", "0 ."),),
    },
    servfail=frozenset({"servfail.test."}),
    silent=frozenset({"silent.test."}),
)


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    loop = asyncio.new_event_loop()
    responder = DnsResponder(ZONE)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(responder.start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(responder.close())
        loop.close()

    thread = threading.Thread(target=serve, name="lab-dns", daemon=True)
    thread.start()
    assert ready.wait(5), "DNS responder did not start"
    yield responder.port
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback UDP port that is bound but never answers: an unreachable nameserver."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def probe(*args: str) -> Result:
    return CliRunner().invoke(app, ["mx", *args])


def test_table_lists_exchanges_in_order(dns_port: int) -> None:
    result = probe("good.test", "--nameserver", f"127.0.0.1:{dns_port}")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("mx1.good.test") < out.index("mx2.good.test")
    assert "::1" in out and "127.0.0.2" in out
    assert out.rstrip().splitlines()[-1].startswith("OK: good.test")


def test_json_document(dns_port: int) -> None:
    result = probe("good.test", "--json", "--nameserver", f"127.0.0.1:{dns_port}")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["schema"] == "probe.mx/1"
    assert doc["status"] == "OK"
    assert [h["exchange"] for h in doc["hosts"]] == ["mx1.good.test", "mx2.good.test"]
    loaded = from_data(MxResult, doc)
    assert loaded.source is MxSource.MX and loaded.hosts[0].addresses == ("127.0.0.1", "::1")


def test_anomalies_warn(dns_port: int) -> None:
    result = probe("odd.test", "--nameserver", f"127.0.0.1:{dns_port}")
    assert result.exit_code == 1
    assert "mx-cname" in result.stdout and "mx-ip-literal" in result.stdout
    doc = json.loads(probe("odd.test", "--json", "--nameserver", f"127.0.0.1:{dns_port}").stdout)
    assert doc["status"] == "WARNING"
    assert {"mx-cname", "mx-ip-literal"} <= {a["code"] for a in doc["anomalies"]}


def test_null_mx_is_critical(dns_port: int) -> None:
    result = probe("null.test", "--nameserver", f"127.0.0.1:{dns_port}")
    assert result.exit_code == 2
    assert "accepts no mail" in result.stdout


@pytest.mark.parametrize(
    ("domain", "words"),
    [
        ("nowhere.test", "NXDOMAIN"),
        ("servfail.test", "SERVFAIL"),
        ("silent.test", "no answer within 0.5 s"),
    ],
)
def test_dns_failures_exit_3_with_one_line(dns_port: int, domain: str, words: str) -> None:
    result = probe(domain, "--timeout", "0.5", "--nameserver", f"127.0.0.1:{dns_port}")
    assert result.exit_code == 3
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and lines[0].startswith("UNKNOWN:")
    doc = json.loads(
        probe(domain, "--json", "--timeout", "0.5", "--nameserver", f"127.0.0.1:{dns_port}").stdout
    )
    assert doc["schema"] == "probe.mx/1" and doc["status"] == "UNKNOWN" and doc["hosts"] == []


def test_unreachable_nameserver_times_out(silent_port: int) -> None:
    result = probe("good.test", "--timeout", "0.3", "--nameserver", f"127.0.0.1:{silent_port}")
    assert result.exit_code == 3
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["exa mple..com"],
        ["a..b"],
        ["x" * 64 + ".test"],
        [""],
        ["good.test", "--nameserver", "127.0.0.1:99999"],
        ["good.test", "--nameserver", "[::1"],
        ["good.test", "--timeout", "0"],
        ["good.test", "--no-such-option"],
        [],
    ],
)
def test_usage_errors_exit_3_with_one_line(args: list[str]) -> None:
    result = probe(*args)
    assert result.exit_code == 3
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("probe: error:"), result.stderr
