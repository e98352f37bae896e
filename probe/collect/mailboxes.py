"""`open_mailbox`: a cooperating mailbox from a URL (IMAP, Maildir or mbox).

The implementations are imported when needed, so a run against a Maildir never loads imaplib
and ssl; the protocol they implement is `base.Mailbox`.
"""

from __future__ import annotations

from pathlib import Path

from probe.collect.base import Mailbox
from probe.collect.secrets import Secret
from probe.collect.urls import MailboxSpec, parse_mailbox_url


async def open_mailbox(
    mailbox: str | MailboxSpec,
    *,
    password: Secret | None = None,
    ca_file: Path | None = None,
    insecure: bool = False,
    timeout: float = 30.0,
) -> Mailbox:
    """Open (and for IMAP, log in to) a mailbox given as a URL or a parsed spec."""
    spec = parse_mailbox_url(mailbox) if isinstance(mailbox, str) else mailbox
    if spec.is_imap:
        from probe.collect.imap import ImapMailbox

        return await ImapMailbox.connect(
            spec, password=password, ca_file=ca_file, insecure=insecure, timeout=timeout
        )
    if spec.scheme == "maildir":
        from probe.collect.maildir import MaildirMailbox

        return MaildirMailbox(spec)
    from probe.collect.mbox import MboxMailbox

    return MboxMailbox(spec)
