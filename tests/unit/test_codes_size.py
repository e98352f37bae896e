"""`probe codes` names a size refusal in the wording of each common MTA (issue 14).

The replies as each product writes them (product, version, where the text comes from):
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from probe.analyze.codes import Refusal, explain
from probe.cli import app

SIZE_REPLIES = [
    # Postfix 3.x smtpd (MAIL FROM SIZE=) and cleanup (end of DATA)
    (552, "5.3.4 Message size exceeds fixed limit", "postfix"),
    (552, "5.3.4 Error: message file too big", "postfix"),
    # Exim 4.9x smtp_in.c (message_size_limit)
    (552, "Message size exceeds maximum permitted", "exim"),
    # Sendmail 8.17 collect.c (MaxMessageSize)
    (552, "5.2.3 Message size exceeds fixed maximum message size (10485760)", "sendmail"),
    # Exchange 2016-2019 and Microsoft 365 (connector / recipient limits)
    (552, "5.3.4 Message size exceeds fixed maximum message size", "exchange"),
    (550, "5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient", "exchange"),
    (554, "5.2.3 RESOLVER.RST.SendSizeLimit.Sender; message too large for this sender", None),
    (550, "5.3.4 ROUTING.SizeLimit; message size exceeds fixed maximum size for route", None),
    # Gmail (support.google.com/a/answer/3726730)
    (
        552,
        "5.2.3 Your message exceeded Google's message size limits. Please visit "
        "https://support.google.com/mail/?p=MaxSizeError to view our size guidelines.",
        "google",
    ),
    # Haraka 3.x (issue 14: its text got a recipient/policy cause)
    (550, "Message too big!", "haraka"),
    # Courier-MTA 1.x esmtpd (SIZELIMIT)
    (523, "Message length (12345678) exceeds administrative limit.", None),
    # OpenSMTPD 7.x smtp_session.c (max-message-size)
    (554, "5.3.4 Message too big for system: Transaction failed, message too big", "opensmtpd"),
    # qmail 1.03 qmail-smtpd.c (control/databytes)
    (552, "sorry, that message size exceeds my databytes limit (#5.3.4)", "qmail"),
    # Dovecot 2.3 LMTP / submission
    (552, "5.2.3 Message size exceeds administrative limit", None),
    # a smaller MTA in plain words
    (552, "Message too large", None),
]


@pytest.mark.parametrize(("code", "text", "product"), SIZE_REPLIES)
def test_size_refusals_are_named(code: int, text: str, product: str | None) -> None:
    e = explain(code, text)
    assert e.refusal is Refusal.SIZE, text
    assert "size refusal" in e.summary
    assert "recipient" not in e.cause.lower() or "limit" in e.cause.lower()
    if product is not None:
        assert any(product in v.products for v in e.vendors), (text, e.vendors)


def test_not_every_refusal_is_about_size() -> None:
    for code, text in ((550, "5.1.1 User unknown"), (554, "Permanent scan failure")):
        assert explain(code, text).refusal is None


def test_generic_status_explained_by_the_diagnostic_code() -> None:
    e = explain(None, "smtp; 550 5.7.26 Unauthenticated email from example.org", "5.0.0")
    assert e.enhanced == "5.7.26" and any("5.0.0 is generic" in n for n in e.notes)
    assert explain(None, "smtp; 550 5.7.26 x", "5.1.1").enhanced == "5.1.1"  # specific stays


def test_cli_names_the_size_refusal() -> None:
    result = CliRunner().invoke(app, ["codes", "550", "Message too big!"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("550 (permanent): size refusal:")
    assert "refusal:   size" in result.stdout
    doc = json.loads(
        CliRunner().invoke(app, ["codes", "523", SIZE_REPLIES[10][1], "--json"]).stdout
    )
    assert doc["refusal"] == "size"
