"""The resolve stage against the lab's DNS responder: real UDP/TCP on loopback, no mocks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import pytest

from probe.analyze.mx import mx_status, with_anomalies
from probe.errors import DnsError, UsageError
from probe.lab.dnsserver import DnsResponder, DnsZone
from probe.model.mx import LookupOutcome, MxResult, MxSource
from probe.model.status import Status
from probe.send.resolve import (
    delivery_order,
    new_dns_cache,
    resolve_addresses,
    resolve_mx,
    resolve_target,
)
from probe.smtp.hosts import normalize_domain

T = TypeVar("T")

ZONE = DnsZone(
    records={
        # out of order on purpose: preference order is the resolver's job
        "order.test.": (
            ("MX", "30 c.hosts.test."),
            ("MX", "10 a.hosts.test."),
            ("MX", "20 b.hosts.test."),
        ),
        "equal.test.": tuple(("MX", f"10 {n}.hosts.test.") for n in "edcba"),
        "implicit.test.": (("A", "127.0.0.9"),),
        "implicit6.test.": (("AAAA", "::1"),),
        "null.test.": (("MX", "0 ."),),
        "nullmixed.test.": (("MX", "0 ."), ("MX", "10 a.hosts.test.")),
        "txtonly.test.": (("TXT", '"v=spf1 -all"'),),
        "cname.test.": (("MX", "10 alias.hosts.test."),),
        "literal.test.": (("MX", "10 192.0.2.1."),),
        "noaddr.test.": (("MX", "10 a.hosts.test."), ("MX", "20 empty.hosts.test.")),
        "dup.test.": (("MX", "10 a.hosts.test."), ("MX", "20 a.hosts.test.")),
        "long.test.": tuple(("MX", f"{i} a.hosts.test.") for i in range(1, 13)),
        "big.test.": tuple(("MX", f"{i} mx{i:02d}.some-long-host-name.test.") for i in range(40)),
        "partial.test.": (
            ("MX", "10 a.hosts.test."),
            ("MX", "20 broken.hosts.test."),
            ("MX", "30 b.hosts.test."),
        ),
        "six.test.": (("MX", "10 v6.hosts.test."),),
        "slowmx.test.": (("MX", "10 slow.hosts.test."), ("MX", "20 a.hosts.test.")),
        "a.hosts.test.": (("A", "127.0.0.1"), ("A", "127.0.0.11"), ("AAAA", "::1")),
        "b.hosts.test.": (("A", "127.0.0.2"),),
        "c.hosts.test.": (("A", "127.0.0.3"),),
        "d.hosts.test.": (("A", "127.0.0.4"),),
        "e.hosts.test.": (("A", "127.0.0.5"),),
        "v6.hosts.test.": (("AAAA", "::1"),),
        "alias.hosts.test.": (("CNAME", "a.hosts.test."),),
        "empty.hosts.test.": (("TXT", '"no address here"'),),
        "xn--bcher-kva.test.": (("MX", "10 a.hosts.test."),),
    },
    servfail=frozenset({"servfail.test.", "broken.hosts.test."}),
    silent=frozenset({"silent.test.", "slow.hosts.test."}),
)


def with_responder(call: Callable[[list[tuple[str, int]]], Awaitable[T]]) -> T:
    """Start the responder, run `call(nameservers)`, stop it: all inside one asyncio.run."""

    async def go() -> T:
        async with DnsResponder(ZONE) as responder:
            return await call([("127.0.0.1", responder.port)])

    return asyncio.run(go())


def mx(domain: str, **kwargs: Any) -> MxResult:
    """The result as the commands show it: the resolver's facts, then the judge's anomalies."""
    kwargs.setdefault("timeout", 2.0)
    facts = with_responder(lambda ns: resolve_mx(domain, nameservers=ns, **kwargs))
    assert facts.anomalies == ()  # resolving names no anomaly: judging is analyze.mx's
    return with_anomalies(facts)


def codes(result: MxResult) -> list[str]:
    return [a.code for a in result.anomalies]


def test_preference_order_and_every_address() -> None:
    result = mx("order.test")
    assert result.source is MxSource.MX
    assert [(h.preference, h.exchange) for h in result.hosts] == [
        (10, "a.hosts.test"),
        (20, "b.hosts.test"),
        (30, "c.hosts.test"),
    ]
    assert result.hosts[0].addresses == ("127.0.0.1", "127.0.0.11", "::1")
    assert {lk.rdtype: lk.outcome for lk in result.hosts[2].lookups} == {
        "A": LookupOutcome.OK,
        "AAAA": LookupOutcome.NO_ANSWER,
    }
    assert result.nameservers and result.nameservers[0].startswith("127.0.0.1:")
    assert mx_status(result) is Status.OK
    assert codes(result) == ["mx-localhost"] * 3  # informational only


def test_equal_preferences_are_stable_unless_shuffle_is_asked() -> None:
    expected = [f"{n}.hosts.test" for n in "abcde"]

    async def orders(ns: list[tuple[str, int]], shuffle: bool) -> list[list[str]]:
        found = []
        for _ in range(8):
            result = await resolve_mx("equal.test", nameservers=ns, shuffle_equal=shuffle)
            found.append([h.exchange for h in result.hosts])
        return found

    stable = with_responder(lambda ns: orders(ns, False))
    assert all(order == expected for order in stable)
    shuffled = with_responder(lambda ns: orders(ns, True))
    assert all(sorted(order) == expected for order in shuffled)
    assert any(order != expected for order in shuffled)  # 8 times sorted by chance: 1 in 120^8


def test_shuffle_keeps_preference_groups_in_order() -> None:
    result = mx("partial.test", shuffle_equal=True)
    assert [h.preference for h in result.hosts] == [10, 20, 30]


@pytest.mark.parametrize(
    ("domain", "address"), [("implicit.test", "127.0.0.9"), ("implicit6.test", "::1")]
)
def test_implicit_mx(domain: str, address: str) -> None:
    result = mx(domain)
    assert result.source is MxSource.IMPLICIT
    assert [(h.preference, h.exchange, h.addresses) for h in result.hosts] == [
        (0, domain, (address,))
    ]
    assert "implicit" in result.detail
    assert mx_status(result) is Status.OK


def test_null_mx_means_no_mail() -> None:
    result = mx("null.test")
    assert result.source is MxSource.NULL_MX
    assert mx_status(result) is Status.CRITICAL


def test_null_mx_beside_other_mx_is_named() -> None:
    result = mx("nullmixed.test")
    assert result.source is MxSource.MX
    assert "null-mx-mixed" in codes(result)
    assert mx_status(result) is Status.WARNING


@pytest.mark.parametrize(
    ("domain", "source", "words"),
    [
        ("nowhere.test", MxSource.NXDOMAIN, "NXDOMAIN"),
        ("servfail.test", MxSource.SERVFAIL, "SERVFAIL"),
        ("txtonly.test", MxSource.NO_MAIL_HOST, "no MX and no address"),
    ],
)
def test_dns_failures_are_typed_results(domain: str, source: MxSource, words: str) -> None:
    result = mx(domain)
    assert result.source is source
    assert result.hosts == ()
    assert words in result.detail and "\n" not in result.detail
    assert mx_status(result) is Status.UNKNOWN


def test_timeout_is_a_result_within_its_lifetime() -> None:
    result = mx("silent.test", timeout=0.5)
    assert result.source is MxSource.TIMEOUT
    assert "0.5 s" in result.detail
    assert result.duration_ms < 3000
    assert mx_status(result) is Status.UNKNOWN


def test_cname_exchange_is_detected_and_still_resolved() -> None:
    result = mx("cname.test")
    (host,) = result.hosts
    assert host.cname_target == "a.hosts.test"
    assert host.addresses == ("127.0.0.1", "127.0.0.11", "::1")
    assert "mx-cname" in codes(result)
    assert mx_status(result) is Status.WARNING


def test_ip_literal_exchange() -> None:
    result = mx("literal.test")
    assert result.hosts[0].exchange == "192.0.2.1"
    assert {"mx-ip-literal", "mx-no-address"} <= set(codes(result))
    assert mx_status(result) is Status.CRITICAL  # the only exchange has no address


def test_exchange_without_address_does_not_hide_the_others() -> None:
    result = mx("noaddr.test")
    assert [h.exchange for h in result.hosts] == ["a.hosts.test", "empty.hosts.test"]
    assert result.hosts[1].addresses == ()
    assert [a.subject for a in result.anomalies if a.code == "mx-no-address"] == [
        "empty.hosts.test"
    ]
    assert mx_status(result) is Status.WARNING


def test_duplicate_exchange() -> None:
    result = mx("dup.test")
    assert [h.preference for h in result.hosts] == [10, 20]
    assert codes(result).count("mx-duplicate") == 1
    assert delivery_order(result) == tuple((result.hosts[0], a) for a in result.hosts[0].addresses)


def test_long_list() -> None:
    result = mx("long.test")
    assert len(result.hosts) == 12
    assert "mx-long-list" in codes(result)


def test_answer_too_big_for_udp_is_fetched_over_tcp() -> None:
    async def go(ns: list[tuple[str, int]]) -> tuple[bool, MxResult]:
        query = dns.message.make_query("big.test.", "MX")  # no EDNS: 512 bytes
        reply = await dns.asyncquery.udp(query, ns[0][0], port=ns[0][1], timeout=2)
        return bool(reply.flags & dns.flags.TC), await resolve_mx(
            "big.test", nameservers=ns, timeout=2
        )

    truncated, result = with_responder(go)
    assert truncated
    assert len(result.hosts) == 40


def test_aaaa_only_exchange() -> None:
    result = mx("six.test")
    assert result.hosts[0].addresses == ("::1",)


def test_partial_failure_of_one_exchange() -> None:
    result = mx("partial.test")
    assert [h.exchange for h in result.hosts] == [
        "a.hosts.test",
        "broken.hosts.test",
        "b.hosts.test",
    ]
    broken = result.hosts[1]
    assert {lk.outcome for lk in broken.lookups} == {LookupOutcome.SERVFAIL}
    assert result.hosts[2].addresses == ("127.0.0.2",)
    assert [a.subject for a in result.anomalies if a.code == "mx-partial-failure"] == [
        "broken.hosts.test"
    ]
    assert mx_status(result) is Status.WARNING


def test_timeout_of_one_exchange_keeps_the_others() -> None:
    result = mx("slowmx.test", timeout=0.5)
    assert {lk.outcome for lk in result.hosts[0].lookups} == {LookupOutcome.TIMEOUT}
    assert result.hosts[1].addresses
    assert "mx-partial-failure" in codes(result)


def test_tcp_query_against_the_responder() -> None:
    async def go(ns: list[tuple[str, int]]) -> list[dns.message.Message]:
        host, port = ns[0]
        replies = []
        for name in ("order.test.", "nowhere.test.", "alias.hosts.test."):
            query = dns.message.make_query(name, "MX" if "order" in name else "A")
            replies.append(await dns.asyncquery.tcp(query, host, port=port, timeout=2))
        return replies

    ok, missing, alias = with_responder(go)
    assert ok.rcode() == dns.rcode.NOERROR and len(ok.answer[0]) == 3
    assert ok.flags & dns.flags.AA
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert [rrset.rdtype for rrset in alias.answer] == [5, 1]  # CNAME, then the target's A


def test_responder_survives_garbage_and_answers_empty_non_terminals() -> None:
    async def go(ns: list[tuple[str, int]]) -> dns.message.Message:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=ns[0]
        )
        transport.sendto(b"\x00\x01garbage")
        transport.close()
        query = dns.message.make_query("hosts.test.", "A")
        return await dns.asyncquery.udp(query, ns[0][0], port=ns[0][1], timeout=2)

    reply = with_responder(go)
    assert reply.rcode() == dns.rcode.NOERROR and not reply.answer


def test_names_are_case_insensitive_and_idn_is_converted() -> None:
    assert mx("ORDER.Test.").source is MxSource.MX
    result = mx("bücher.test")
    assert result.domain == "xn--bcher-kva.test"
    assert result.source is MxSource.MX


@pytest.mark.parametrize(
    "bad",
    [
        "exa mple..com",
        "a..b",
        "",
        " ",
        ".",
        "x" * 64 + ".test",
        "a." * 130 + "test",
        "foo!.test",
        "user@example.org",
        "-lead.test",
    ],
)
def test_invalid_domain_syntax_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        normalize_domain(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError):
        asyncio.run(resolve_mx(bad, nameservers=[("127.0.0.1", 9)], timeout=0.2))


def test_ip_literal_target_needs_no_dns() -> None:
    result = asyncio.run(resolve_mx("[192.0.2.7]", nameservers=[("127.0.0.1", 9)]))
    assert result.source is MxSource.LITERAL
    assert result.hosts[0].addresses == ("192.0.2.7",)
    assert with_anomalies(result) == result  # an address given as is: nothing to judge
    assert asyncio.run(resolve_addresses("::1")) == ("::1",)


def test_resolve_addresses() -> None:
    found = with_responder(lambda ns: resolve_addresses("a.hosts.test", nameservers=ns))
    assert found == ("127.0.0.1", "127.0.0.11", "::1")
    with pytest.raises(DnsError, match="nowhere.test has no address: does not exist"):
        with_responder(lambda ns: resolve_addresses("nowhere.test", nameservers=ns))


def test_resolve_target_as_host_and_as_domain() -> None:
    host = with_responder(lambda ns: resolve_target("b.hosts.test", nameservers=ns, as_host=True))
    assert host.source is MxSource.LITERAL
    assert delivery_order(host)[0][1] == "127.0.0.2"
    missing = with_responder(lambda ns: resolve_target("no.test", nameservers=ns, as_host=True))
    assert missing.source is MxSource.NXDOMAIN
    domain = with_responder(lambda ns: resolve_target("order.test", nameservers=ns))
    assert domain.source is MxSource.MX
    assert [a for _, a in delivery_order(domain)][:3] == ["127.0.0.1", "127.0.0.11", "::1"]


def test_a_shared_cache_asks_for_a_common_exchanger_once() -> None:
    """A check of many domains whose MX is one host looks that host up once (its TTL), not once
    per domain; without a cache every domain asks again."""
    domains = [f"d{n}.shared.test." for n in range(12)]
    zone = DnsZone(
        records={
            "mx.shared.test.": (("A", "127.0.0.30"),),
            **{d: (("MX", "10 mx.shared.test."),) for d in domains},
        }
    )

    async def go(cache: bool) -> tuple[list[MxResult], dict[tuple[str, str], int]]:
        async with DnsResponder(zone) as responder:
            ns = [("127.0.0.1", responder.port)]
            shared = new_dns_cache() if cache else None
            found = [
                await resolve_mx(d, nameservers=ns, timeout=2.0, cache=shared) for d in domains
            ]
            return found, dict(responder.asked)

    cached, asked = asyncio.run(go(cache=True))
    assert all(r.hosts[0].addresses == ("127.0.0.30",) for r in cached)
    assert asked[("mx.shared.test.", "A")] == 1 and asked[("mx.shared.test.", "AAAA")] == 1
    assert all(asked[(d, "MX")] == 1 for d in domains)
    uncached, asked = asyncio.run(go(cache=False))
    assert [r.hosts for r in uncached] == [r.hosts for r in cached]
    assert asked[("mx.shared.test.", "A")] == len(domains)
