"""Received parsing and traces, on stamps real MTAs wrote.

Each sample names its source. "research 2.x" is docs/research/received.md, which quotes real
headers from public test suites and mail (hosts there are already public; a few are changed to
documentation names here). RFC samples are from the RFC text.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from probe.analyze.headers import header_fields, header_positions
from probe.analyze.received.path import parse_received, trace
from probe.model.json import from_data, to_data
from probe.model.trace import Hop, HopKind, ParseStatus, Trace

DATA = Path(__file__).parents[1] / "data" / "received"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# (source, header value, expected fields)
CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "Postfix with smtpd_tls_received_header (research 2.1; stalwart received.json, GitHub)",
        "from github.com (hubbernetes-node-c032927.ash1-iad.github.net [10.56.145.42])"
        " by smtp.github.com (Postfix) with ESMTPA id B4E173410F4 for <hello@stalw.art>;"
        " Tue, 29 Aug 2023 09:20:10 -0700 (PDT)",
        dict(
            from_helo="github.com",
            from_rdns="hubbernetes-node-c032927.ash1-iad.github.net",
            from_ip="10.56.145.42",
            by_host="smtp.github.com",
            by_product="Postfix",
            with_protocol="ESMTPA",
            authenticated=True,
            encrypted=False,
            id="B4E173410F4",
            for_addr="hello@stalw.art",
            date=utc(2023, 8, 29, 16, 20, 10),
            kind=HopKind.NETWORK,
            status=ParseStatus.OK,
        ),
    ),
    (
        "Postfix 3.4+ TLS comment, folded with tabs (research 2.1, ProtonMail/Postfix shape)",
        "from mail.example.com (mail.example.com [192.0.2.1])\r\n\t(using TLSv1.3 with cipher"
        " TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n\t key-exchange X25519 server-signature"
        " RSA-PSS (4096 bits) server-digest SHA256)\r\n\t(No client certificate requested)\r\n"
        "\tby mailin034.protonmail.ch (Postfix) with ESMTPS id 4Vz1\r\n\tfor <b@example.org>;"
        " Tue,  7 May 2019 14:01:07 -0700 (PDT)",
        dict(
            from_ip="192.0.2.1",
            by_host="mailin034.protonmail.ch",
            with_protocol="ESMTPS",
            encrypted=True,
            tls_version="TLSv1.3",
            tls_cipher="TLS_AES_256_GCM_SHA384",
            tls_bits=256,
            id="4Vz1",
            date=utc(2019, 5, 7, 21, 1, 7),
        ),
    ),
    (
        "Postfix local pickup, no from clause (research 2.1, sisimai lhost-postfix-49)",
        "by mx.example.jp (Postfix, from userid 1000) id 4F2A; Thu, 29 Apr 2015 23:34:45 +0900",
        dict(by_host="mx.example.jp", kind=HopKind.LOCAL, from_helo=None, id="4F2A"),
    ),
    (
        "Postfix with IPv6 literal (research 2.6 'Tagged IPv6')",
        "from mail.example.net (mail.example.net [IPv6:2001:db8::25]) by mx.example.org"
        " (Postfix) with ESMTPS id 1A2B; Mon,  6 Jul 2020 10:00:00 +0200 (CEST)",
        dict(from_ip="2001:db8::25", date=utc(2020, 7, 6, 8, 0, 0), kind=HopKind.NETWORK),
    ),
    (
        "amavisd-new loop: by localhost with its own TCP-info (research 2.1, rspamd received5)",
        "from mail.example.org ([127.0.0.1]) by localhost (ietfa.amsl.com [127.0.0.1])"
        " (amavisd-new, port 10024) with ESMTP id k8UsBTUjeiTe for <cfrg@ietfa.amsl.com>;"
        " Tue,  7 May 2019 14:01:04 -0700 (PDT)",
        dict(
            from_ip="127.0.0.1",
            by_host="localhost",
            by_ip="127.0.0.1",
            by_product="amavisd-new, port 10024",
            kind=HopKind.FILTER,
        ),
    ),
    (
        "Postfix re-injection after the filter (research 2.1 content-filter loop)",
        "from localhost (localhost [127.0.0.1]) by ietfa.amsl.com (Postfix) with ESMTPA id"
        " 00E7712024B for <cfrg@ietfa.amsl.com>; Tue,  7 May 2019 14:01:07 -0700 (PDT)",
        dict(from_helo="localhost", from_rdns="localhost", kind=HopKind.FILTER),
    ),
    (
        "Exim >= 4.9x with the RFC 8314 tls clause (research 1.1, Exim ChangeLog)",
        "from [192.0.2.7] (helo=client.example) by mx.example.org with esmtpsa (TLS1.2) tls"
        " TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <a@example.com>)"
        " id 10HmaX-000000005vi-0000 for b@example.org; Tue, 05 Sep 2023 11:09:38 +0000",
        dict(
            from_helo="client.example",
            from_ip="192.0.2.7",
            with_protocol="ESMTPSA",
            tls_version="TLS1.2",
            tls_cipher="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            by_product="Exim 4.96",
            envelope_from="a@example.com",
            id="10HmaX-000000005vi-0000",
            for_addr="b@example.org",
        ),
    ),
    (
        "Exim with rDNS, IPv6 with port, helo= (research 2.1 sender_rcvhost forms)",
        "from host.example.net ([2001:db8::7]:38689 helo=pc.example.net) by mx.example.org"
        " with esmtp (Exim 4.92) id 1ZC1sl-0006b4-TU; Fri, 21 Nov 1997 09:55:06 -0600",
        dict(
            from_helo="pc.example.net",
            from_rdns="host.example.net",
            from_ip="2001:db8::7",
            encrypted=False,
            date=utc(1997, 11, 21, 15, 55, 6),
        ),
    ),
    (
        "Exchange Online, bare IPv6 in parentheses, multi-word with (research 2.2)",
        "from CP5P284CA0092.BRAP284.PROD.OUTLOOK.COM (2603:10d6:103:92::11) by"
        " SJ2P223MB0912.NAMP223.PROD.OUTLOOK.COM (2603:10b6:a03:591::13) with Microsoft SMTP"
        " Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id"
        " 15.20.7633.37; Wed, 12 Jun 2024 08:10:24 +0000",
        dict(
            from_ip="2603:10d6:103:92::11",
            by_ip="2603:10b6:a03:591::13",
            with_protocol="Microsoft SMTP Server",
            tls_version="TLS1_2",
            tls_cipher="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            id="15.20.7633.37",
            kind=HopKind.NETWORK,
        ),
    ),
    (
        "Exchange Online mailbox hop with HTTPS and ::1 (research 2.2)",
        "from SJ2P223MB0912.NAMP223.PROD.OUTLOOK.COM (::1) by"
        " LV3P223MB0968.NAMP223.PROD.OUTLOOK.COM with HTTPS; Wed, 12 Jun 2024 08:10:25 +0000",
        dict(from_ip="::1", with_protocol="HTTPS", encrypted=True, kind=HopKind.INTERNAL),
    ),
    (
        "Exchange on-prem via Frontend Transport (research 2.2)",
        "from User (172.31.1.1) by exchange.utek.com (172.31.1.21) with Microsoft SMTP Server"
        " id 15.2.858.5 via Frontend Transport; Wed, 7 Feb 2024 15:02:34 +0800",
        dict(
            from_helo="User",
            from_ip="172.31.1.1",
            by_ip="172.31.1.21",
            via="Frontend Transport",
            encrypted=False,
            id="15.2.858.5",
        ),
    ),
    (
        "Gmail MX: trailing-dot rDNS, TLS comment after for (research 2.3)",
        "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by"
        " mx.google.com with ESMTPS id a1sor.2023.12.19.10.27.47 for <x@gmail.com>"
        " (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);"
        " Tue, 19 Dec 2023 10:27:47 -0800 (PST)",
        dict(
            from_rdns="mail-sor-f41.google.com",
            for_addr="x@gmail.com",
            tls_version="TLS1_3",
            tls_bits=256,
            date=utc(2023, 12, 19, 18, 27, 47),
        ),
    ),
    (
        "Google-to-Google: SMTPS with Google Transport Security (research 2.3)",
        "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by"
        " mx.google.com with SMTPS id a1sor for <x@gmail.com> (Google Transport Security);"
        " Tue, 19 Dec 2023 10:27:47 -0800 (PST)",
        dict(with_protocol="SMTPS", encrypted=True, tls_source="comment"),
    ),
    (
        "Google internal: no from, bare IPv6 as by (research 2.3)",
        "by 2002:a05:612c:2691:b0:324:2126:330e with SMTP id gq17csp1087295vqb;"
        " Tue, 19 Dec 2023 10:27:48 -0800 (PST)",
        dict(by_host="2002:a05:612c:2691:b0:324:2126:330e", kind=HopKind.INTERNAL),
    ),
    (
        "qmail network stamp: HELO comment, IP without brackets, no weekday (research 2.1)",
        "from unknown (HELO smtp.example.net) (user@192.0.2.9) by mx.example.org with SMTP;"
        " 3 Jun 2002 13:34:29 -0000",
        dict(
            from_helo="smtp.example.net",
            from_rdns=None,
            from_ip="192.0.2.9",
            date=utc(2002, 6, 3, 13, 34, 29),
            flag="zone-unknown",
        ),
    ),
    (
        "qmail comment-only stamp (research 2.1)",
        "(qmail 11769 invoked from network); 22 Aug 2016 14:23:01 -0000",
        dict(kind=HopKind.LOCAL, from_helo=None, by_host=None, date=utc(2016, 8, 22, 14, 23, 1)),
    ),
    (
        "Sendmail with TLS comment and for before ; (research 2.1 Sendmail template)",
        "from mail.example.net (mail.example.net [192.0.2.5]) by mx.example.org"
        " (8.15.2/8.15.2/Debian-10) with ESMTP id 29AKBWdZ005349 (version=TLSv1.2"
        " cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 verify=NO) for <x@example.org>;"
        " Mon, 10 Oct 2022 20:11:32 +0200",
        dict(
            by_product="8.15.2/8.15.2/Debian-10",
            encrypted=True,
            tls_version="TLSv1.2",
            tls_bits=256,
            for_addr="x@example.org",
        ),
    ),
    (
        "Sendmail local submission: the from is inside a comment (research 2.1)",
        "(from www-data@localhost) by host.example.org (8.15.2/8.15.2/Submit) id 29AKB;"
        " Mon, 10 Oct 2022 20:11:31 +0200",
        dict(from_helo=None, kind=HopKind.LOCAL, by_host="host.example.org"),
    ),
    (
        "Dovecot LMTP, ; on its own folded line (research 2.1, rspamd bad_message)",
        "from mx.example.org\r\n\tby imap.example.org (Dovecot) with LMTP id YVBbOi5Cm1WCLgEAPZa6/Q"
        "\r\n\t; Tue, 07 Jul 2015 04:13:35 +0200",
        dict(with_protocol="LMTP", kind=HopKind.LMTP, id="YVBbOi5Cm1WCLgEAPZa6/Q"),
    ),
    (
        "zmailer: semicolon inside a comment (research 2.1, vger.kernel.org)",
        'from mail.example.net ([23.128.96.18]:41234 "EHLO mail.example.net"'
        " rhost-flags-OK-OK-OK-OK) by vger.kernel.org with ESMTP id S1750867AbXxxx"
        " (ORCPT <rfc822;linux-kernel@vger.kernel.org>); Mon, 21 Oct 2013 10:00:00 -0700",
        dict(from_ip="23.128.96.18", id="S1750867AbXxxx", date=utc(2013, 10, 21, 17, 0, 0)),
    ),
    (
        "SendGrid: no ;, fractional seconds (research 2.4)",
        "from MzA3MDcwOA (unknown) by geopod-ismtpd-39 (SG) with HTTP id ObU-9DsuRsaINT11igscIg"
        " for <x@example.org>; Tue, 05 Sep 2023 11:09:38.186 +0000 (UTC)",
        dict(date=utc(2023, 9, 5, 11, 9, 38) + dt.timedelta(milliseconds=186)),
    ),
    (
        "SendGrid filterdrecv: Go time format, no ; (research 2.4)",
        "by filterdrecv-c4b67f958-wwg5v with SMTP id filterdrecv-c4b67f958-wwg5v-1-64F70C72-3D"
        " 2023-09-05 11:09:38.199298554 +0000 UTC m=+10150201.647797880",
        dict(
            id="filterdrecv-c4b67f958-wwg5v-1-64F70C72-3D",
            date=utc(2023, 9, 5, 11, 9, 38, 199298),
            flag="no-semicolon",
        ),
    ),
    (
        "PowerMTA: comment after the date (research 2.4)",
        "from 172.30.44.41 (172.30.44.57) by survey1usmta (PowerMTA(TM) v3.5r15) id"
        " h13ska0ko6cn for <x@example.org>; Mon, 3 Feb 2003 14:18:31 -0500"
        " (envelope-from <bounce@example.com>)",
        dict(
            by_product="PowerMTA(TM) v3.5r15",
            envelope_from="bounce@example.com",
            date=utc(2003, 2, 3, 19, 18, 31),
        ),
    ),
    (
        "IBM gateway: free text after with, for <x> from <y> (research 2.4)",
        "from localhost by e06smtp10.uk.ibm.com with IBM ESMTP SMTP Gateway: Authorized Use"
        " Only! Violators will be prosecuted for <a@example.it> from <b@example.com>;"
        " Wed, 8 Mar 2017 16:46:25 -0000",
        dict(for_addr="a@example.it", status=ParseStatus.PARTIAL, unparsed_has="<b@example.com>"),
    ),
    (
        "IronPort: protocol and cipher joined with / (research 2.4)",
        "from vps.example.net ([192.0.2.10]) by apiron13.triara.com with"
        " ESMTP/TLS/ECDHE-RSA-AES128-GCM-SHA256; 10 Oct 2022 15:11:34 -0500",
        dict(with_protocol="ESMTP", tls_cipher="ECDHE-RSA-AES128-GCM-SHA256", encrypted=True),
    ),
    (
        "1991 Sendmail: two-digit year (research 2.1, SpamAssassin mime1)",
        "from mail.example.edu by host.example.edu (5.65/UW-NDC Revision: 2.23 ) id AA1;"
        " Tue, 24 Dec 91 05:52:04 -0800",
        dict(date=utc(1991, 12, 24, 13, 52, 4), flag="two-digit-year"),
    ),
    (
        "t-online: two-digit year 23, ip:port as from (research 2.4)",
        "from 217.160.10.139:13012 by cmpweb26.aul.t-online.de with HTTP/1.1 (Lisa V7-5-5-0.0"
        " on API V5-51-3-2); Thu, 07 Sep 23 14:07:33 +0200",
        dict(from_ip="217.160.10.139", date=utc(2023, 9, 7, 12, 7, 33)),
    ),
    (
        "No seconds, named zone (RFC 5322 4.3 obsolete forms; stalwart date.json)",
        "from a.example by b.example with SMTP; Wed, 27 Jun 99 04:11 EST",
        dict(date=utc(1999, 6, 27, 9, 11, 0), flag="no-seconds"),
    ),
    (
        "Zone only as a comment (research 2.6 'Named zones and zone comments')",
        "from a.example by b.example with SMTP; Wed, 27 Jun 2001 04:11:00 (PST)",
        dict(date=utc(2001, 6, 27, 12, 11, 0), flag="zone-from-comment"),
    ),
    (
        "Keyword-like names: .id and .by TLDs, id ending in -by (research 3.9)",
        "from mail.uiii.ac.id (mail.uiii.ac.id [192.0.2.33]) by mx.example.by with ESMTP id"
        " ABC-by for <x@example.org>; Tue, 05 Sep 2023 11:09:38 +0000",
        dict(
            from_helo="mail.uiii.ac.id",
            by_host="mx.example.by",
            id="ABC-by",
            for_addr="x@example.org",
        ),
    ),
    (
        "Postfix mail_name in by with TLS comment keywords inside (no 'with' leakage)",
        "from a.example (a.example [192.0.2.1]) (using TLSv1.2 with cipher"
        " ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)) by b.example (Postfix) with ESMTPS id X"
        " for <c@example.org>; Tue, 05 Sep 2023 11:09:38 +0000",
        dict(with_protocol="ESMTPS", by_host="b.example", for_addr="c@example.org"),
    ),
    (
        "RFC 5321 4.4 obsolete: no date at all (SpamAssassin amazon_co_uk_ship)",
        "by vdc-dc-batch-101.vdc.amazon.com",
        dict(by_host="vdc-dc-batch-101.vdc.amazon.com", date=None, flag="no-date"),
    ),
    (
        "Junk Received (rspamd received1: 'Received: apparently')",
        "apparently",
        dict(kind=HopKind.UNPARSED, status=ParseStatus.RAW, unparsed_has="apparently"),
    ),
]


@pytest.mark.parametrize(("source", "value", "expected"), CASES, ids=[c[0][:50] for c in CASES])
def test_parse_received(source: str, value: str, expected: dict[str, Any]) -> None:
    hop = parse_received(value)
    assert hop.raw == value
    for key, want in expected.items():
        if key == "flag":
            assert want in hop.flags, (source, hop.flags)
        elif key == "unparsed_has":
            assert want in hop.unparsed, (source, hop.unparsed)
        elif key.startswith("tls_"):
            assert hop.tls is not None, source
            assert getattr(hop.tls, key[4:]) == want, (source, hop.tls)
        else:
            assert getattr(hop, key) == want, (source, key, getattr(hop, key))


def test_unclosed_comment_is_flagged_not_dropped() -> None:
    value = "from a.example (b.example [192.0.2.1] by c.example with SMTP; 1 Jan 2020 00:00 +0000"
    hop = parse_received(value)
    assert hop.raw == value
    assert "unclosed comment" in hop.warnings
    assert hop.status is ParseStatus.PARTIAL


def test_deep_nesting_uses_the_slow_path() -> None:
    hop = parse_received(
        "from a (b (c (d (e [192.0.2.9])))) by x.example; 1 Jan 2020 00:00:00 +0000"
    )
    assert hop.by_host == "x.example"
    assert hop.date == utc(2020, 1, 1)


def test_unparsable_date_is_kept() -> None:
    hop = parse_received("from a by b with SMTP; Tue, 7 Bog 2026 19:14:51 +0000")
    assert hop.date is None
    assert hop.date_raw == "Tue, 7 Bog 2026 19:14:51 +0000"
    assert any("date not understood" in w for w in hop.warnings)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_parse_received_never_raises_and_keeps_raw(value: str) -> None:
    hop = parse_received(value)
    assert hop.raw == value
    to_data(hop)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "from",
                "by",
                "with",
                "id",
                "for",
                "via",
                "(",
                ")",
                ";",
                '"',
                "\\",
                "[",
                "]",
                "<",
                ">",
                "x.example",
                "[192.0.2.1]",
                "Tue, 1 Jan 2020 10:00:00 +0000",
                "(c (d))",
                " ",
            ]
        ),
        max_size=40,
    )
)
def test_parse_received_on_keyword_soup(parts: list[str]) -> None:
    value = " ".join(parts)
    assert parse_received(value).raw == value


# --------------------------------------------------------------------------- traces


def test_trace_orders_hops_origin_first_and_labels_them() -> None:
    result = trace((DATA / "postfix_amavis_lmtp.eml").read_bytes())
    kinds = [hop.kind for hop in result.hops]
    assert kinds == [
        HopKind.INTERNAL,  # Google internal stamp
        HopKind.NETWORK,  # Gmail -> Postfix MX
        HopKind.FILTER,  # amavis
        HopKind.FILTER,  # Postfix re-injection
        HopKind.LMTP,  # Dovecot
    ]
    assert result.network_hops == 1
    assert [link.delay for link in result.links] == [2.0, 2.0, 1.0, 1.0]
    assert result.total_delay == 6.0
    assert result.links[1].by_from_match is True  # by mx.example.org -> from mx.example.org
    assert result.anomalies == ()
    assert result.hops[1].tls is not None and result.hops[1].tls.version == "TLSv1.3"


def test_trace_flags_clock_skew_and_tls_stop() -> None:
    result = trace((DATA / "exchange_skew_tls_stop.eml").read_bytes())
    assert [hop.encrypted for hop in result.hops] == [True, False]
    (link,) = result.links
    assert link.delay == -4.0  # negative: shown, never clamped
    assert link.by_from_match is True
    assert link.tls_change == "stops"
    assert [a.code for a in result.anomalies] == ["clock-skew"]
    assert "tls-stops" in [n.code for n in result.notes]


def test_trace_flags_by_from_mismatch() -> None:
    raw = (
        b"Received: from other.example.net (other.example.net [198.51.100.7]) by mx.example.org"
        b" with ESMTP id 2; Tue, 07 May 2019 21:01:09 +0000\r\n"
        b"Received: from a.example.com (a.example.com [192.0.2.1]) by relay.example.com with"
        b" ESMTP id 1; Tue, 07 May 2019 21:01:08 +0000\r\n\r\nbody\r\n"
    )
    result = trace(raw)
    assert result.links[0].by_from_match is False
    assert [a.code for a in result.anomalies] == ["by-from-mismatch"]


def test_trace_accepts_a_message_object_and_survives_malformed_lines() -> None:
    raw = (DATA / "postfix_amavis_lmtp.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert trace(message).hops == trace(raw).hops
    # a malformed line between two Received headers (research 2.6) ends Python's header parse;
    # probe's own splitter keeps both stamps
    broken = b"Received: from a by b; 1 Jan 2020 00:00:00 +0000\r\nquite Delivered-To: x\r\n"
    broken += b"Received: from c by a; 1 Jan 2020 00:00:00 +0000\r\n\r\n"
    assert len(trace(broken).hops) == 2


def test_trace_of_not_a_message() -> None:
    assert trace(b"").header_count == 0
    assert trace(b"\x00\x01binary junk without a colon").header_count == 0


def test_header_positions_count_received_above() -> None:
    positions = header_positions((DATA / "exchange_skew_tls_stop.eml").read_bytes())
    assert [(p.name, p.received_above) for p in positions] == [
        ("Received", 0),
        ("X-Relay-Tag", 1),  # between Received #1 and #2
        ("Received", 1),
        ("From", 2),
        ("Subject", 2),
    ]
    assert positions[1].value == "added between stamps"
    assert [p.index for p in positions] == [0, 1, 2, 3, 4]


def test_trace_round_trips_through_json() -> None:
    result = trace((DATA / "postfix_amavis_lmtp.eml").read_bytes())
    assert from_data(Trace, to_data(result)) == result


# TCP-info comments as Postfix, Sendmail, Gmail, amavis, Exim and Exchange write them (research
# 2.1-2.3), plus near misses: (comment, (helo, rdns, ip)) of `from helo.example (comment)`.
TCP_INFO_COMMENTS = [
    (
        "hubbernetes-node-c032927.ash1-iad.github.net [10.56.145.42]",
        ("helo.example", "hubbernetes-node-c032927.ash1-iad.github.net", "10.56.145.42"),
    ),
    (
        "mail-sor-f41.google.com. [209.85.220.41]",
        ("helo.example", "mail-sor-f41.google.com", "209.85.220.41"),
    ),
    ("[127.0.0.1]", ("helo.example", None, "127.0.0.1")),
    ("[192.0.2.7] helo=mx.example.com", ("mx.example.com", "helo.example", "192.0.2.7")),
    ("10.167.16.180", ("helo.example", None, "10.167.16.180")),
    ("unknown [198.51.100.9]", ("helo.example", None, "198.51.100.9")),
    ("HELO [192.0.2.1]", ("[192.0.2.1]", "helo.example", None)),
    ("helo [192.0.2.1]", ("[192.0.2.1]", "helo.example", None)),
    ("ident:root@192.0.2.1", ("helo.example", None, "192.0.2.1")),
    ("192.0.2.1.example [192.0.2.300]", ("helo.example", None, None)),
    ("2603:10a6:20b:ad1c::ad1c", ("helo.example", None, "2603:10a6:20b:ad1c::ad1c")),
]


@pytest.mark.parametrize(("comment", "expected"), TCP_INFO_COMMENTS)
def test_tcp_info_comments(comment: str, expected: tuple[str | None, ...]) -> None:
    hop = parse_received(f"from helo.example ({comment}) by b.example; 2 Jan 2024 10:00:00 +0000")
    assert (hop.from_helo, hop.from_rdns, hop.from_ip) == expected


@given(st.text(alphabet="\r\nab:", max_size=16))
def test_header_end_is_the_first_empty_line(text: str) -> None:
    import re

    from probe.analyze.headers import header_end

    raw = text.encode()
    found = re.search(rb"\r?\n\r?\n", raw)
    assert header_end(raw) == (found.start() if found else len(raw))


# --------------------------------------------------------------------------- common shapes


def _sample_values() -> list[str]:
    from tests.unit.received_samples import generate

    messages = generate(200, seed=7)
    return [v for m in messages for n, v in header_fields(m) if n.lower() == "received"]


def test_every_generated_sample_parses_cleanly() -> None:
    for value in _sample_values():
        hop = parse_received(value)
        assert hop.status is ParseStatus.OK and hop.date is not None, value


# The commonest exact shapes (docs/research/received.md, 2.1-2.3): Postfix with and without `for`,
# Exim with `helo=` and envelope-from, Exchange with addresses in both comments.
_SHAPES = [
    "from {h} ({r} [{ip}]) by {b} (Postfix) with {p} id {q} for <{a}>; {d}",
    "from {h} ({r} [{ip}])\r\n\tby {b} (Postfix) with {p} id {q}; {d}",
    "from {h} ({r} [{ip}])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))"
    "\r\n\t(No client certificate requested)\r\n\tby {b} (Postfix) with {p} id {q}; {d}",
    "from {r} ([{ip}] helo={h})\r\n\tby {b} with {p} (Exim 4.96)\r\n\t(envelope-from <{a}>)"
    "\r\n\tid 1r{q}-000{q}-AB\r\n\tfor {a}; {d}",
    "from {h} ({ip}) by {b} ({ip6}) with Microsoft SMTP Server (version=TLS1_2,\r\n"
    " cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7633.37; {d}",
]


# Stamps without `;` (SendGrid writes Go's time format after the id, research 2.4) and the
# variations around it.
_NO_SEMICOLON = [
    "by filterdrecv-c4b67f958-wwg5v with SMTP id filterdrecv-c4b67f958-wwg5v-1-64F70C72-3D"
    " 2023-09-05 14:36:02.123973046 +0000 UTC m=+1390306.271106573",
    "by filterdrecv-1 with SMTP id x-3D 2023-09-05 14:36:02 +0000 UTC",
    "by filterdrecv-1 with SMTP id x-3D 2023-09-05T14:36:02.5Z",
    "by filterdrecv-1 with SMTP id x-3D (UTC) 2023-09-05 14:36:02",  # zone from the comment
    "by filterdrecv-1 with SMTP id x-3D 2023-09-05 14:36:02",  # no zone at all
    "by mx.example.org with SMTP for <a@example.org> (x) 2023-09-05 14:36:02 +0200",
    "by mx.example.org via HTTP 2023-09-05 14:36:02 +0200",
    "by mx.example.org via HTTP 12 2023-09-05 14:36:02 +0200",  # a two-word via
    "by mx.example.org id x 2023-09-05 14:36:02 +0000 for y",  # a keyword after the date
    "by mx.example.org with Microsoft SMTP Server 2023-09-05 14:36:02 +0000",
    "from a.example.net (a.example.net [192.0.2.1]) by mx.example.org 2023-09-05 14:36:02 +0000",
    "by mx.example.org id x 2023-13-45 14:36:02 +0000",  # no such day
]


def test_dates_without_semicolon() -> None:
    hops = [parse_received(value) for value in _NO_SEMICOLON]
    dated = [hop for hop in hops if hop.date is not None]
    assert all("no-semicolon" in hop.flags for hop in dated)
    assert hops[0].date == utc(2023, 9, 5, 14, 36, 2, 123973)  # SendGrid's Go time format
    assert hops[7].date == utc(2023, 9, 5, 12, 36, 2)
    assert "junk-before-date" in hops[7].flags
    assert [hop.date for hop in (hops[2], hops[8], hops[11])] == [None, None, None]
    assert len(dated) == 9


def test_the_common_shapes_parse_cleanly() -> None:
    import random

    rng = random.Random(11)
    hosts = ["localhost", "mx1.example.org", "unknown", "[192.0.2.5]", "tls.example.net"]
    for _ in range(300):
        octets = [rng.choice([127, 10, 192, 203]), *(rng.randint(0, 255) for _ in range(3))]
        fields = {
            "h": rng.choice(hosts + [f"h{rng.randint(1, 99)}.example.com"]),
            "r": rng.choice(hosts + ["mail.example.net."]),
            "b": rng.choice(hosts + [f"mx{rng.randint(1, 9)}.example.org"]),
            "ip": ".".join(map(str, octets)),
            "ip6": f"2603:10a6:10:{rng.getrandbits(16):x}::{rng.getrandbits(8):x}",
            "p": rng.choice(["ESMTP", "ESMTPS", "esmtpsa", "LMTP", "SMTP", "UTF8SMTPS"]),
            "q": f"{rng.getrandbits(40):X}",
            "a": rng.choice(["user@example.org", "x@[192.0.2.1]"]),
            "d": rng.choice(_DATES[:2] + ["Wed, 12 Jun 2024 08:10:24 +0200"]),
        }
        value = rng.choice(_SHAPES).format(**fields)
        hop = parse_received(value)
        assert hop.status is ParseStatus.OK, value
        protocol = "Microsoft SMTP Server" if "Microsoft" in value else fields["p"].upper()
        assert (hop.by_host, hop.with_protocol) == (fields["b"], protocol), value


_HOSTS = ["mx.example.org", "localhost", "[192.0.2.7]", "id", "by", "for", "with", "a(b)c"]
_FROM_COMMENTS = [
    "(mail.example.net [192.0.2.1])",
    "(mail.example.net. [IPv6:2001:db8::25])",
    "([192.0.2.7] helo=pc.example.net)",
    "(2603:10d6:103:92::11)",
    "(HELO smtp.example.net) (user@192.0.2.9)",
    "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))",
    "(No client certificate requested)",
    "(Authenticated sender: a@example.org)",
    "(may be forged)",
    "(localhost [127.0.0.1])",
    "([local])",
    "(envelope-from <a@example.com>)",
    "(tls.example.net [192.0.2.1])",  # hints in a TCP-info comment
    "(envelope-from.example.net [192.0.2.1])",
    "(client [192.0.2.1])",
    "(Google Transport Security)",
]
_BY_COMMENTS = [
    "(Postfix)",
    "(Postfix, from userid 1000)",
    "(8.15.2/8.15.2/Submit)",
    "(10.167.16.180)",
    "(amavisd-new, port 10024)",
    "(ietfa.amsl.com [127.0.0.1])",
    "(version=TLS1_2, cipher=X)",
    "(192.0.2.2)",  # a second address: the product slot takes it
    "(envelope-sender <c@example.com>)",
]
_WITH = ["ESMTPS", "esmtp", "LMTP", "HTTPS", "local", "mapi", "Microsoft SMTP Server", "id", "SMTP"]
_WITH_COMMENTS = [
    "(TLS1.3)",
    "(Exim 4.96)",
    "(envelope-from <a@example.com>)",
    "(Envelope-From <b@example.com>)",
    "(from a)",
    "(authenticated as x)",
]
_DATES = [
    "Tue, 29 Aug 2023 09:20:10 -0700 (PDT)",
    "Tue,  7 May 2019 14:01:07 -0700",
    "3 Jun 2002 13:34:29 -0000",
    "31 Feb 2024 10:00:00 +0000",
    "Mon, 1 Foo 2024 10:00:00 +0100 (CET)",
    "Wed, 12 Jun 2024 08:10:24 +0000(UTC)",
    "Wed, 12 Jun 2024 08:10:24 +1500",
    # no `;` before these: Go's time format (SendGrid), no zone, a keyword after the date
    " 2023-09-05 14:36:02.123973046 +0000 UTC m=+1390306.271106573",
    " 2023-09-05 14:36:02",
    " 2023-09-05 14:36:02 for x",
    " 2023-02-30 14:36:02 +0000",
]


@settings(max_examples=400, deadline=None)
@given(
    helo=st.one_of(st.none(), st.sampled_from(_HOSTS)),
    from_comments=st.lists(st.sampled_from(_FROM_COMMENTS), max_size=5),
    preamble=st.sampled_from(["", "(qmail 4 invoked from network)", "(from www@localhost)"]),
    by=st.one_of(st.none(), st.sampled_from(_HOSTS + ["2002:a05:612c:2691::1"])),
    by_comments=st.lists(st.sampled_from(_BY_COMMENTS), max_size=3),
    with_=st.one_of(st.none(), st.sampled_from(_WITH)),
    with_comments=st.lists(st.sampled_from(_WITH_COMMENTS), max_size=3),
    tls=st.one_of(st.none(), st.sampled_from(["TLS_AES_256_GCM_SHA384", "id"])),
    ident=st.one_of(st.none(), st.sampled_from(["4Vz1", "<x@y>", "for"])),
    via=st.one_of(st.none(), st.sampled_from(["Frontend Transport", "Mapi", "for x"])),
    rcpt=st.one_of(st.none(), st.sampled_from(["<b@example.org>", "b@example.org", "id"])),
    rcpt_comments=st.lists(st.sampled_from(_BY_COMMENTS + _WITH_COMMENTS), max_size=2),
    date=st.sampled_from(_DATES),
    space=st.sampled_from([" ", "\t", "  ", "\r\n\t"]),
)
def test_variants_of_the_common_shapes_parse_without_error(**parts: Any) -> None:
    sp = parts["space"]
    out: list[str] = [parts["preamble"]] if parts["preamble"] else []
    if parts["helo"] is not None:
        out += ["from", parts["helo"], *parts["from_comments"]]
    if parts["by"] is not None:
        out += ["by", parts["by"], *parts["by_comments"]]
    if parts["with_"] is not None:
        out += ["with", parts["with_"], *parts["with_comments"]]
        if parts["tls"] is not None:
            out += ["tls", parts["tls"]]
    if parts["ident"] is not None:
        out += ["id", parts["ident"]]
    if parts["via"] is not None:
        out += ["via", parts["via"]]
    if parts["rcpt"] is not None:
        out += ["for", parts["rcpt"], *parts["rcpt_comments"]]
    date = parts["date"]
    value = sp.join(out) + (date if date.startswith(" ") else ";" + sp + date)
    hop = parse_received(value)
    assert hop.raw == value
    assert not any(w.startswith("internal parse error") for w in hop.warnings), value
    assert from_data(Hop, to_data(hop)) == hop


# --------------------------------------------------------------------------- header split

_SPLIT_PIECES = [
    *(b"\n", b"\r", b"\r\n", b"\n\n", b"\n\r\n", b" ", b"\t", b":", b"a", b"X-A", b"Received-SPF"),
    *(b"Received", b"RECEIVED", b"\xc4", b"\xb0", b"\xe2\x82", b"\xc2\xa0", b"\x1c", b"\xff"),
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_SPLIT_PIECES), max_size=30))
def test_trace_reads_the_received_fields_header_fields_finds(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    fields = header_fields(raw)
    result = trace(raw)
    assert [hop.raw for hop in reversed(result.hops)] == [
        value for name, value in fields if name.lower() == "received"
    ]
    assert result.header_count == len(fields)


def _plain_by_from_match(by: tuple[str | None, ...], frm: tuple[str | None, ...]) -> bool | None:
    """The definition: a shared normalized name, or else a shared first label or domain."""

    def norm(text: str) -> str:
        text = text.strip("[]").rstrip(".").lower()
        return text[5:] if text.startswith("ipv6:") else text

    def keys(name: str) -> set[str]:
        if ":" in name or name.replace(".", "").isdigit():
            return set()
        labels = name.split(".")
        return {"label:" + labels[0]} | (
            {"domain:" + ".".join(labels[-2:])} if labels[2:] else set()
        )

    by_names = {norm(n) for n in by if n} - {""}
    from_names = {norm(n) for n in frm if n} - {""}
    if not by_names or not from_names:
        return None
    if by_names & from_names:
        return True
    return bool(set().union(*map(keys, by_names)) & set().union(*map(keys, from_names)))


_MATCH_NAMES = [
    *(None, "", "[]", ".", "mx1.example.com", "MX1.Example.com.", "mx2.example.com", "mx1"),
    *("mx1.example.net", "192.0.2.1", "192.0.2.1.", "[192.0.2.1]", "10.0.0.1", "1.2", "١٢٣"),
    *("2001:db8::1", "[IPv6:2001:DB8::1]", "IPv6:mx1", "label:mx1", "=mx1", "a.b"),
]


@settings(max_examples=400, deadline=None)
@given(
    by=st.tuples(*[st.sampled_from(_MATCH_NAMES)] * 2),
    frm=st.tuples(*[st.sampled_from(_MATCH_NAMES)] * 3),
    kind=st.sampled_from(list(HopKind)),
)
@example(
    by=("[192.0.2.1]", None), frm=("mx9.example.org", None, "192.0.2.1."), kind=HopKind.NETWORK
)
@example(by=("mx1.example.com", None), frm=(None, None, "192.0.2.1"), kind=HopKind.NETWORK)
def test_by_from_match_follows_its_definition(
    by: tuple[str | None, str | None], frm: tuple[str | None, ...], kind: HopKind
) -> None:
    from probe.analyze.received.path import _by_from_match

    before = Hop(raw="b", kind=HopKind.NETWORK, by_host=by[0], by_ip=by[1])
    after = Hop(raw="a", kind=kind, from_helo=frm[0], from_rdns=frm[1], from_ip=frm[2])
    uncompared = kind in (HopKind.LOCAL, HopKind.FETCH, HopKind.UNPARSED)
    expected = None if uncompared else _plain_by_from_match(by, frm)
    assert _by_from_match(before, after) == expected
