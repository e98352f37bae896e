"""Reply-code knowledge: tables load with sources, the seed table is explained, bad input refused.

Vendor texts are typed from the sources named in probe/data/vendor_replies.toml (Mimecast's SMTP
error code list, Exim's source, the research notes' transcripts).
"""

from __future__ import annotations

import pytest

from probe.analyze import codes
from probe.analyze.codes import ReplyClass
from probe.errors import UsageError

BASIC = [211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501, 502, 503,
         504, 521, 530, 535, 550, 551, 552, 553, 554, 555, 556]  # fmt: skip
DETAILS = ["X.0.0", "X.1.1", "X.1.2", "X.2.2", "X.3.4", "X.4.1", "X.4.7", "X.5.1", "X.6.0",
           "X.7.0", "X.7.1", "X.7.8", "X.7.26"]  # fmt: skip


def test_tables_load_and_every_entry_has_a_source() -> None:
    t = codes.tables()
    assert set(BASIC) <= set(t.basic)
    assert {f"X.{s}.{d}" for s, d in t.details} >= set(DETAILS)
    entries = [*t.basic.values(), *t.subjects.values(), *t.details.values()]
    entries += [e for _, e in t.classes.values()] + [v.entry for v in t.vendors]
    assert all(e.source.strip() and e.meaning.strip() for e in entries)
    assert all(e.cause and e.remedy for e in t.subjects.values())


@pytest.mark.parametrize(
    ("code", "text", "vendor", "products", "reply_class"),
    [
        (554, "Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}",
         "checkpoint-scan-failure", ("checkpoint",), ReplyClass.PERMANENT),
        (451, "Internal resource temporarily unavailable - https://community.mimecast.com/docs/"
         "DOC-1369#451", "mimecast-greylist", ("mimecast",), ReplyClass.TEMPORARY),
        (452, "Too many recipients", "too-many-recipients", (), ReplyClass.TEMPORARY),
        (553, "This route requires encryption (TLS)", "mimecast-route-requires-tls",
         ("mimecast",), ReplyClass.PERMANENT),
        (554, "Mail loop detected", "mail-loop-detected", ("mimecast",), ReplyClass.PERMANENT),
        (550, "Administrative prohibition", "administrative-prohibition", ("exim", "mimecast"),
         ReplyClass.PERMANENT),
        (535, "Incorrect authentication data", "incorrect-authentication-data",
         ("exim", "mimecast"), ReplyClass.PERMANENT),
        (450, "4.2.0 <b@example.com>: Recipient address rejected: Greylisted, see "
         "http://postgrey.schweikert.ch/help/example.com.html", "postfix-greylisted",
         ("postfix",), ReplyClass.TEMPORARY),
        (552, "5.3.4 Message size exceeds fixed limit", "postfix-size-limit", ("postfix",),
         ReplyClass.PERMANENT),
        (550, "5.1.1 RESOLVER.ADR.RecipNotFound; not found", "exchange-recipient-not-found",
         ("exchange", "exchange-online"), ReplyClass.PERMANENT),
        (550, "5.7.26 This mail is unauthenticated, which poses a security risk to the sender "
         "and Gmail users, and has been blocked.", "gmail-unauthenticated", ("google",),
         ReplyClass.PERMANENT),
        (554, "5.7.1 Virus found", "virus-found", (), ReplyClass.PERMANENT),
    ],
)  # fmt: skip
def test_seed_table(
    code: int, text: str, vendor: str, products: tuple[str, ...], reply_class: ReplyClass
) -> None:
    e = codes.explain(code, text)
    assert e.vendors[0].id == vendor
    assert e.vendors[0].products == products
    assert e.reply_class is reply_class
    assert e.known and e.remedies and e.cause
    assert e.summary.startswith(str(code))


def test_checkpoint_reply_names_the_product_and_the_id_format() -> None:
    e = codes.explain(554, "Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}")
    assert e.id_format == "checkpoint-session-id"
    assert [m.product for m in e.products] == ["checkpoint"]
    assert "[likely Check Point]" in e.summary
    assert e.enhanced is None and e.parts == ()


def test_shared_vendor_text_names_both_products() -> None:
    e = codes.explain(550, "Administrative prohibition")
    assert "[likely Exim or Mimecast]" in e.summary


@pytest.mark.parametrize(
    ("code", "text", "enhanced"),
    [
        (550, "5.1.1 <x@example.com>: Recipient address rejected", "5.1.1"),
        (500, "#5.5.1 command not recognized", "5.5.1"),  # AsyncOS (notes §9)
        (552, "sorry, that message size exceeds my databytes limit (#5.3.4)", "5.3.4"),  # qmail
        (250, "5.1.1 looks odd", None),  # the class must agree with the code
        (554, "Permanent scan failure. Email Session ID: {4C209928-2-3A6A8C0-1FFFF}", None),
        (550, "550-5.7.26 pasted with its code", "5.7.26"),
        (421, "4.7.0 10.1.2.3 is not 4.7.0", "4.7.0"),
    ],
)
def test_enhanced_code_is_extracted(code: int, text: str, enhanced: str | None) -> None:
    assert codes.explain(code, text).enhanced == enhanced


def test_enhanced_code_alone_dsn_status() -> None:
    e = codes.explain(None, enhanced="5.1.1")
    assert e.reply_class is ReplyClass.PERMANENT
    assert [(p.part, p.code) for p in e.parts] == [
        ("class", "5"),
        ("subject", "X.1"),
        ("detail", "X.1.1"),
    ]
    assert e.parts[2].meaning == "Bad destination mailbox address"
    assert e.summary == "5.1.1 (permanent): Bad destination mailbox address"
    assert codes.explain(None, enhanced="4.2.2").reply_class is ReplyClass.TEMPORARY


def test_multiline_reply_is_joined_without_repeated_codes() -> None:
    e = codes.explain(550, "550-5.7.26 This mail is unauthenticated,\n550 5.7.26 and blocked.")
    assert e.text == "5.7.26 This mail is unauthenticated, and blocked."
    assert e.enhanced == "5.7.26"


def test_disagreeing_classes_are_noted() -> None:
    assert codes.explain(550, enhanced="4.2.2").notes


def test_unregistered_but_well_formed() -> None:
    e = codes.explain(299)
    assert not e.known and e.reply_class is ReplyClass.SUCCESS and e.notes
    assert not codes.explain(None, enhanced="5.9.1").known


@pytest.mark.parametrize("value", ["99x", "600", "199", "5.7", "5.7.1.2", "6.1.1", "", "5.x.1"])
def test_malformed_queries_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError):
        codes.parse_query(value)


def test_explain_refuses_nonsense() -> None:
    with pytest.raises(UsageError):
        codes.explain(700)
    with pytest.raises(UsageError):
        codes.explain(None, "no code here")
    with pytest.raises(UsageError):
        codes.explain(550, enhanced="5.1")


def test_pasted_text_is_one_printable_line() -> None:
    e = codes.explain(550, "550-5.7.1 first\r\n550 5.7.1 bad\x01byte\tend")
    assert e.text == "5.7.1 first bad\\x01byte end"
