"""The Mailbox protocol every cooperating mailbox implements, and `open_mailbox` to get one.

The methods are coroutines because reading a mailbox is I/O; implementations offload blocking
work (imaplib, file reads) to a thread so the run's event loop keeps going.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Protocol

from probe.collect.secrets import Secret
from probe.collect.urls import MailboxSpec, parse_mailbox_url
from probe.model.collect import FoundMessage
from probe.model.message import DeliveredCopy

JUNK_NAMES = frozenset({"junk", "spam", "junk e-mail", "junk email", "bulk mail", "junkmail"})


class Stored(Protocol):
    """Anything found in a mailbox that `delete` can remove (a copy or a bounce)."""

    @property
    def raw(self) -> bytes: ...

    @property
    def folder(self) -> str: ...


class Mailbox(Protocol):
    source: str  # the mailbox URL without secrets

    async def find(self, probe_ids: Collection[str]) -> dict[str, list[DeliveredCopy]]:
        """Copies of the given probes in the folder and the junk folders (every id is a key)."""
        ...

    async def find_bounces(self, run_ids: Collection[str]) -> list[FoundMessage]:
        """Bounce-like messages that mention one of the run ids."""
        ...

    async def wait_for_change(self, timeout: float) -> bool:
        """Return when the mailbox may have changed (True) or after `timeout` seconds (False)."""
        ...

    async def delete(self, found: Iterable[Stored]) -> int:
        """Remove messages found earlier (for --cleanup); returns how many were removed."""
        ...

    async def close(self) -> None: ...


def is_junk_name(name: str, delimiter: str | None = None) -> bool:
    """A folder named like a junk folder (Junk, Spam, "Junk E-Mail", INBOX.Junk, [Gmail]/Spam)."""
    last = name
    for sep in {delimiter or "", ".", "/"} - {""}:
        last = last.rsplit(sep, 1)[-1]
    return last.strip().lower() in JUNK_NAMES


async def open_mailbox(
    mailbox: str | MailboxSpec,
    *,
    password: Secret | str | None = None,
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
    from probe.collect.maildir import open_local

    return await open_local(spec)
