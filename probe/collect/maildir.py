"""A Maildir, with Maildir++ subfolders: the junk-named ones (`.Junk`, `.Spam`) are read too.

The directories are listed here rather than through stdlib `mailbox`, whose `get_bytes` opens
whatever it finds (a FIFO blocks forever, `/dev/zero` never ends) and reads it whole: a file is
read only if it is a regular file of at most `MESSAGE_MAX` bytes, else it is skipped with a
note. Keys and paths are the names as the file system gives them (bytes that are not UTF-8
kept by surrogateescape), so a message is found and removed by exactly its own name.
"""

from __future__ import annotations

import os
from pathlib import Path

from probe.collect.base import MESSAGE_MAX, is_junk_name
from probe.collect.local import ROOT_FOLDER, Entry, LocalMailbox, stat_signature
from probe.collect.match import may_concern_probe
from probe.collect.urls import MailboxSpec
from probe.errors import MailboxError
from probe.files import Refused, read_regular

INFO_SEPARATOR = ":"  # name = unique part + ":2,FLAGS" (what stdlib calls Maildir.colon)
SUBDIRS = ("new", "cur")
_LINESEP = os.linesep.encode()  # stdlib's Maildir.get_bytes turns it into \n (POSIX: no-op)


class MaildirMailbox(LocalMailbox):
    def __init__(self, spec: MailboxSpec) -> None:
        super().__init__(spec)
        if not (self.path / "new").is_dir() or not (self.path / "cur").is_dir():
            raise MailboxError(f"{spec}: not a Maildir (no new/ and cur/ directories)")

    def _folders(self) -> list[tuple[str, bool, Path]]:
        folders = [(ROOT_FOLDER, False, self.path)]
        try:
            names = sorted(
                e.name[1:]
                for e in os.scandir(self.path)
                if len(e.name) > 1 and e.name.startswith(".") and e.is_dir()
            )
        except OSError:
            names = []
        folders += [(name, True, self.path / f".{name}") for name in names if is_junk_name(name)]
        return folders

    def _scan(self) -> None:
        present: set[tuple[str, str]] = set()
        for name, junk, base in self._folders():
            for sub in SUBDIRS:
                for file_name in self._list(name, base / sub):
                    key = file_name.split(INFO_SEPARATOR)[0]
                    present.add((name, key))
                    if (name, key) not in self._entries:
                        self._read(name, junk, key, base / sub, file_name)
        for gone in set(self._entries) - present:
            del self._entries[gone]

    def _list(self, folder: str, directory: Path) -> list[str]:
        """File names in new/ or cur/ as stdlib lists them (no dot files, no directories)."""
        try:
            with os.scandir(directory) as entries:
                return [e.name for e in entries if not e.name.startswith(".") and not e.is_dir()]
        except OSError as exc:
            raise MailboxError(f"{self.source}: cannot list {folder}: {exc.strerror}") from None

    def _read(self, folder: str, junk: bool, key: str, directory: Path, file_name: str) -> None:
        path = str(directory / file_name)
        try:
            raw = read_regular(path, MESSAGE_MAX).replace(_LINESEP, b"\n")
        except FileNotFoundError:  # moved or removed between listing and reading
            return
        except (Refused, OSError) as exc:
            why = str(exc) if isinstance(exc, Refused) else exc.strerror or type(exc).__name__
            entry = Entry(folder, junk, key, None, path)
            self.skip(self._where(entry), why)
            self._entries[(folder, key)] = entry
            return
        kept = raw if may_concern_probe(raw) else None
        self._entries[(folder, key)] = Entry(folder, junk, key, kept, path)

    def _signature(self) -> tuple[object, ...]:
        parts: list[object] = [stat_signature(self.path)]
        for _name, _junk, base in self._folders():
            parts.extend(stat_signature(base / sub) for sub in SUBDIRS)
        return tuple(parts)

    def _remove(self, entries: list[Entry]) -> int:
        removed = 0
        for e in entries:
            for path in (e.path, *self._moved(e)):
                try:
                    os.remove(path)
                except OSError:
                    continue
                removed += 1
                break
        return removed

    def _moved(self, entry: Entry) -> list[str]:
        """Where a message is now if it moved (new/ -> cur/, flags changed) since the scan."""
        base = Path(entry.path).parent.parent
        out = []
        for sub in SUBDIRS:
            try:
                with os.scandir(base / sub) as found:
                    out += [f.path for f in found if f.name.split(INFO_SEPARATOR)[0] == entry.key]
            except OSError:
                continue
        return out
