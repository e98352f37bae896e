"""The Mailbox protocol every cooperating mailbox implements, and what implementations share.

The methods are coroutines because reading a mailbox is I/O; implementations offload blocking
work (imaplib, file reads) to a thread so the run's event loop keeps going. `open_mailbox` (in
`mailboxes`) picks the implementation; the implementations import only this module, so the
protocol, the factory and the implementations form no circle.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

from probe.model.collect import FoundMessage
from probe.model.message import DeliveredCopy

MESSAGE_MAX = 64 * 1024 * 1024  # the largest message (file, literal) a mailbox reader loads
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

    @property
    def skipped(self) -> tuple[str, ...]:
        """One line per message that was not read, and why (a FIFO, a file over MESSAGE_MAX)."""
        ...


NOTES_MAX = 100  # notes kept; a mailbox full of odd files says so once per file up to this


class Notes:
    """The skipped-message notes a mailbox keeps (`where: why`, each once), at most NOTES_MAX."""

    def __init__(self) -> None:
        self._skipped: dict[str, None] = {}

    @property
    def skipped(self) -> tuple[str, ...]:
        """One line per message that was not read or matched, and why."""
        return tuple(self._skipped)

    def skip(self, where: str, why: str) -> None:
        if len(self._skipped) < NOTES_MAX:
            self._skipped[f"{where}: {why}"] = None


def is_junk_name(name: str, delimiter: str | None = None) -> bool:
    """A folder named like a junk folder (Junk, Spam, "Junk E-Mail", INBOX.Junk, [Gmail]/Spam)."""
    last = name
    for sep in {delimiter or "", ".", "/"} - {""}:
        last = last.rsplit(sep, 1)[-1]
    return last.strip().lower() in JUNK_NAMES
