"""An mbox file, re-read whenever its mtime or size changes.

The file is split into messages here, streaming, exactly as stdlib `mailbox.mbox` splits it
(a message starts at a line beginning `From `; the blank line before the next one is not
part of it), but without ever holding more than one message: a hostile file (one endless
line, millions of separators, a message of gigabytes) costs time linear in its size and at
most `MESSAGE_MAX` of memory; a larger message is skipped with a note. Only the bytes the file
held when the scan began are read. Deleting (for --cleanup) rewrites the file with stdlib
`mailbox`, which locks it.
"""

from __future__ import annotations

import mailbox
import os
import stat
import sys
from collections.abc import Iterator
from typing import BinaryIO

from probe.collect.base import MESSAGE_MAX
from probe.collect.local import ROOT_FOLDER, Entry, LocalMailbox, digest, stat_signature
from probe.collect.match import may_concern_probe
from probe.collect.urls import MailboxSpec
from probe.errors import MailboxError
from probe.files import Refused, open_regular

LINE_CHUNK = 64 * 1024  # a longer line is read in pieces of this size
_LINESEP = os.linesep.encode()


def messages(file: BinaryIO, size: int) -> Iterator[bytes | None]:
    """The messages in the first `size` bytes of an mbox, as `mailbox.mbox.get_bytes` gives
    them (without the `From ` line); None for one larger than MESSAGE_MAX."""
    parts: list[bytes] | None = None  # the message being read; None before the first From
    length = 0
    last_was_empty = False
    at_line_start = True
    in_from_line = False  # the rest of a long From line, which is not part of the message
    remaining = size
    while remaining > 0 and (chunk := file.readline(min(LINE_CHUNK, remaining))):
        remaining -= len(chunk)
        starts_line, at_line_start = at_line_start, chunk.endswith(b"\n")
        if in_from_line:
            in_from_line = not at_line_start
        elif starts_line and chunk.startswith(b"From "):
            if parts is not None:
                yield _message(parts, length, last_was_empty)
            parts, length, last_was_empty = [], 0, False
            in_from_line = not at_line_start
        else:
            last_was_empty = starts_line and chunk == _LINESEP
            if parts is not None:
                length += len(chunk)
                if length <= MESSAGE_MAX:
                    parts.append(chunk)
                else:
                    parts.clear()
    if parts is not None:
        yield _message(parts, length, last_was_empty)


def _message(parts: list[bytes], length: int, last_was_empty: bool) -> bytes | None:
    if length > MESSAGE_MAX:
        return None
    raw = b"".join(parts)
    if last_was_empty:  # the blank line before the next From separates, it is not content
        raw = raw[: -len(_LINESEP)]
    return raw.replace(_LINESEP, b"\n")


class MboxMailbox(LocalMailbox):
    def __init__(self, spec: MailboxSpec) -> None:
        super().__init__(spec)
        if not self.path.is_file():
            raise MailboxError(f"{spec}: not an mbox file")
        self._seen: tuple[object, ...] | None = None

    def _scan(self) -> None:
        signature = self._signature()
        if signature == self._seen:
            return
        entries: dict[tuple[str, str], Entry] = {}
        self._skipped.clear()  # positions change when the file does
        try:
            with os.fdopen(open_regular(self.path, sys.maxsize), "rb") as file:
                size = os.fstat(file.fileno()).st_size
                for number, raw in enumerate(messages(file, size)):
                    key = str(number)
                    if raw is None:
                        entry = Entry(ROOT_FOLDER, False, key, None)
                        self.skip(self._where(entry), f"larger than {MESSAGE_MAX:,} bytes")
                    elif may_concern_probe(raw):
                        entries[(ROOT_FOLDER, key)] = Entry(ROOT_FOLDER, False, key, raw)
        except Refused as exc:
            raise MailboxError(f"{self.source}: {exc}") from None
        except OSError as exc:
            raise MailboxError(f"{self.source}: cannot read: {exc.strerror}") from None
        self._entries = entries
        self._seen = signature

    def _signature(self) -> tuple[object, ...]:
        return (stat_signature(self.path),)

    def _remove(self, entries: list[Entry]) -> int:
        digests = {digest(e.raw) for e in entries if e.raw is not None}
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                raise MailboxError(f"{self.source}: cannot delete: no longer a regular file")
            box = mailbox.mbox(self.path, factory=None, create=False)
        except OSError as exc:
            raise MailboxError(f"{self.source}: cannot delete: {exc.strerror}") from None
        removed = 0
        try:
            box.lock()
            for key in list(box.iterkeys()):  # keys may have moved: match by content
                if digest(box.get_bytes(key)) in digests:
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
