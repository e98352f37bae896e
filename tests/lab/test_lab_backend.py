"""Lab boxes in front of a server the lab does not run (`{kind = "backend", port = P}`), and
passing that server's banner through: what the `mta` tier puts in front of a real Postfix. Here
the backend is another lab's plain MTA."""

from __future__ import annotations

import mailbox
import smtplib
import time
from collections.abc import Iterator

import pytest

from probe.errors import ConfigError
from probe.lab.runtime import LabThread
from probe.lab.scenarios import HopSpec, Scenario, parse_scenarios
from tests.mta.boxes import scenario


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[tuple[str, int], str]]:
    """A lab Postfix-faced MTA: (its address, its Maildir)."""
    final = Scenario("backend", "", "", (HopSpec("final"),))
    with LabThread([final]) as lab:
        info = lab.info.scenarios[0]
        yield (info.address, info.port), str(info.maildir)


def greeting(entry: tuple[str, int]) -> str:
    with smtplib.SMTP(timeout=10) as client:
        code, text = client.connect(*entry)
        assert code == 220
        return text.decode()


def send(entry: tuple[str, int], data: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP(*entry, timeout=10) as client:
        client.ehlo("client.example")
        client.mail("sender@example.org")
        client.rcpt("rcpt@example.net")
        return client.data(data)


def stored(maildir: str, needle: bytes, wait: float = 10.0) -> bytes:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        box = mailbox.Maildir(maildir, create=False)
        for key in box.keys():
            raw = box.get_bytes(key)
            if needle in raw:
                return raw
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not delivered")


def test_checkpoint_passes_the_backend_banner_and_answers_the_rest(
    backend: tuple[tuple[str, int], str],
) -> None:
    (address, port), maildir = backend
    box = scenario("cpfront", "checkpoint", port, address, pass_banner=True)
    with LabThread([box]) as lab:
        entry = (lab.info.scenarios[0].address, lab.info.scenarios[0].port)
        assert greeting(entry) == greeting((address, port))
        with smtplib.SMTP(*entry, timeout=10) as client:
            client.ehlo("client.example")
            assert client.mail("sender@example.org") == (250, b"sender <sender@example.org> ok")
        code, _ = send(entry, b"Subject: via the box\r\nX-Tag: cp-1\r\n\r\nhello\r\n")
        assert code == 250
    copy = stored(maildir, b"X-Tag: cp-1")
    assert copy.count(b"Received: ") == 1  # the backend's; the box writes none
    assert b"(UTC)\r\nX-CheckPoint: {" in copy  # the box's header, below the Received


def test_inline_slow_scan_writes_no_received_and_holds_the_backend_reply(
    backend: tuple[tuple[str, int], str],
) -> None:
    (address, port), maildir = backend
    box = scenario("slowfront", "slow-scan", port, address, inline=True, base=0.3, per_mb=0.0)
    with LabThread([box]) as lab:
        entry = (lab.info.scenarios[0].address, lab.info.scenarios[0].port)
        started = time.monotonic()
        code, text = send(entry, b"Subject: slow\r\nX-Tag: slow-1\r\n\r\nhello\r\n")
        assert time.monotonic() - started >= 0.3
        assert code == 250 and text.startswith(b"2.0.0 Ok: queued as ")
    copy = stored(maildir, b"X-Tag: slow-1")
    assert copy.count(b"Received: ") == 1 and b"scan.slowfront" not in copy


@pytest.mark.parametrize(
    ("hops", "message"),
    [
        ([{"kind": "checkpoint"}, {"kind": "backend"}], "needs a port"),
        (
            [{"kind": "checkpoint"}, {"kind": "backend", "port": 25, "address": "192.0.2.1"}],
            "must be a loopback address",
        ),
        ([{"kind": "backend", "port": 25}, {"kind": "final"}], "must be the last hop"),
        ([{"kind": "final", "pass_banner": True}], "unknown parameter"),
    ],
)
def test_backend_scenarios_are_checked(hops: list[dict[str, object]], message: str) -> None:
    (parsed,) = parse_scenarios({"scenario": [{"name": "bad", "hops": hops}]})
    with pytest.raises(ConfigError, match=message), LabThread([parsed]):
        pass


def test_a_backend_alone_is_refused() -> None:
    alone = Scenario("alone", "", "", (HopSpec("backend", (("port", 25),)),))
    with pytest.raises(ConfigError, match="nothing would listen"), LabThread([alone]):
        pass
