"""Received stamps as the world writes them (issue 14): the shapes named by product and version,
each with the fields a reader must get. The stamps are written from each product's own format
(its source or documentation, named per case); hosts and addresses are documentation values."""

from __future__ import annotations

import datetime as dt

import pytest

from probe.analyze.received.lexer import MAX_VALUE
from probe.analyze.received.path import parse_received
from probe.model.trace import Hop, HopKind, ParseStatus

UTC = dt.UTC

# (what wrote it, the stamp, the fields it must give)
CASES = [
    (
        "asctime with its zone after the year (Network Associates' gateway, 2003)",
        "FROM ca-ex-bridge1.nai.com BY scwsout1.nai.com ; Fri Feb 07 10:18:12 2003 -0800",
        {"date": dt.datetime(2003, 2, 7, 18, 18, 12, tzinfo=UTC)},
    ),
    (
        "date(1) style: a named zone before the year",
        "from a.example by b.example; Fri Sep 14 14:36:56 EDT 2018",
        {"date": dt.datetime(2018, 9, 14, 18, 36, 56, tzinfo=UTC)},
    ),
    (
        "notqmail received.c: no (HELO x) when the HELO equals the reverse name",
        "from mail.example.com (192.0.2.7) by mx.example.org with SMTP; 14 Sep 2018 14:36:56 -0000",
        {"from_rdns": "mail.example.com", "from_helo": "mail.example.com", "from_ip": "192.0.2.7"},
    ),
    (
        "notqmail received.c: the ident before the address",
        "from unknown (HELO example.net) (kgbxn@[211.244.147.115]) by mx.example.org with SMTP;"
        " 14 Sep 2018 14:36:56 -0000",
        {"from_rdns": None, "from_helo": "example.net", "from_ip": "211.244.147.115"},
    ),
    (
        "CommuniGate Pro 6.2: an authenticated client with its HELO in the account comment",
        "from [192.0.2.9] (account alice@example.com HELO [10.0.0.2]) by mail.example.com"
        " (CommuniGate Pro SMTP 6.2.0) with ESMTPSA id 1234 for bob@example.org;"
        " Fri, 14 Sep 2018 14:36:56 +0200",
        {"from_helo": "[10.0.0.2]", "from_ip": "192.0.2.9", "authenticated": True},
    ),
    (
        "CommuniGate Pro 5.1: a sender name verified against its address",
        "from host.example.net ([192.0.2.10] verified) by mail.example.com"
        " (CommuniGate Pro SMTP 5.1.12) with ESMTP id 5678; Fri, 14 Sep 2018 14:36:56 +0200",
        {"from_rdns": "host.example.net", "from_ip": "192.0.2.10"},
    ),
    (
        "CommuniGate / Exchange 2003: `unverified` names no host",
        "from client.example.net (unverified [192.0.2.14]) by mx.example.org;"
        " 14 Sep 2018 14:36:56 +0000",
        {"from_rdns": None, "from_helo": "client.example.net", "from_ip": "192.0.2.14"},
    ),
    (
        "MDaemon: `softdnserr` where the reverse lookup failed",
        "from client.example.net (softdnserr [192.0.2.13]) by mx.example.org;"
        " 14 Sep 2018 14:36:56 +0000",
        {"from_rdns": None, "from_ip": "192.0.2.13"},
    ),
    (
        "qmail patches writing HELLO",
        "from x.example.net (HELLO client.example.net) (192.0.2.12) by y.example with SMTP;"
        " 14 Sep 2018 14:36:56 -0000",
        {"from_helo": "client.example.net", "from_rdns": "x.example.net"},
    ),
    (
        "Exim 4.96: `from rdns ([ip])` leaves out helo= when it equals the reverse name",
        "from host.example.net ([192.0.2.11]) by mx.example.org with esmtp (Exim 4.96)"
        " (envelope-from <a@example.net>) id 1qXyZ-000abc-12; Fri, 14 Sep 2018 14:36:56 +0200",
        {
            "from_rdns": "host.example.net",
            "from_helo": "host.example.net",
            "from_ip": "192.0.2.11",
            "envelope_from": "a@example.net",
        },
    ),
    (
        "Sendmail 8.17: `from HELO ([ip])` has no reverse name",
        "from client.example.net ([192.0.2.30]) by mx.example.org"
        " (8.17.1.9/8.17.1.9/Debian-2+deb12u2) with ESMTP id 48EEaux1;"
        " Fri, 14 Sep 2018 14:36:56 +0200",
        {"from_rdns": None, "from_helo": "client.example.net", "from_ip": "192.0.2.30"},
    ),
    (
        "Exim 3.36: the port after the address, [a.b.c.d.port]",
        "from client.example.net ([192.0.2.15.1234] helo=client) by mx.example.org with esmtp"
        " (Exim 3.36 #1); Fri, 14 Sep 2001 14:36:56 +0200",
        {"from_ip": "192.0.2.15", "from_helo": "client", "from_rdns": "client.example.net"},
    ),
    (
        "Symantec NAVGW 2.5: the sender in a comment before `by`",
        "(from KRYPTIK [70.20.57.51]) by host.example.net (NAVGW 2.5.2.12) with SMTP id M2003;"
        " Fri, 14 Sep 2003 14:36:56 -0400",
        {"kind": HopKind.NETWORK, "from_helo": "KRYPTIK", "from_ip": "70.20.57.51"},
    ),
    (
        "Sendmail 8.15 local submission: `(from user@localhost)` stays a local pickup",
        "(from www-data@localhost) by host.example.org (8.15.2/8.15.2/Submit) id 29AKB;"
        " Mon, 10 Oct 2022 20:11:31 +0200",
        {"kind": HopKind.LOCAL, "from_helo": None},
    ),
    (
        "qmail-scanner 1.24: a filter on the host, not a network hop",
        "from 1.2.3.4 by host.example.com (envelope-from <a@example.net>, uid 502) with"
        " qmail-scanner-1.24 (clamdscan: 0.88. spamassassin: 3.0.3. Clear:RC:0(1.2.3.4):."
        "  Processed in 0.5 secs); 14 Sep 2005 14:36:56 -0000",
        {"kind": HopKind.FILTER, "from_helo": None, "envelope_from": "a@example.net"},
    ),
    (
        "GMX webmail: the client's address, no HELO",
        "from 37.5.238.154 by www001.gmx.net with HTTP; Fri, 14 Sep 2018 14:36:56 +0200",
        {"kind": HopKind.INTERNAL, "from_helo": None, "from_ip": "37.5.238.154"},
    ),
    (
        "Yahoo webmail (2011): `via HTTP` instead of `with HTTP`",
        "from [93.48.39.139] by web28416.mail.ukl.yahoo.com via HTTP;"
        " Wed, 09 Mar 2011 11:19:45 GMT",
        {"kind": HopKind.INTERNAL, "with_protocol": "HTTP", "from_ip": "93.48.39.139"},
    ),
    (
        "Courier 1.1: `(authenticated as ...)` after `by`, not its product",
        "from client.example.net ([192.0.2.16]) by mx.example.org (authenticated as alice)"
        " with ESMTP id ABC; Fri, 14 Sep 2018 14:36:56 +0200",
        {"authenticated": True, "by_product": None},
    ),
    (
        "GMX Nemesis: `with ESMTP (Nemesis), id`",
        "from mail.example.net ([192.0.2.17]) by mx.example.org with ESMTP (Nemesis), id"
        " 0MKxQ-1a; Fri, 14 Sep 2018 14:36:56 +0200",
        {"with_protocol": "ESMTP", "id": "0MKxQ-1a", "by_product": "Nemesis"},
    ),
    (
        "id and for after the date (EzMTS 1.55)",
        "from olgisoft.com (127.0.0.1) by mx.example.org (EzMTS MTSSmtp 1.55d5) ;"
        " Thu, 20 Mar 2003 10:06:43 +0100 id 123 for <asrg@example.org>",
        {"id": "123", "for_addr": "asrg@example.org"},
    ),
    (
        "Courier 1.1: TLS in a comment",
        "from client.example.net (client.example.net [192.0.2.21]) (TLS: TLSv1.3,256bits,"
        "TLS_AES_256_GCM_SHA384) by mx.example.org with ESMTPS; Fri, 14 Sep 2018 14:36:56 +0200",
        {"encrypted": True, "tls_version": "TLSv1.3", "tls_cipher": "TLS_AES_256_GCM_SHA384"},
    ),
    (
        'chasquid 1.x (conn.go): (over TLS-1.3-cipher) and (envelope from "x")',
        "from client.example.net (192.0.2.22:51234) by mx.example.org (chasquid)"
        ' (over TLS-1.3-TLS_AES_128_GCM_SHA256) (envelope from "a@example.net");'
        " Fri, 14 Sep 2018 14:36:56 +0200",
        {
            "encrypted": True,
            "tls_version": "TLSv1.3",
            "tls_cipher": "TLS_AES_128_GCM_SHA256",
            "envelope_from": "a@example.net",
            "by_product": "chasquid",
            "from_rdns": None,
            "from_helo": "client.example.net",
            "from_ip": "192.0.2.22",
        },
    ),
    (
        "chasquid without TLS says so",
        "from client.example.net (192.0.2.22:51234) by mx.example.org (chasquid)"
        ' (over plain text!) (envelope from "a@example.net"); Fri, 14 Sep 2018 14:36:56 +0200',
        {"encrypted": False},
    ),
    (
        "qpsmtpd 0.96: with (cipher encrypted) ESMTPS",
        "from client.example.net (HELO client.example.net) (192.0.2.23) by mx.example.org"
        " (qpsmtpd/0.96) with (ECDHE-RSA-AES256-GCM-SHA384 encrypted) ESMTPS;"
        " Fri, 14 Sep 2018 14:36:56 +0200",
        {"encrypted": True, "tls_cipher": "ECDHE-RSA-AES256-GCM-SHA384", "with_protocol": "ESMTPS"},
    ),
    (
        "Exim 4.50 with GnuTLS: (tls_cipher TLS-1.0:cipher:bits)",
        "from root (helo=candygram.example.org) by thunker.example.org with local-esmtps"
        " (tls_cipher TLS-1.0:RSA_AES_256_CBC_SHA:32) (Exim 4.50 #1 (Debian)) id 1A;"
        " Fri, 14 Sep 2018 14:36:56 +0200",
        {"tls_cipher": "RSA_AES_256_CBC_SHA", "encrypted": True},
    ),
    (
        "OpenSMTPD 6.6: (rdns [local]) for a local client",
        "from localhost (example.com [local]) by example.com (OpenSMTPD) with ESMTPA id"
        " 5db34e0d for <email@example.com>; Tue, 7 Apr 2020 01:38:29 -0600 (MDT)",
        {"from_rdns": "example.com", "authenticated": True},
    ),
]


