"""Mailbox URL parsing: a table of good and bad URLs; no password ever shows."""

from __future__ import annotations

import pytest

from probe.collect.urls import MailboxSpec, parse_mailbox_url
from probe.errors import UsageError

GOOD = [
    (
        "imaps://user@mail.example.test/INBOX",
        MailboxSpec("imaps", "user", "mail.example.test", 993, "INBOX"),
    ),
    (
        "imaps://user@mail.example.test",
        MailboxSpec("imaps", "user", "mail.example.test", 993, "INBOX"),
    ),
    ("imap://u@h:1143/Probes", MailboxSpec("imap", "u", "h", 1143, "Probes")),
    (
        "IMAPS://alice%40example.test@h/INBOX",
        MailboxSpec("imaps", "alice@example.test", "h", 993, "INBOX"),
    ),
    ("imaps://u@[::1]:9993/Junk%20E-Mail", MailboxSpec("imaps", "u", "::1", 9993, "Junk E-Mail")),
    ("imaps://u@127.0.0.1/INBOX/Sub", MailboxSpec("imaps", "u", "127.0.0.1", 993, "INBOX/Sub")),
    ("maildir:/var/mail/probe", MailboxSpec("maildir", path="/var/mail/probe")),
    ("maildir:///var/mail/probe", MailboxSpec("maildir", path="/var/mail/probe")),
    ("mbox:relative/box", MailboxSpec("mbox", path="relative/box")),
]


@pytest.mark.parametrize(("url", "spec"), GOOD)
def test_good_urls(url: str, spec: MailboxSpec) -> None:
    assert parse_mailbox_url(url) == spec


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (
            MailboxSpec("imaps", "alice@example.test", "h", 993, "INBOX"),
            "imaps://alice%40example.test@h/INBOX",
        ),
        (MailboxSpec("imap", "u", "::1", 1143, "Junk E-Mail"), "imap://u@[::1]:1143/Junk%20E-Mail"),
        (MailboxSpec("mbox", path="/tmp/x"), "mbox:/tmp/x"),
    ],
)
def test_str_is_canonical_and_round_trips(spec: MailboxSpec, text: str) -> None:
    assert str(spec) == text
    assert parse_mailbox_url(str(spec)) == spec


BAD = [
    ("pop3://u@h/INBOX", "unsupported mailbox URL scheme"),
    ("imaps:u@h", "must start with imaps://"),
    ("imaps://h/INBOX", "needs a user"),
    ("imaps://u@/INBOX", "bad host or port"),
    ("imaps://u@h:99999/INBOX", "out of range"),
    ("imaps://u@h:x/INBOX", "bad host or port"),
    ("maildir:", "not a mailbox URL"),
    ("mbox://", "needs a path"),
    ("just-a-path", "not a mailbox URL"),
    ("imaps://u%0a@h/INBOX", "control characters"),
]


@pytest.mark.parametrize(("url", "message"), BAD)
def test_bad_urls_are_one_line_usage_errors(url: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_mailbox_url(url)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "imaps://u:s3cr3t-pw@h/INBOX",
        "imap://u%40d:s3cr3t-pw@h:143/",
        "imaps://u:s3cr/3t-pw@h/INBOX",  # a '/' in the password
        "imaps://u:s3cr@3t-pw@h/INBOX",  # an '@' in the password
        "imaps://u:s3cr?3t-pw@h/INBOX",
        "imaps://u@h/INBOX?password=s3cr3t-pw",
        "imaps://u@h?PASS=s3cr3t-pw",
        "imaps://u@h/INBOX?x=1&pwd=s3cr3t-pw",
    ],
)
def test_password_in_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_mailbox_url(url)
    message = str(info.value)
    assert "s3cr" not in message and "3t-pw" not in message and "\n" not in message
    assert "must not contain a password" in message and "PROBE_IMAP_PASSWORD" in message


def test_any_other_query_is_refused_not_dropped() -> None:
    with pytest.raises(UsageError) as info:
        parse_mailbox_url("imaps://u@h/INBOX?folder=s3cr3t")
    assert "takes no query" in str(info.value) and "s3cr3t" not in str(info.value)
