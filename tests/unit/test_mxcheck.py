"""MX anomalies and status, from hand-built results (pure: no DNS)."""

from __future__ import annotations

import pytest

from probe.analyze.mx import ANOMALIES, assess, find_anomalies, mx_status
from probe.model.mx import AddressLookup, LookupOutcome, MxHost, MxResult, MxSource, usable
from probe.model.status import Status

OK_A = AddressLookup("A", LookupOutcome.OK, ("192.0.2.10",))
NO_AAAA = AddressLookup("AAAA", LookupOutcome.NO_ANSWER, (), "no AAAA record")


def host(name: str, pref: int = 10, *addresses: str, **kw: object) -> MxHost:
    addrs = addresses or ("192.0.2.10",)
    lookups = kw.pop("lookups", (AddressLookup("A", LookupOutcome.OK, addrs), NO_AAAA))
    return MxHost(pref, name, addrs, lookups, **kw)  # type: ignore[arg-type]


def result(*hosts: MxHost, source: MxSource = MxSource.MX) -> MxResult:
    plain = MxResult("example.test", source, hosts, detail="test")
    return MxResult("example.test", source, hosts, find_anomalies(plain), "test")


def codes(r: MxResult) -> list[str]:
    return [a.code for a in r.anomalies]


def test_clean_set_is_ok() -> None:
    r = result(host("mx1.example.test"), host("mx2.example.test", 20, "192.0.2.11"))
    assert codes(r) == []
    assert mx_status(r) is Status.OK
    assert assess(r)[1] == "example.test: 2 usable exchange(s), 2 address(es)"


def test_cname() -> None:
    r = result(host("mx.example.test", cname_target="real.example.net"))
    (anomaly,) = r.anomalies
    assert (anomaly.code, anomaly.subject) == ("mx-cname", "mx.example.test")
    assert "real.example.net" in anomaly.detail and "2181" in anomaly.detail
    assert mx_status(r) is Status.WARNING


@pytest.mark.parametrize("literal", ["192.0.2.1", "2001:db8::1", "[192.0.2.1]"])
def test_ip_literal(literal: str) -> None:
    r = result(host(literal))
    assert codes(r) == ["mx-ip-literal"]


def test_no_address_with_a_usable_backup_is_a_warning() -> None:
    gone = MxHost(
        10, "gone.example.test", (), (NO_AAAA, AddressLookup("A", LookupOutcome.NXDOMAIN))
    )
    r = result(gone, host("backup.example.test", 20))
    assert codes(r) == ["mx-no-address"]
    assert mx_status(r) is Status.WARNING


def test_no_exchange_with_an_address_is_critical() -> None:
    gone = MxHost(10, "gone.example.test", (), (AddressLookup("A", LookupOutcome.NXDOMAIN),))
    assert mx_status(result(gone)) is Status.CRITICAL


def test_failed_lookups_only_is_unknown() -> None:
    failing = MxHost(10, "mx.example.test", (), (AddressLookup("A", LookupOutcome.TIMEOUT),))
    r = result(failing)
    assert codes(r) == ["mx-partial-failure"]
    assert mx_status(r) is Status.UNKNOWN


def test_partial_failure_names_the_lookup() -> None:
    half = host(
        "mx.example.test",
        lookups=(OK_A, AddressLookup("AAAA", LookupOutcome.SERVFAIL, (), "SERVFAIL")),
    )
    r = result(half)
    (anomaly,) = r.anomalies
    assert anomaly.code == "mx-partial-failure" and "AAAA servfail" in anomaly.detail
    assert mx_status(r) is Status.WARNING


def test_duplicate_named_once() -> None:
    r = result(host("mx.example.test", 10), host("MX.example.test", 20), host("other.test", 30))
    assert codes(r) == ["mx-duplicate"]
    assert "2 times" in r.anomalies[0].detail


def test_long_list() -> None:
    r = result(*(host(f"mx{i}.example.test", i, f"192.0.2.{i + 1}") for i in range(11)))
    assert codes(r) == ["mx-long-list"]
    assert codes(result(*(host(f"mx{i}.example.test", i) for i in range(10)))) == []


def test_localhost_is_informational() -> None:
    r = result(host("mx.lab.test", 10, "127.0.0.1", "::1"))
    assert codes(r) == ["mx-localhost"]
    assert ANOMALIES["mx-localhost"][0] is Status.OK
    assert mx_status(r) is Status.OK


def test_null_mx_mixed_with_others() -> None:
    r = result(MxHost(0, "."), host("mx.example.test"))
    assert codes(r) == ["null-mx-mixed"]
    assert mx_status(r) is Status.WARNING
    assert [h.exchange for h in usable(r)] == ["mx.example.test"]


def test_null_mx_is_critical() -> None:
    r = MxResult("example.test", MxSource.NULL_MX, (MxHost(0, "."),))
    assert mx_status(r) is Status.CRITICAL
    assert "accepts no mail" in assess(r)[1]


@pytest.mark.parametrize(
    "source", [MxSource.NXDOMAIN, MxSource.SERVFAIL, MxSource.TIMEOUT, MxSource.NO_MAIL_HOST]
)
def test_nothing_measured_is_unknown(source: MxSource) -> None:
    r = MxResult("example.test", source, detail="why it failed")
    assert mx_status(r) is Status.UNKNOWN
    assert assess(r)[1] == "example.test: why it failed"


def test_implicit_and_literal_are_ok() -> None:
    assert mx_status(result(host("example.test", 0), source=MxSource.IMPLICIT)) is Status.OK
    literal = result(host("192.0.2.5", 0), source=MxSource.LITERAL)  # `probe connect 192.0.2.5`
    assert codes(literal) == []
    assert mx_status(literal) is Status.OK


def test_an_address_that_is_no_address_is_judged_not_raised() -> None:
    """A saved run edited by hand (or a resolver answering garbage) holds no valid address."""
    r = result(host("mx.example.test", 10, "not-an-address", "127.0.0.1"))
    assert "mx-localhost" in codes(r)
    assert assess(r)[0] in (Status.OK, Status.WARNING)
