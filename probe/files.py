"""Reading a file someone else controls (a profile, a password file, a message) with bounds.

The one bounded reader of the tree, at the bottom of the layering like `errors`: the CLI edge,
the plan stage's profile files and the collect stage's mailboxes all read through it.

`open()` on a FIFO blocks until a writer comes, `/dev/zero` never ends, and a message file can
be larger than memory; so a file is read only when `stat` says it is a regular file no larger
than the limit, it is opened without blocking, and no more than the limit is ever read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_CHUNK = 1 << 20


class Refused(Exception):
    """The file is not one to read (its kind or size); the message says why, without the path."""


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file at `path` (links followed), if it holds at most `limit`.

    Raises Refused for another kind of file or a larger one, OSError when it cannot be read.
    """
    _check(os.stat(path), limit)
    fd = open_regular(path, limit)
    try:
        chunks: list[bytes] = []
        total = 0
        while total <= limit and (chunk := os.read(fd, min(_CHUNK, limit + 1 - total))):
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise Refused(f"larger than {limit:,} bytes")
    return b"".join(chunks)


def open_regular(path: str | Path, limit: int) -> int:
    """A descriptor of the regular file at `path`, opened without blocking (a FIFO put there
    after a `stat` does not hang the open) and checked again once open."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        _check(os.fstat(fd), limit)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check(st: os.stat_result, limit: int) -> None:
    for test, kind in _KINDS:
        if test(st.st_mode):
            raise Refused(f"not a regular file ({kind})")
    if not stat.S_ISREG(st.st_mode):
        raise Refused("not a regular file")
    if st.st_size > limit:
        raise Refused(f"{st.st_size:,} bytes, larger than {limit:,}")
