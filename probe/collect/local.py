"""What the local mailboxes (Maildir, mbox) share: scan in a thread, classify, wait on mtimes.

Nothing here busy-loops: `wait_for_change` compares directory (or file) mtimes and sizes with a
sleep that doubles between polls. Messages that contain no run id at all are remembered as
irrelevant and never re-read. A file that cannot be a message (not a regular file, over
`MESSAGE_MAX`, unreadable) is skipped with a one-line note in `skipped`, never an exception.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
from collections.abc import Collection, Iterable
from pathlib import Path

from probe.collect.base import Stored
from probe.collect.match import identify, looks_like_bounce, mentions
from probe.collect.urls import MailboxSpec
from probe.model.collect import FoundMessage
from probe.model.message import DeliveredCopy
from probe.model.status import utcnow

ROOT_FOLDER = "INBOX"
POLL_FIRST = 0.05  # seconds between the first mtime polls; doubles up to POLL_MAX
POLL_MAX = 0.5
SKIPPED_MAX = 100  # notes kept; a mailbox full of odd files says so once per file up to this


@dataclasses.dataclass
class Entry:
    folder: str
    junk: bool
    key: str  # the file name's unique part (Maildir) or the position (mbox); lossless
    raw: bytes | None  # None: contains no run id (irrelevant) or was skipped
    path: str = ""  # Maildir: where the file was found


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def shown(name: str) -> str:
    """A file name for a note: bytes that are not UTF-8 as \\xNN (the name itself stays as is)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


class LocalMailbox:
    """Scan in a thread, classify, wait on a cheap signature; subclasses read the files."""

    def __init__(self, spec: MailboxSpec) -> None:
        self.spec = spec
        self.source = str(spec)
        self.path = Path(spec.path).expanduser()
        self._entries: dict[tuple[str, str], Entry] = {}
        self._skipped: dict[str, str] = {}  # where -> why

    @property
    def skipped(self) -> tuple[str, ...]:
        """One line per file that was not read as a message, and why."""
        return tuple(f"{where}: {why}" for where, why in self._skipped.items())

    def skip(self, where: str, why: str) -> None:
        if where in self._skipped or len(self._skipped) < SKIPPED_MAX:
            self._skipped[where] = why

    # subclasses --------------------------------------------------------------
    def _scan(self) -> None:
        raise NotImplementedError

    def _signature(self) -> tuple[object, ...]:
        raise NotImplementedError

    def _remove(self, entries: list[Entry]) -> int:
        raise NotImplementedError

    # Mailbox -----------------------------------------------------------------
    async def find(self, probe_ids: Collection[str]) -> dict[str, list[DeliveredCopy]]:
        await asyncio.to_thread(self._scan)
        found: dict[str, list[DeliveredCopy]] = {p: [] for p in probe_ids}
        for entry in self._relevant(probe_ids):
            assert entry.raw is not None
            match = identify(entry.raw, probe_ids)
            if match is not None:
                found[match.probe_id].append(
                    DeliveredCopy(
                        probe_id=match.probe_id,
                        raw=entry.raw,
                        folder=entry.folder,
                        junk=entry.junk,
                        matched_by=match.matched_by,
                        source=self.source,
                        found_at=utcnow(),
                    )
                )
        return found

    async def find_bounces(self, run_ids: Collection[str]) -> list[FoundMessage]:
        await asyncio.to_thread(self._scan)
        return [
            FoundMessage(e.raw, e.folder, e.junk, self.source, utcnow())
            for e in self._relevant(run_ids)
            if e.raw is not None and looks_like_bounce(e.raw)
        ]

    async def wait_for_change(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        end = loop.time() + max(0.0, timeout)
        before = await asyncio.to_thread(self._signature)
        pause = POLL_FIRST
        while (left := end - loop.time()) > 0:
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, POLL_MAX)
            if await asyncio.to_thread(self._signature) != before:
                return True
        return False

    async def delete(self, found: Iterable[Stored]) -> int:
        wanted = {(f.folder, digest(f.raw)) for f in found}
        doomed = [
            e
            for e in self._entries.values()
            if e.raw is not None and (e.folder, digest(e.raw)) in wanted
        ]
        removed = await asyncio.to_thread(self._remove, doomed)
        for e in doomed:
            self._entries.pop((e.folder, e.key), None)
        return removed

    async def close(self) -> None:
        self._entries.clear()

    def _relevant(self, needles: Collection[str]) -> list[Entry]:
        return [e for e in self._entries.values() if e.raw is not None and mentions(e.raw, needles)]


def stat_signature(path: Path | str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
