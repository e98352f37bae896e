"""Fingerprints: data loads and validates, products are named only on specific evidence.

Samples are typed from the sources named beside each one: "notes §N" is the section of
docs/research/fingerprints.md that quotes them, Sxx the source those notes list (the same
references as the `source` of each entry in probe/data/fingerprints_*.toml).
"""

from __future__ import annotations

import datetime as dt

import pytest

from probe.analyze import fingerprint as fp
from probe.analyze.fingerprint.knowledge import parse_signature
from probe.errors import ConfigError
from probe.model.smtp import Conversation, Outcome, RcptResult, Reply
from probe.model.verdict import Confidence

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def matches_for(seen: fp.Observations) -> tuple[fp.ProductMatch, ...]:
    return fp.match_products(fp.shipped_knowledge(), seen)


def same_id_format(a: str, b: str) -> str | None:
    return fp.same_id_format(fp.shipped_knowledge(), a, b)


REQUIRED_PRODUCTS = {
    "checkpoint", "cisco-asa", "fortigate", "fortimail", "sophos", "barracuda", "mimecast",
    "proofpoint", "cisco-ironport", "symantec-smg", "symantec-cloud", "trend-micro", "exchange",
    "exchange-online", "google", "postfix", "postscreen", "exim", "sendmail", "qmail",
    "opensmtpd", "mdaemon", "zimbra", "amavis", "haraka", "qpsmtpd", "chasquid", "courier",
}  # fmt: skip


def conversation(
    banner: str,
    ehlo: tuple[str, ...],
    mail: str,
    rcpt: str,
    data: str,
    final: str,
) -> Conversation:
    """A finished conversation as converse would record it; replies given as wire lines."""

    def reply(line: str) -> Reply:
        return Reply(code=int(line[:3]), lines=(line[4:],))

    greeting = Reply(code=250, lines=("mx.example.com", *ehlo))
    return Conversation(
        host="mx.example.com",
        address="127.0.0.1",
        port=25,
        helo="probe.example.org",
        started_at=T0,
        duration_ms=10.0,
        outcome=Outcome.REJECTED if final.startswith("5") else Outcome.ACCEPTED,
        stage="quit",
        banner=reply(banner),
        ehlo=greeting,
        capabilities=ehlo,
        mail_reply=reply(mail),
        rcpt_results=(RcptResult("b@example.com", reply(rcpt), rcpt.startswith("2")),),
        data_reply=reply(data),
        final_reply=reply(final),
    )


# The seed: notes §0.2 quoting S4 (blog.dotsmart.net, 2010): a Check Point box in front of AsyncOS.
SEED = conversation(
    "220 mail.example.com ESMTP",
    ("8BITMIME", "SIZE 10485760", "STARTTLS"),
    "250 sender <a@example.org> ok",
    "250 recipient <b@example.com> ok",
    "354 go ahead",
    "554 Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}",
)
SEED_HEADERS = [
    ("Received", "from smtp.example.com (HELO smtp.example.com) ([1.2.3.4])\r\n"
     "  by mail.example.com with SMTP; 18 Mar 2010 10:19:34 -0400"),
    ("X-CheckPoint", "{4BA23672-7-3A6A8C0-7B6}"),
]  # fmt: skip

# The same AsyncOS dialogue, accepted, without any Check Point mark (notes §9, S21/S22).
IRONPORT = conversation(
    "220 mail.example.com ESMTP",
    ("8BITMIME", "SIZE 10485760", "STARTTLS"),
    "250 sender <a@example.org> ok",
    "250 recipient <b@example.com> ok",
    "354 go ahead",
    "250 ok:  Message 16044892 accepted",
)

# Postfix defaults (notes §14.1-14.3, from smtpd.c, S40).
POSTFIX = conversation(
    "220 mx.example.com ESMTP Postfix (Debian/GNU)",
    ("PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES",
     "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"),
    "250 2.1.0 Ok",
    "250 2.1.5 Ok",
    "354 End data with <CR><LF>.<CR><LF>",
    "250 2.0.0 Ok: queued as 4XyZ1a2b3cD4",
)  # fmt: skip


def by_product(matches: tuple[fp.ProductMatch, ...]) -> dict[str, fp.ProductMatch]:
    return {m.product: m for m in matches if not m.alternatives}


def candidates(matches: tuple[fp.ProductMatch, ...]) -> set[str]:
    return {p for m in matches for p in (m.product, *m.alternatives)}


