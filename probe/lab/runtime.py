"""Running the lab: every scenario's hops, the lab CA and the DNS responder, on loopback.

Each scenario's entry listens on its own loopback address 127.0.0.<10+i>, all on the SAME port P,
so `mx.<name>.lab.probe.test` can resolve to it and `probe connect <domain> --port P` works.
Where the platform has only 127.0.0.1 the entries fall back to one port each (`LabInfo.shared_port`
is None then, and DNS cannot express the port: use `ScenarioInfo.entry`).

`Lab` is async (start/stop on the caller's loop); `LabThread` runs it on a loop in a background
thread for synchronous callers (tests, `probe lab`, `probe demo`).

The lab has no mailbox of its own for the probe's sender (e.g. probe@probe.invalid): a DSN that
a store-and-forward hop returns to the envelope sender is delivered into the scenario's final
Maildir, as if the sender's mailbox were there (Return-Path: <>, Delivered-To: the sender), so
`probe run --mailbox maildir:<that Maildir>` collects the bounce with the delivered copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import shutil
import socket
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from probe.errors import MeasurementError
from probe.lab import kinds
from probe.lab.certs import LabCA
from probe.lab.dnsserver import DnsResponder, DnsZone
from probe.lab.scenarios import LAB_ZONE, Scenario, load_scenarios
from probe.server.engine import SmtpHop
from probe.server.maildir import MaildirDelivery

FIRST_HOST = 10
PORT_ATTEMPTS = 20
START_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class ScenarioInfo:
    name: str
    domain: str
    mx_host: str
    address: str  # the entry's address
    port: int  # the entry's port
    maildir: Path  # the Maildir of the last hop
    description: str
    expected: str
    hops: tuple[str, ...] = ()  # the kinds, entry first

    @property
    def entry(self) -> str:
        return f"{self.address}:{self.port}"


@dataclasses.dataclass(frozen=True)
class LabInfo:
    directory: Path
    scenarios: tuple[ScenarioInfo, ...]
    dns_host: str
    dns_port: int
    shared_port: int | None  # P when every entry has its own address on one port
    ca_file: Path

    @property
    def nameserver(self) -> tuple[str, int]:
        return (self.dns_host, self.dns_port)

    def scenario(self, name: str) -> ScenarioInfo:
        for info in self.scenarios:
            if info.name == name:
                return info
        raise KeyError(name)


def _listening_socket(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def reserve_entries(count: int, port: int = 0) -> tuple[list[socket.socket], int | None]:
    """Listening sockets for `count` entries: distinct addresses on one port, else 127.0.0.1."""
    addresses = [f"127.0.0.{FIRST_HOST + i}" for i in range(count)]
    for _ in range(PORT_ATTEMPTS if port == 0 else 1):
        sockets: list[socket.socket] = []
        try:
            for address in addresses:
                wanted = port or (sockets[0].getsockname()[1] if sockets else 0)
                sockets.append(_listening_socket(address, wanted))
            return sockets, sockets[0].getsockname()[1] if sockets else port
        except OSError as exc:
            for sock in sockets:
                sock.close()
            if exc.errno == errno.EADDRNOTAVAIL:
                break  # no distinct loopback addresses here
            if exc.errno != errno.EADDRINUSE or port:
                raise MeasurementError(f"cannot listen on port {port}: {exc.strerror}") from exc
    return [_listening_socket("127.0.0.1", 0) for _ in range(count)], None


def lab_zone(infos: Sequence[ScenarioInfo]) -> DnsZone:
    """MX and A records for every scenario, plus names for resolution tests."""
    records: dict[str, tuple[tuple[str, str], ...]] = {}
    for info in infos:
        records[f"{info.domain}."] = (("MX", f"10 {info.mx_host}."),)
        records[f"{info.mx_host}."] = (("A", info.address),)
    first = infos[0] if infos else None
    if first is not None:
        records[f"implicit.{LAB_ZONE}."] = (("A", first.address),)
        records[f"cname.{LAB_ZONE}."] = (("MX", f"10 alias.cname.{LAB_ZONE}."),)
        records[f"alias.cname.{LAB_ZONE}."] = (("CNAME", f"{first.mx_host}."),)
        records[f"multi.{LAB_ZONE}."] = tuple(
            ("MX", f"{10 * (1 + i // 2)} {info.mx_host}.") for i, info in enumerate(infos[:3])
        )
    records[f"nullmx.{LAB_ZONE}."] = (("MX", "0 ."),)
    records[f"{LAB_ZONE}."] = (
        ("SOA", f"ns.{LAB_ZONE}. hostmaster.{LAB_ZONE}. 1 3600 600 86400 300"),
        ("NS", f"ns.{LAB_ZONE}."),
    )
    records[f"ns.{LAB_ZONE}."] = (("A", "127.0.0.1"),)
    return DnsZone(
        records=records,
        servfail=frozenset({f"servfail.{LAB_ZONE}."}),
        silent=frozenset({f"timeout.{LAB_ZONE}."}),
    )


class Lab:
    """All scenarios on loopback. `await start()` -> LabInfo; `await stop()` closes everything."""

    def __init__(
        self,
        scenarios: Sequence[Scenario] | None = None,
        *,
        directory: Path | None = None,
        port: int = 0,
        dns_port: int = 0,
    ) -> None:
        self.scenarios = tuple(load_scenarios() if scenarios is None else scenarios)
        self._directory = directory
        self._own_directory = directory is None
        self.port = port
        self.dns_port = dns_port
        self.hops: list[kinds.Hop] = []
        self.dns: DnsResponder | None = None
        self.info: LabInfo | None = None

    async def start(self) -> LabInfo:
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> LabInfo:
        directory = self._directory or Path(tempfile.mkdtemp(prefix="probe-lab-"))
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        ca = LabCA(directory / "tls")
        sockets, shared = reserve_entries(len(self.scenarios), self.port)
        infos: list[ScenarioInfo] = []
        try:
            for scenario, sock in zip(self.scenarios, sockets, strict=True):
                infos.append(await self._start_scenario(scenario, sock, directory, ca))
        finally:
            for sock in sockets[len(infos) :]:  # not handed to a server: ours to close
                sock.close()
        self.dns = DnsResponder(lab_zone(infos))
        await self.dns.start("127.0.0.1", self.dns_port)
        self.info = LabInfo(
            directory=directory,
            scenarios=tuple(infos),
            dns_host="127.0.0.1",
            dns_port=self.dns.port,
            shared_port=shared,
            ca_file=ca.ca_file,
        )
        return self.info

    async def _start_scenario(
        self, scenario: Scenario, sock: socket.socket, directory: Path, ca: LabCA
    ) -> ScenarioInfo:
        address, port = sock.getsockname()[:2]
        maildir = directory / scenario.name / "Maildir"
        next_hop: tuple[str, int] | None = None
        next_name: str | None = None
        mailbox: MaildirDelivery | None = None  # the last hop's: the senders' mailbox too
        for index in range(len(scenario.hops) - 1, -1, -1):
            spec = scenario.hops[index]
            ctx = kinds.HopContext(
                scenario.name,
                scenario.domain,
                address,
                next_hop,
                maildir,
                ca,
                next_name=next_name,
                mailbox=mailbox,
            )
            hop = kinds.build(spec.kind, ctx, spec.options, last=next_hop is None)
            if isinstance(hop, SmtpHop):
                next_name = hop.handler.personality.hostname
                if isinstance(hop.handler.delivery, MaildirDelivery):
                    mailbox = hop.handler.delivery
            else:
                next_name = None
            if index == 0:
                await hop.start(sock=sock)
            else:
                await hop.start(address, 0)
            self.hops.append(hop)
            next_hop = (hop.host, hop.port)
        return ScenarioInfo(
            name=scenario.name,
            domain=scenario.domain,
            mx_host=f"mx.{scenario.domain}",
            address=address,
            port=port,
            maildir=maildir,
            description=scenario.description,
            expected=scenario.expected,
            hops=scenario.kinds,
        )

    async def stop(self) -> None:
        for hop in reversed(self.hops):
            with contextlib.suppress(Exception):
                await hop.close()
        self.hops.clear()
        if self.dns is not None:
            await self.dns.close()
            self.dns = None
        if self._own_directory and self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None


class LabThread:
    """The lab on its own event loop in a background thread::

        with LabThread() as lab:
            info = lab.info              # LabInfo: addresses, ports, Maildirs, DNS port
            ... talk to info.scenario("checkpoint").entry ...

    Leaving the block closes every server and joins the thread.
    """

    def __init__(self, scenarios: Sequence[Scenario] | None = None, **options: Any) -> None:
        self._lab = Lab(scenarios, **options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._info: LabInfo | None = None

    @property
    def info(self) -> LabInfo:
        if self._info is None:
            raise RuntimeError("the lab is not running")
        return self._info

    def start(self) -> LabInfo:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run, args=(loop,), name="probe-lab", daemon=True
        )
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._lab.start(), loop)
        try:
            self._info = future.result(START_TIMEOUT)
        except BaseException:  # Ctrl-C, SIGTERM: the lab may have started meanwhile
            self.stop()  # so its servers are closed and its directory removed
            raise
        return self._info

    def stop(self) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._lab.stop(), self._loop).result(START_TIMEOUT)
        self._shutdown()
        self._info = None

    def _shutdown(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(START_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT)
        self._loop = self._thread = None

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            with contextlib.suppress(Exception):  # join the Maildir writers' threads
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def __enter__(self) -> LabThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
