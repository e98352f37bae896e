"""Local mailboxes: Maildir (with Maildir++ junk subfolders) and mbox, read with stdlib `mailbox`.

Nothing here busy-loops: `wait_for_change` compares directory (or file) mtimes and sizes with a
sleep that doubles between polls. Messages that contain no run id at all are remembered as
irrelevant and never re-read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import mailbox
import os
from collections.abc import Collection, Iterable
from pathlib import Path

from probe.collect.base import Mailbox, Stored, is_junk_name
from probe.collect.match import identify, looks_like_bounce, may_concern_probe, mentions
from probe.collect.urls import MailboxSpec
from probe.errors import MailboxError
from probe.model.collect import FoundMessage
from probe.model.message import DeliveredCopy
from probe.model.status import utcnow

ROOT_FOLDER = "INBOX"
POLL_FIRST = 0.05  # seconds between the first mtime polls; doubles up to POLL_MAX
POLL_MAX = 0.5


@dataclasses.dataclass
class _Entry:
    folder: str
    junk: bool
    key: str
    raw: bytes | None  # None: contains no run id, irrelevant


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class _LocalMailbox:
    """What Maildir and mbox share: scan in a thread, classify, wait on a cheap signature."""

    def __init__(self, spec: MailboxSpec) -> None:
        self.spec = spec
        self.source = str(spec)
        self._entries: dict[tuple[str, str], _Entry] = {}

    # subclasses --------------------------------------------------------------
    def _scan(self) -> None:
        raise NotImplementedError

    def _signature(self) -> tuple[object, ...]:
        raise NotImplementedError

    def _remove(self, entries: list[_Entry]) -> int:
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
        wanted = {(f.folder, _digest(f.raw)) for f in found}
        doomed = [
            e
            for e in self._entries.values()
            if e.raw is not None and (e.folder, _digest(e.raw)) in wanted
        ]
        removed = await asyncio.to_thread(self._remove, doomed)
        for e in doomed:
            self._entries.pop((e.folder, e.key), None)
        return removed

    async def close(self) -> None:
        self._entries.clear()

    def _relevant(self, needles: Collection[str]) -> list[_Entry]:
        return [e for e in self._entries.values() if e.raw is not None and mentions(e.raw, needles)]


class MaildirMailbox(_LocalMailbox):
    """A Maildir; with Maildir++ subfolders, the junk-named ones (`.Junk`, `.Spam`) are read too."""

    def __init__(self, spec: MailboxSpec) -> None:
        super().__init__(spec)
        self.path = Path(spec.path).expanduser()
        if not (self.path / "new").is_dir() or not (self.path / "cur").is_dir():
            raise MailboxError(f"{spec}: not a Maildir (no new/ and cur/ directories)")
        self._root = mailbox.Maildir(self.path, factory=None, create=False)

    def _folders(self) -> list[tuple[str, bool, mailbox.Maildir]]:
        folders = [(ROOT_FOLDER, False, self._root)]
        try:
            names = self._root.list_folders()
        except OSError:
            names = []
        for name in sorted(names):
            if is_junk_name(name):
                folders.append((name, True, self._root.get_folder(name)))
        return folders

    def _scan(self) -> None:
        present: set[tuple[str, str]] = set()
        for name, junk, folder in self._folders():
            try:
                keys = list(folder.iterkeys())
            except OSError as exc:
                raise MailboxError(f"{self.source}: cannot list {name}: {exc.strerror}") from None
            for key in keys:
                present.add((name, key))
                if (name, key) in self._entries:
                    continue
                try:
                    raw = folder.get_bytes(key)
                except (KeyError, OSError):  # moved or removed between listing and reading
                    continue
                self._entries[(name, key)] = _Entry(
                    name, junk, key, raw if may_concern_probe(raw) else None
                )
        for gone in set(self._entries) - present:
            del self._entries[gone]

    def _signature(self) -> tuple[object, ...]:
        parts: list[object] = [_stat(self.path)]
        for _name, _junk, folder in self._folders():
            base = Path(folder._path)  # noqa: SLF001 - stdlib keeps the path only there
            parts.extend(_stat(base / sub) for sub in ("new", "cur"))
        return tuple(parts)

    def _remove(self, entries: list[_Entry]) -> int:
        folders = {name: folder for name, _junk, folder in self._folders()}
        removed = 0
        for e in entries:
            try:
                folders[e.folder].remove(e.key)
                removed += 1
            except (KeyError, OSError):
                continue
        return removed


class MboxMailbox(_LocalMailbox):
    """An mbox file, re-read whenever its mtime or size changes."""

    def __init__(self, spec: MailboxSpec) -> None:
        super().__init__(spec)
        self.path = Path(spec.path).expanduser()
        if not self.path.is_file():
            raise MailboxError(f"{spec}: not an mbox file")
        self._seen: tuple[object, ...] | None = None

    def _open(self) -> mailbox.mbox:
        return mailbox.mbox(self.path, factory=None, create=False)

    def _scan(self) -> None:
        signature = self._signature()
        if signature == self._seen:
            return
        box = self._open()
        try:
            entries = {}
            for key in box.iterkeys():
                raw = box.get_bytes(key)
                entries[(ROOT_FOLDER, str(key))] = _Entry(
                    ROOT_FOLDER, False, str(key), raw if may_concern_probe(raw) else None
                )
        except OSError as exc:
            raise MailboxError(f"{self.source}: cannot read: {exc.strerror}") from None
        finally:
            box.close()
        self._entries = entries
        self._seen = signature

    def _signature(self) -> tuple[object, ...]:
        return (_stat(self.path),)

    def _remove(self, entries: list[_Entry]) -> int:
        digests = {_digest(e.raw) for e in entries if e.raw is not None}
        box = self._open()
        removed = 0
        try:
            box.lock()
            for key in list(box.iterkeys()):  # keys may have moved: match by content
                if _digest(box.get_bytes(key)) in digests:
                    box.remove(key)
                    removed += 1
            box.flush()
        except (OSError, mailbox.ExternalClashError) as exc:
            raise MailboxError(f"{self.source}: cannot delete: {exc}") from None
        finally:
            box.unlock()
            box.close()
        self._seen = None
        return removed


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


async def open_local(spec: MailboxSpec) -> Mailbox:
    if spec.scheme == "maildir":
        return MaildirMailbox(spec)
    if spec.scheme == "mbox":
        return MboxMailbox(spec)
    raise MailboxError(f"{spec}: not a local mailbox")
