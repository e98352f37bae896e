"""A small authoritative DNS responder for the lab, so resolution runs the real path on loopback.

`probe mx` and `probe connect` resolve lab domains exactly as they resolve real ones (dnspython
over UDP, and TCP when asked), only the nameserver is this responder. The zone is data: a dict
of names to `(rdtype, rdata text)` pairs, plus names that fail (SERVFAIL) or never answer (for
timeouts). Unknown names get NXDOMAIN; known names without the asked type get NOERROR/no data;
CNAMEs are answered with the chain and the target's records when the zone holds them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import errno
import struct
from collections.abc import Iterable
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 300
MAX_CNAME_CHAIN = 8
BIND_ATTEMPTS = 8


@dataclasses.dataclass(frozen=True)
class DnsZone:
    """What the responder knows. Names are absolute (trailing dot), compared case-insensitively.

    `records`: name -> ((rdtype, rdata text), ...),
    e.g. `{"lab.test.": (("MX", "10 mx.lab.test."),)}`.
    `servfail`: names answered with SERVFAIL. `silent`: names that never get an answer.
    """

    records: dict[str, tuple[tuple[str, str], ...]]
    servfail: frozenset[str] = frozenset()
    silent: frozenset[str] = frozenset()


class _Data:
    """The zone compiled into dnspython objects once, for fast and case-insensitive lookups."""

    def __init__(self, zone: DnsZone) -> None:
        self.rrsets: dict[tuple[dns.name.Name, int], dns.rrset.RRset] = {}
        self.names: set[dns.name.Name] = set()
        self.asked: collections.Counter[tuple[str, str]] = collections.Counter()  # (name, type)
        for text, pairs in zone.records.items():
            name = dns.name.from_text(text)
            self.names.update(_self_and_parents(name))
            for rdtype_text, rdata_text in pairs:
                rdtype = dns.rdatatype.from_text(rdtype_text)
                rdata = dns.rdata.from_text(
                    dns.rdataclass.IN, rdtype, rdata_text, dns.name.root, relativize=False
                )
                key = (name, rdtype)
                if key not in self.rrsets:
                    self.rrsets[key] = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
                # identical rdatas merge, as in a real zone ("10 mx." and "20 mx." stay two)
                self.rrsets[key].add(rdata, TTL)
        self.servfail = {dns.name.from_text(n) for n in zone.servfail}
        self.silent = {dns.name.from_text(n) for n in zone.silent}


def _self_and_parents(name: dns.name.Name) -> Iterable[dns.name.Name]:
    """A name and its ancestors: ancestors are empty non-terminals (NOERROR, not NXDOMAIN)."""
    while name != dns.name.root:
        yield name
        name = name.parent()


def answer(data: _Data, query: dns.message.Message) -> dns.message.Message | None:
    """The response to one query, or None when the name is silent (the client must time out)."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.flags &= ~dns.flags.RA
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
        return response
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    name, rdtype = question.name, question.rdtype
    data.asked[(name.to_text().lower(), dns.rdatatype.to_text(rdtype))] += 1
    for _ in range(MAX_CNAME_CHAIN):
        if name in data.silent:
            return None
        if name in data.servfail:
            response.answer.clear()
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        if name not in data.names:
            response.set_rcode(dns.rcode.NXDOMAIN)  # RFC 6604: the rcode of the chain's end
            return response
        exact = data.rrsets.get((name, rdtype))
        if exact is not None:
            response.answer.append(exact)
            return response
        cname = data.rrsets.get((name, dns.rdatatype.CNAME))
        if cname is None:
            return response  # NOERROR, no data
        response.answer.append(cname)
        name = next(iter(cname)).target
    return response


def _wire(response: dns.message.Message, max_size: int) -> bytes:
    """Serialise for UDP; an answer that does not fit goes empty with TC: the client retries TCP."""
    try:
        return response.to_wire(max_size=max_size)
    except dns.exception.TooBig:
        response.answer.clear()
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=max_size)


def _parse(wire: bytes) -> dns.message.Message | None:
    try:
        return dns.message.from_wire(wire)
    except (dns.exception.DNSException, ValueError):
        return None  # not a DNS query we can answer: drop it, as servers do with garbage


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, data: _Data) -> None:
        self.data = data
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def error_received(self, exc: Exception) -> None:
        pass  # e.g. ICMP unreachable for a client that went away: nothing to do

    def datagram_received(self, wire: bytes, addr: tuple[str | int, ...]) -> None:
        query = _parse(wire)
        if query is None or self.transport is None:
            return
        response = answer(self.data, query)
        if response is not None:
            size = max(512, query.payload) if query.edns >= 0 else 512
            self.transport.sendto(_wire(response, size), addr)


class DnsResponder:
    """An authoritative responder for one `DnsZone` on a loopback port, UDP and TCP alike.

    Usage::

        responder = DnsResponder(zone)
        await responder.start()            # port 0: a free port, the same for UDP and TCP
        ... resolve against ("127.0.0.1", responder.port) ...
        await responder.close()
    """

    def __init__(self, zone: DnsZone) -> None:
        self.zone = zone
        self._data = _Data(zone)
        self.host = "127.0.0.1"
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    @property
    def asked(self) -> collections.Counter[tuple[str, str]]:
        """How often each (name, type) was asked: what a resolver's cache saved shows here."""
        return self._data.asked

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        self.host = host
        attempts = BIND_ATTEMPTS if port == 0 else 1
        for attempt in range(attempts):
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self._data), local_addr=(host, port)
            )
            bound = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, host, bound)
            except OSError as exc:
                udp.close()
                if exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                    raise
                continue
            self._udp = udp
            self.port = bound
            return

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for writer in list(self._clients):
                writer.close()
            await self._tcp.wait_closed()
            self._tcp = None

    async def __aenter__(self) -> DnsResponder:
        if self._udp is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                query = _parse(await reader.readexactly(length))
                if query is None:
                    break
                response = answer(self._data, query)
                if response is None:
                    continue  # silent: the client waits for its timeout
                wire = response.to_wire()
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
