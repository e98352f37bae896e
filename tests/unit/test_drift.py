"""Drift between two snapshots: each change named once, and nothing for what carries no meaning."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from probe.analyze.drift import compare
from probe.model.drift import DriftKind
from probe.model.snapshot import AddressSnapshot, HopSnapshot, PathSnapshot

# Postfix 3.7's banner and EHLO reply as Debian 12 ships them.
BANNER = "mx.example.test ESMTP Postfix (Debian/GNU)"
CAPS = ("PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES",
        "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING")
EXPIRY = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)

ADDRESS = AddressSnapshot(
    exchange="mx.example.test", address="192.0.2.10", reached=True, banner=BANNER,
    capabilities=CAPS, starttls_offered=True, certificate_sha256="aa" * 32,
    certificate_issuer="CN=Example CA", certificate_not_after=EXPIRY,
    certificate_valid_for_host=True,
)
BEFORE = PathSnapshot(
    target="example.test",
    mx_hosts=("mx.example.test",),
    addresses=(ADDRESS,),
    hops=(HopSnapshot("mx.example.test", "Postfix", 0.4, 1.0),
          HopSnapshot("store.example.test", "Dovecot", 0.1, 0.2)),
    injected_headers=("x-spam-status",),
    size_limit=10_240_001,
    verdicts=(),
)


def _kinds(after: PathSnapshot) -> list[DriftKind]:
    return [item.kind for item in compare(BEFORE, after)]


def test_nothing_changed_is_no_drift() -> None:
    assert compare(BEFORE, BEFORE) == ()


def test_volatile_banner_parts_and_capability_order_are_not_drift() -> None:
    dated = dataclasses.replace(
        ADDRESS,
        banner="mx.example.test ESMTP Postfix (Debian/GNU) Thu, 3 Dec 2026 09:13:30 +0000",
        capabilities=tuple(reversed(CAPS)),
    )
    assert compare(dataclasses.replace(BEFORE, addresses=(dataclasses.replace(
        ADDRESS, banner="mx.example.test ESMTP Postfix (Debian/GNU) Wed, 2 Dec 2026 08:01:02 +0000"
    ),)), dataclasses.replace(BEFORE, addresses=(dated,))) == ()


def test_starttls_vanishing_is_named_as_such_not_as_a_capability_change() -> None:
    stripped = dataclasses.replace(
        ADDRESS, starttls_offered=False, capabilities=tuple(c for c in CAPS if c != "STARTTLS"),
        certificate_sha256=None,
    )
    items = compare(BEFORE, dataclasses.replace(BEFORE, addresses=(stripped,)))
    assert [i.kind for i in items] == [DriftKind.STARTTLS_VANISHED]
    assert "STARTTLS is no longer offered" in items[0].summary


def test_a_box_renaming_an_extension_is_a_capability_change() -> None:
    masked = dataclasses.replace(
        ADDRESS, capabilities=tuple("XXXXXXXA" if c == "CHUNKING" else c for c in CAPS)
    )
    (item,) = compare(BEFORE, dataclasses.replace(BEFORE, addresses=(masked,)))
    assert item.kind is DriftKind.CAPABILITIES
    assert "without CHUNKING" in item.summary and "now with XXXXXXXA" in item.summary


def test_a_new_certificate_names_issuer_and_expiry() -> None:
    renewed = dataclasses.replace(
        ADDRESS, certificate_sha256="bb" * 32, certificate_issuer="CN=Other CA",
        certificate_not_after=EXPIRY + dt.timedelta(days=90),
    )
    (item,) = compare(BEFORE, dataclasses.replace(BEFORE, addresses=(renewed,)))
    assert item.kind is DriftKind.CERTIFICATE
    assert "CN=Other CA" in item.summary and "2027-05-30" in item.summary


def test_mx_set_hops_headers_size_and_verdicts() -> None:
    after = dataclasses.replace(
        BEFORE,
        mx_hosts=("mx2.example.test",),
        hops=(HopSnapshot("filter.example.test", "Postfix"),
              HopSnapshot("mx.example.test", "Exim 4.96", 0.4, 1.0)),
        injected_headers=("x-spam-status", "x-checkpoint"),
        size_limit=1_048_577,
        verdicts=("front:mx.example.test rejects",),
    )
    assert _kinds(after) == [
        DriftKind.MX_SET, DriftKind.HOP_ADDED, DriftKind.HOP_REMOVED, DriftKind.HOP_SOFTWARE,
        DriftKind.INJECTED_HEADERS, DriftKind.SIZE_LIMIT, DriftKind.VERDICTS,
    ]


@pytest.mark.parametrize(("p95", "expected"), [(1.0, []), (8.0, []), (60.0, [DriftKind.HOP_DELAY])])
def test_hop_delay_must_grow_by_factor_and_seconds(p95: float, expected: list[DriftKind]) -> None:
    after = dataclasses.replace(BEFORE, hops=(
        HopSnapshot("mx.example.test", "Postfix", 0.4, p95),
        HopSnapshot("store.example.test", "Dovecot", 0.1, 0.2),
    ))
    assert _kinds(after) == expected


def test_what_one_side_did_not_measure_is_not_compared() -> None:
    capabilities_only = PathSnapshot(target="example.test", mx_hosts=("mx.example.test",),
                                     addresses=(ADDRESS,))
    assert compare(BEFORE, capabilities_only) == ()
    assert compare(capabilities_only, BEFORE) == ()


def test_an_unreached_address_is_not_banner_drift() -> None:
    down = dataclasses.replace(ADDRESS, reached=False, banner=None, capabilities=(),
                               starttls_offered=False)
    assert compare(BEFORE, dataclasses.replace(BEFORE, addresses=(down,))) == ()