# --------------------------------------------------------------------------- data


def test_data_loads_with_every_required_product_and_a_source_everywhere() -> None:
    known = fp.shipped_knowledge()
    assert REQUIRED_PRODUCTS <= set(known.products)
    assert all(p.source.strip() for p in known.products.values())
    assert all(s.source.strip() for s in known.signatures)
    covered = {p for s in known.signatures for p in s.products}
    assert REQUIRED_PRODUCTS <= covered, REQUIRED_PRODUCTS - covered
    assert {s.kind for s in known.signatures} == set(fp.Kind)


def test_shared_signatures_name_several_products_and_specific_ones_one() -> None:
    for sig in fp.shipped_knowledge().signatures:
        assert (sig.specificity is fp.Specificity.SHARED) == (len(sig.products) > 1), sig.id


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"id": "x", "kind": "banner", "products": ["nope"], "specificity": "specific",
          "pattern": "a", "source": "s"}, "unknown product"),
        ({"id": "x", "kind": "banner", "products": ["postfix"], "specificity": "specific",
          "pattern": "(", "source": "s"}, "bad regex"),
        ({"id": "x", "kind": "banner", "products": ["postfix"], "specificity": "specific",
          "pattern": "a"}, "`source`"),
        ({"id": "x", "kind": "banner", "products": ["postfix", "exim"],
          "specificity": "specific", "pattern": "a", "source": "s"}, "shared"),
        ({"id": "x", "kind": "smell", "products": ["postfix"], "specificity": "specific",
          "pattern": "a", "source": "s"}, "unknown kind"),
        ({"id": "x", "kind": "banner", "products": ["postfix"], "specificity": "specific",
          "pattern": "^220 b", "source": "s", "sample": "220 a"}, "own sample"),
    ],
)  # fmt: skip
def test_a_broken_entry_is_refused_naming_file_and_entry(
    item: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_signature(item, "probe/data/fingerprints_x.toml", fp.shipped_knowledge().products)
    assert "probe/data/fingerprints_x.toml: signature x:" in str(info.value)
    assert message in str(info.value)


# --------------------------------------------------------------------------- transcripts


def test_seed_names_checkpoint_only_from_its_specific_evidence() -> None:
    evidence = fp.combine(fp.observe_conversation(SEED), fp.observe_headers(SEED_HEADERS))
    matches = matches_for(evidence)
    checkpoint = by_product(matches)["checkpoint"]
    assert checkpoint.confidence is Confidence.HIGH
    assert checkpoint.role is fp.Role.MIDDLEBOX
    assert {c.signature for c in checkpoint.evidence} == {
        "checkpoint-554-scan-failure",
        "checkpoint-session-id",
        "checkpoint-header",
    }
    assert all(c.specificity is fp.Specificity.SPECIFIC for c in checkpoint.evidence)
    shared = [m for m in matches if m.alternatives]
    assert len(shared) == 1
    assert (shared[0].product, shared[0].alternatives) == ("cisco-ironport", ("checkpoint",))
    assert shared[0].summary == (
        "consistent with Cisco IronPort/ESA (AsyncOS), Check Point (shared evidence)"
    )
    assert checkpoint.also == ("cisco-ironport",)
    assert checkpoint.summary == "Check Point (also consistent with Cisco IronPort/ESA (AsyncOS))"
    assert {c.signature for c in shared[0].evidence} >= {
        "asyncos-sender-ok",
        "asyncos-recipient-ok",
        "asyncos-354-go-ahead",
        "asyncos-ehlo-tls",
    }
    assert shared[0].confidence is not Confidence.HIGH


def test_seed_554_alone_is_checkpoint_with_medium_confidence() -> None:
    only_554 = fp.Observations(replies=(("final", 554, SEED.final_reply.text),))  # type: ignore[union-attr]
    (match,) = matches_for(only_554)
    assert (match.product, match.confidence) == ("checkpoint", Confidence.MEDIUM)


def test_ironport_transcript_without_554_is_never_attributed_to_checkpoint() -> None:
    matches = matches_for(fp.observe_conversation(IRONPORT))
    assert "checkpoint" not in by_product(matches)
    assert all(m.product != "checkpoint" for m in matches)
    assert by_product(matches)["cisco-ironport"].confidence is Confidence.LOW  # indicative only


def test_ironport_with_its_av_header_is_named() -> None:
    headers = fp.observe_headers(
        [("X-IronPort-AV", 'E=Sophos;i="5.82,313,1613462400"; d="scan\'208";a="201421274"')]
    )
    matches = matches_for(fp.combine(fp.observe_conversation(IRONPORT), headers))
    assert by_product(matches)["cisco-ironport"].confidence is Confidence.HIGH
    assert "checkpoint" not in by_product(matches)


def test_plain_postfix_transcript_is_postfix_and_no_middlebox() -> None:
    matches = matches_for(fp.observe_conversation(POSTFIX))
    assert by_product(matches)["postfix"].confidence is Confidence.HIGH
    known = fp.shipped_knowledge().products
    assert not [p for p in candidates(matches) if known[p].role is fp.Role.MIDDLEBOX]


def test_asa_masked_banner_and_starttls() -> None:
    # notes §2: S15 (banner) and S14 (`250 XXXXXXXA` after 8BITMIME / SIZE, ESA behind an ASA)
    conv = conversation(
        "220 ************************************",
        ("8BITMIME", "SIZE 14680064", "XXXXXXXA"),
        "250 sender <a@example.org> ok",
        "250 recipient <b@example.com> ok",
        "354 go ahead",
        "250 ok:  Message 1 accepted",
    )
    asa = by_product(matches_for(fp.observe_conversation(conv)))["cisco-asa"]
    assert asa.confidence is Confidence.HIGH
    assert {c.observed for c in asa.evidence} == {
        "220 ************************************",
        "XXXXXXXA",
    }


@pytest.mark.parametrize(
    "banner", ["220 mail.example.com ESMTP", "220 2 0 0", "220 mx.example.com ESMTP Postfix"]
)
def test_unmasked_banners_are_not_asa(banner: str) -> None:
    evidence = fp.Observations(
        banner=(banner,), ehlo=("PIPELINING", "XCLIENT NAME ADDR", "STARTTLS")
    )
    assert "cisco-asa" not in candidates(matches_for(evidence))


def test_asa_old_pix_banner_keeps_digits() -> None:
    # notes §2, S15: PIX 5.1+ keeps 2, 0 and spaces
    banner = "220 *********0*****************************************************************"
    assert "cisco-asa" in by_product(matches_for(fp.Observations(banner=(banner,))))


@pytest.mark.parametrize(
    ("ehlo", "product"),
    [
        # notes §11, Exchange 2016 receive log (S36)
        (("SIZE 37748736", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES", "STARTTLS",
          "X-ANONYMOUSTLS", "AUTH NTLM", "X-EXPS GSSAPI NTLM", "8BITMIME", "BINARYMIME",
          "CHUNKING", "XRDST"), "exchange"),
        # notes §15 (Exim smtp_in.c order, S41)
        (("SIZE 52428800", "8BITMIME", "PIPELINING", "PIPECONNECT", "CHUNKING", "STARTTLS",
          "PRDR", "SMTPUTF8", "HELP"), "exim"),
        # notes §16, real Sendmail 8.14 session (S42)
        (("ENHANCEDSTATUSCODES", "PIPELINING", "8BITMIME", "SIZE", "DSN", "ETRN", "DELIVERBY",
          "HELP"), "sendmail"),
    ],
)  # fmt: skip
def test_ehlo_lists(ehlo: tuple[str, ...], product: str) -> None:
    assert product in by_product(matches_for(fp.Observations(ehlo=ehlo)))


def test_postfix_order_does_not_fire_on_a_reordered_list() -> None:
    ehlo = ("SIZE 10240000", "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN", "VRFY",
            "ETRN", "STARTTLS")  # fmt: skip
    assert "postfix" not in candidates(matches_for(fp.Observations(ehlo=ehlo)))


@pytest.mark.parametrize(
    ("stage", "code", "text", "product"),
    [
        ("data", 354, "End data with <CR><LF>.<CR><LF>", {"postfix", "sendmail"}),  # S40, S42
        ("data", 354, "Start mail input; end with <CRLF>.<CRLF>", {"exchange", "exchange-online"}),
        ("data", 354, 'Enter message, ending with "." on a line by itself', {"exim"}),  # S41
        (
            "data",
            354,
            'Enter mail, end with "." on a line by itself',
            {"sendmail", "opensmtpd", "proofpoint"},
        ),  # fmt: skip
        ("data", 354, "go ahead, make my day", {"haraka"}),  # S47
        ("final", 250, "2.0.0 OK 1361347877 k8si26817952pax.291 - gsmtp", {"google"}),  # S39
        ("final", 250, "OK id=1rWR9Q-00000006OnN-00lz", {"exim"}),
        (
            "any",
            451,
            "Internal resource temporarily unavailable - "
            "https://community.mimecast.com/docs/DOC-1369#451",
            {"mimecast"},
        ),  # fmt: skip
        ("rcpt", 450, "4.3.2 Service currently unavailable", {"postscreen"}),  # S40
    ],
)
def test_reply_texts(stage: str, code: int, text: str, product: set[str]) -> None:
    matches = matches_for(fp.Observations(replies=((stage, code, text),)))
    assert {p for m in matches for p in (m.product, *m.alternatives)} == product


def test_reply_stage_and_code_must_agree() -> None:
    # "go ahead" as a 250 or at MAIL is not AsyncOS's 354
    evidence = fp.Observations(replies=(("mail", 250, "go ahead"), ("data", 250, "go ahead")))
    assert matches_for(evidence) == ()


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("name", "value", "product"),
    [
        ("X-CheckPoint", "{67C811DE-42-F35B2447-E1635CDE}", "checkpoint"),  # S5
        ("X-IronPort-AV", 'E=McAfee;i="6200,9189,9990"; a="201421274"', "cisco-ironport"),  # S34
        ("X-Mimecast-Spam-Score", "0", "mimecast"),  # S30
        ("X-MC-Unique", "T_nwPjz2OWidMkApyAXhjQ-1", "mimecast"),
        ("X-Proofpoint-Virus-Version", "vendor=baseguard engine=ICAP:2.0.293", "proofpoint"),
        ("X-Barracuda-Spam-Score", "-2.02", "barracuda"),  # S28
        ("X-ASG-Debug-ID", "1753825747-1cf43947df83540001-kl68QG", "barracuda"),
        ("X-Sophos-Email-ID", "eee01cfd0c6c4b648d19911ff0db7b4f", "sophos"),  # S27
        ("X-LASED-SpamProbability", "0.087066", "sophos"),
        ("X-FEAS-Client-IP", "172.31.50.47", "fortimail"),  # S24
        ("X-FE-Policy-ID", "2:2:1:SYSTEM", "fortimail"),
        ("X-TM-AS-Result", "No-10--2.483900-8.000000", "trend-micro"),  # S35
        ("X-Forefront-Antispam-Report", "CIP:165.204.84.17;CTRY:US;SFV:NSPM;", "exchange-online"),
        ("X-Gm-Message-State", "AOJu0YwAbC", "google"),
        ("X-Google-Smtp-Source", "AGHT+IE", "google"),
        ("X-Virus-Scanned", "amavisd-new at zimbra.v3.sk", "amavis"),  # S46
        ("X-MDAV-Result", "clean", "mdaemon"),  # S45
        ("X-Msg-Ref", "server-3.tower-585.messagelabs.com!1640070177!4228!1", "symantec-cloud"),
        (
            "X-Mailer",
            "Zimbra 8.8.15_GA_4581 (ZimbraWebClient - FF120 (Linux)/8.8.15_GA_4581)",
            "zimbra",
        ),  # fmt: skip
        ("x-checkpoint", "{4BA23672-7-3A6A8C0-7B6}", "checkpoint"),  # names are case-insensitive
    ],
)
def test_vendor_headers(name: str, value: str, product: str) -> None:
    matches = by_product(matches_for(fp.observe_headers([(name, value)])))
    assert set(matches) == {product}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Virus-Scanned", "ClamAV using ClamSMTP"),
        ("X-Mailer", "Microsoft Outlook 16.0"),
        ("X-CheckPoint-Like", "yes"),  # the name must match whole
        ("X-Probe-Id", "20240101T000000-abcdef.control"),
    ],
)
def test_unrelated_headers_name_nothing(name: str, value: str) -> None:
    assert matches_for(fp.observe_headers([(name, value)])) == ()