def field(hop: Hop, name: str) -> object:
    if name.startswith("tls_"):
        tls = hop.tls
        return getattr(tls, name[4:]) if tls is not None else None
    return getattr(hop, name)


@pytest.mark.parametrize(("what", "stamp", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_stamps_as_the_world_writes_them(
    what: str, stamp: str, expected: dict[str, object]
) -> None:
    hop = parse_received(stamp)
    got = {name: field(hop, name) for name in expected}
    assert got == expected, what


def test_a_nul_byte_is_read_around_and_said() -> None:
    hop = parse_received(
        "from mail.example.net ([192.0.\x002.20]) by mx.example.org with SMTP;"
        " Fri, 14 Sep 2018 14:36:56 +0200"
    )
    assert hop.from_ip == "192.0.2.20" and "\x00" in hop.raw
    assert hop.status is ParseStatus.PARTIAL and any("NUL" in w for w in hop.warnings)


def test_a_value_over_the_limit_is_truncated_not_unclosed() -> None:
    stamp = (
        "from a.example (a.example [192.0.2.1]) by b.example ("
        + "x" * (MAX_VALUE + 100)
        + "); Fri, 14 Sep 2018 14:36:56 +0200"
    )
    hop = parse_received(stamp)
    assert "truncated" in hop.flags
    assert not any("unclosed" in w for w in hop.warnings), hop.warnings
    assert hop.from_ip == "192.0.2.1" and hop.raw == stamp
