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

from probe.collect.base import Notes, Stored
from probe.collect.match import bounce_like, identified, mentions
from probe.collect.urls import MailboxSpec
from probe.model.collect import FoundMessage
from probe.model.message import DeliveredCopy
from probe.model.status import utcnow

ROOT_FOLDER = "INBOX"
POLL_FIRST = 0.05  # seconds between the first mtime polls; doubles up to POLL_MAX
POLL_MAX = 0.5


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


class LocalMailbox(Notes):
    """Scan in a thread, classify, wait on a cheap signature; subclasses read the files."""

    def __init__(self, spec: MailboxSpec) -> None:
        super().__init__()
        self.spec = spec
        self.source = str(spec)
        self.path = Path(spec.path).expanduser()
        self._entries: dict[tuple[str, str], Entry] = {}

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
            match, why = identified(entry.raw, probe_ids)
            if why:
                self.skip(self._where(entry), why)
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
        out = []
        for e in self._relevant(run_ids):
            assert e.raw is not None
            bounce, why = bounce_like(e.raw)
            if why:
                self.skip(self._where(e), why)
            if bounce:
                out.append(FoundMessage(e.raw, e.folder, e.junk, self.source, utcnow()))
        return out

    def _where(self, entry: Entry) -> str:
        """A message, for a note: its file (Maildir) or its position (mbox)."""
        if entry.path:
            return f"{entry.folder}/{Path(entry.path).parent.name}/{shown(Path(entry.path).name)}"
        return f"message {int(entry.key) + 1}"

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
