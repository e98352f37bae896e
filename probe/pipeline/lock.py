"""One check of one config at a time: an advisory lock on a file in the state directory.

`flock` is released by the kernel when the holder dies, however it dies (SIGKILL included), so a
crashed check never blocks the next one; the holder's pid is written into the file so the
second check can say who holds it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from probe.errors import MeasurementError


class Locked(MeasurementError):
    """Another process holds the lock."""


def lock_path(state_dir: Path, key: str) -> Path:
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return state_dir / "locks" / f"check-{digest}.lock"


@contextmanager
def exclusive(path: Path, what: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise Locked(f"{what} is already being checked (pid {holder} holds {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
