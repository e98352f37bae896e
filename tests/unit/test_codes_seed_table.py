"""Every row of the seed's SMTP reply table (Mimecast's list of reply codes: code, reason text,
description, remedy) is recognised, through the pure API and through `probe codes` (text and
JSON): its vendor entry, temporary or permanent, the product it points to (none for a generic
text), and a fact of its description and remedy. The reason texts are matched tolerantly.

The rows are written here, not read from the seed, so the suite runs without it.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from probe.analyze import codes
from probe.analyze.codes import ReplyClass
from probe.cli import app

T, P = ReplyClass.TEMPORARY, ReplyClass.PERMANENT
MC = ("mimecast",)

# code, reason text as the table gives it, vendor entry, products, class, a fact (cause/remedy)
ROWS = [
    (421, "Sender address blocked", "sender-address-blocked", (), T, "block"),
    (421, "Unable to process connection at this time", "mimecast-connection-load", MC, T,
     "load"),
    (451, "Internal resource temporarily unavailable", "mimecast-greylist", MC, T, "Auto Allow"),
    (451, "Message ended early", "message-ended-early", ("cisco-asa",), T, "MailGuard"),
    (451, "Open relay not allowed", "mimecast-open-relay", MC, T, "Authorized Outbound"),
    (451, "Account outbounds disabled", "mimecast-account-outbounds-disabled", MC, T,
     "Administration Console"),
    (451, "Account inbounds disabled", "mimecast-account-inbounds-disabled", MC, T,
     "Administration Console"),
    (451, "Account service temporarily unavailable", "mimecast-account-connections", MC, T,
     "5 minutes"),
    (451, "Recipient Temporarily Unavailable", "recipient-temporarily-unavailable", (), T,
     "temporary block list"),
    (451, "Unable to process email at this time", "mimecast-unable-to-process-email", MC, T,
     "updates"),
    (451, "Unable to process email at this time", "mimecast-unable-to-process-email", MC, T,
     "catch-all"),
    (452, "Too many recipients", "too-many-recipients", (), T, "100"),
    (501, "Invalid address", "invalid-address", (), P, "valid"),
    (535, "Incorrect authentication data", "incorrect-authentication-data", ("exim", "mimecast"),
     P, "credentials"),
    (550, "Administrative prohibition - envelope blocked",
     "mimecast-administrative-prohibition-envelope-blocked", MC, P, "Block Sender"),
    (550, "Administrative Lockout - Inbound not allowed", "mimecast-inbound-lockout", MC, P,
     "bypass"),
    (550, "Envelope blocked - User Entry", "mimecast-personal-block", MC, P, "Managed Sender"),
    (550, "Envelope blocked - User Domain Entry", "mimecast-personal-block", MC, P,
     "Managed Sender"),
    (550, "Rejected by header based Blocked Senders – Block policy for Header From",
     "mimecast-blocked-senders-policy", MC, P, "Header From"),
    (550, "Envelope Rejected – Block policy for Envelope from address",
     "mimecast-blocked-senders-policy", MC, P, "Envelope From"),
    (550, "Rejected by header based manually Blocked Senders – block for manual block",
     "mimecast-personal-block", MC, P, "Managed Sender"),
    (550, "Client host [192.0.2.1] blocked using zen.spamhaus.org", "rbl-listed", (), P,
     "delist"),
    (550, "Local CT IP Reputation - (reject)", "mimecast-ip-reputation", MC, P, "reputation"),
    (550, "Invalid Recipient", "invalid-recipient", (), P, "LDAP"),
    (550, "Exceeding outbound thread limit", "mimecast-outbound-thread-limit", MC, P,
     "smaller batches"),
    (550, "Submitter failed to authenticate", "mimecast-submitter-not-authenticated", MC, P,
     "port 25"),
    (550, "Message bounced due to Content Examination Policy", "mimecast-content-examination",
     MC, P, "bypass"),
    (553, "This route requires encryption (TLS)", "mimecast-route-requires-tls", MC, P, "TLS"),
    (554, "Email rejected due to security policies (E.g. MCSpamSignature.x",
     "mimecast-security-policies", MC, P, "Permitted Senders"),
    (554, "Mail loop detected", "mail-loop-detected", MC, P, "forwarders"),
    (554, "Maximum email size exceeded", "mimecast-maximum-size", MC, P, "encoding"),
]  # fmt: skip


def _facts(e: codes.Explanation) -> str:
    v = e.vendors[0]
    return " ".join((v.meaning, v.cause, v.remedy))


@pytest.mark.parametrize(("code", "text", "vendor", "products", "klass", "fact"), ROWS)
def test_row_is_recognised(
    code: int, text: str, vendor: str, products: tuple[str, ...], klass: ReplyClass, fact: str
) -> None:
    e = codes.explain(code, text)
    assert e.vendors and e.vendors[0].id == vendor
    assert e.vendors[0].products == products
    assert e.reply_class is klass and e.known
    assert fact.casefold() in _facts(e).casefold()
    assert e.cause == e.vendors[0].cause and e.remedies[0] == e.vendors[0].remedy
    # the vendor's meaning headlines, not the generic meaning of the basic code
    assert e.summary.startswith(f"{code} ({klass}): {e.vendors[0].meaning}")
    assert ("[likely" in e.summary) == bool(products)


def _variants(text: str) -> list[str]:
    digit = "4" if text.startswith("4") else "5"
    return [
        text.upper(),
        text.lower().replace(" - ", " ").replace("–", "-"),
        f"{digit}.7.1 {text}",
        f"{text} - https://community.mimecast.com/docs/DOC-1369#550 [dGhpcyBpcyBh.us42]",
        f"<a@example.com>: {text}, id=4F2A9C",
    ]


@pytest.mark.parametrize(("code", "text", "vendor", "products", "klass", "fact"), ROWS)
def test_row_matches_tolerantly(
    code: int, text: str, vendor: str, products: tuple[str, ...], klass: ReplyClass, fact: str
) -> None:
    for variant in _variants(text):
        e = codes.explain(code, variant)
        assert e.vendors and e.vendors[0].id == vendor, variant


runner = CliRunner()


@pytest.mark.parametrize(("code", "text", "vendor", "products", "klass", "fact"), ROWS)
def test_row_through_the_cli(
    code: int, text: str, vendor: str, products: tuple[str, ...], klass: ReplyClass, fact: str
) -> None:
    result = runner.invoke(app, ["codes", str(code), text])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{code} ({klass}):")
    assert "cause:" in result.stdout and "remedy:" in result.stdout
    result = runner.invoke(app, ["codes", str(code), text, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "probe.codes/1" and doc["reply_class"] == str(klass)
    assert doc["vendors"][0]["id"] == vendor
    assert doc["vendors"][0]["products"] == list(products)
    assert fact.casefold() in " ".join((doc["cause"], *doc["remedies"])).casefold() or (
        fact.casefold() in doc["vendors"][0]["meaning"].casefold()
    )


def test_message_ended_early_points_to_the_cisco_fixup_or_av_leftovers() -> None:
    e = codes.explain(451, "4.3.0 Message ended early")
    assert "[likely Cisco ASA/PIX" in e.summary
    assert "anti-virus" in e.cause and "SMTP fixup" in e.cause


def test_unknown_text_keeps_the_generic_meaning_and_names_no_vendor() -> None:
    for code in (421, 451, 550, 554):
        e = codes.explain(code, "something this probe has never seen")
        basic = codes.tables().basic[code]
        assert e.vendors == () and "[likely" not in e.summary
        assert e.summary == f"{code} ({e.reply_class}): {basic.meaning}"


def test_specific_text_outranks_the_shared_one() -> None:
    e = codes.explain(550, "5.7.1 Administrative prohibition - envelope blocked")
    assert [v.id for v in e.vendors] == [
        "mimecast-administrative-prohibition-envelope-blocked",
        "administrative-prohibition",
    ]
    assert "[likely Mimecast]" in e.summary
    e = codes.explain(554, "Client host [192.0.2.1] blocked using Barracuda Reputation; x")
    assert [v.id for v in e.vendors] == ["barracuda-reputation", "rbl-listed"]


def test_a_text_restricted_to_other_codes_does_not_match() -> None:
    assert codes.explain(250, "Message ended early").vendors == ()