def test_spam_status_alone_is_only_a_shared_candidate() -> None:
    (match,) = matches_for(fp.observe_headers([("X-Spam-Status", "No, score=-2.9")]))
    assert match.alternatives and match.confidence is Confidence.LOW


# --------------------------------------------------------------------------- Received


@pytest.mark.parametrize(
    ("value", "product"),
    [
        # notes §14.5 (S40)
        ("from a.example.org (a.example.org [192.0.2.1])\r\n\t(using TLSv1.3 with cipher "
         "TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n\tby mx.example.com (Postfix) with ESMTPS "
         "id 4WtwG21ZH7zCrV0\r\n\tfor <b@example.com>; Wed, 28 Aug 2024 06:57:30 +0000 (UTC)",
         {"postfix"}),
        # notes §15: Exim, ids before and since 4.97 (S41, S34)
        ("from [192.0.2.7] (helo=x) by mx.example.com with esmtp (Exim 4.92.3 #3 (Red Hat Linux))"
         " id 1iyovl-0003BI-2K; Sun, 02 Feb 2020 10:00:00 +0000", {"exim"}),
        ("from h ([192.0.2.7] helo=h) by mx.example.com with esmtps id 1rWR9Q-00000006OnN-00lz;"
         " Sat, 03 Feb 2024 20:18:28 -0500", {"exim"}),
        # notes §11 (S34, S36)
        ("from A (10.0.0.1) by B (10.0.0.2) with Microsoft SMTP Server (TLS) id 14.3.439.0; "
         "Mon, 29 Oct 2018 11:17:19 +0100", {"exchange", "exchange-online"}),
        # notes §13 (Google internal hop)
        ("by 2002:a17:903:2392:b0:23f:cf96:3071 with SMTP id d9443c01a7336-23fcf963071so1234567;"
         " Tue, 1 Jul 2025 04:47:54 -0700 (PDT)", {"google"}),
        ("by 10.0.0.1 with SMTP id o20-v6so1234567wrb.11; Mon, 1 Jan 2018 00:00:00 -0800",
         {"google"}),
        # notes §17 (S43)
        ("(qmail 1234 invoked from network); 26 Sep 1995 04:46:54 -0000",
         {"qmail", "symantec-cloud"}),
        # notes §17: qmail's own line (zone always -0000) vs AsyncOS's (a real offset, S4)
        ("from relay1.uu.net (HELO uunet.uu.net) (7@192.48.96.5)\r\n  by silverton.berkeley.edu "
         "with SMTP; 26 Sep 1995 04:46:54 -0000", {"qmail"}),
        ("from smtp.example.com (HELO smtp.example.com) ([1.2.3.4]) by mail.example.com with "
         "SMTP; 18 Mar 2010 10:19:34 -0400", {"cisco-ironport"}),
        # notes §16 (S42)
        ("from a.example.org (a.example.org [192.0.2.1]) by mx.example.com (8.15.2/8.15.2) with "
         "ESMTP id 4BL72gAx029415; Tue, 21 Dec 2021 07:02:49 GMT", {"sendmail", "proofpoint"}),
        # notes §9 (S34)
        ("from unknown (HELO email.microchip.com) ([170.129.1.10]) by esa4.microchip.iphmx.com "
         "with ESMTP/TLS/AES256-SHA256; 12 Jul 2023 05:35:36 -0700", {"cisco-ironport"}),
        # notes §19 (S45)
        ("from [51.195.53.194] by mail.cls.vn (MDaemon PRO v16.5.2) with ESMTPA id "
         "md50005369936.msg for <devel@example.org>; Wed, 15 Nov 2023 20:11:21 +0700",
         {"mdaemon"}),
    ],
)  # fmt: skip
def test_received_formats(value: str, product: set[str]) -> None:
    matches = matches_for(fp.observe_headers([("Received", value)]))
    assert candidates(matches) == product


def test_evidence_from_headers_unfolds_and_separates_received() -> None:
    evidence = fp.observe_headers([("Received", "from a\r\n\tby b"), ("Subject", "x\r\n y")])
    assert evidence.received == ("from a by b",)
    assert evidence.headers == (("Subject", "x y"),)


# --------------------------------------------------------------------------- id formats


def test_same_id_format_seed_rule() -> None:
    reply = "554 Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}"
    assert fp.same_id_format(
        fp.shipped_knowledge(), reply, "X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}"
    ) == ("checkpoint-session-id")
    assert same_id_format(reply, "{67C811DE-42-F35B2447-E1635CDE}") == "checkpoint-session-id"


@pytest.mark.parametrize(
    "other",
    [
        "X-MS-Exchange-CrossTenant-Id: {6F9619FF-8B86-D011-B42D-00C04FC964FF}",  # a GUID
        "250 ok:  Message 16044892 accepted",
        "{4c209928-2-3a6a8c0-1ffff}",  # lower case: not the Check Point shape
        "",
    ],
)
def test_same_id_format_negative(other: str) -> None:
    assert same_id_format("{4C209928-2-3A6A8C0-1FFFF}", other) is None
