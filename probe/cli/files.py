"""Files at the process edge: every input read with a size cap, every result saved atomically.

An input that is not a regular file is refused at once with one line (a FIFO would block
forever, `/dev/zero` would be read until memory runs out, a directory cannot be read); so is
one larger than its cap. `-` is stdin, read with the same cap. A save goes to a temporary file
in the target's directory and is renamed over it, so a reader (or an interruption) never sees a
half-written run, and any string the run holds is stored: a lone surrogate (a file name with a
byte that is not UTF-8) is written as its JSON escape `\\udcXX`, which loads back as the same
string.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from probe.errors import UsageError

MIB = 1024 * 1024
MESSAGE_CAP = 256 * MIB  # one message (`probe trace`)
RUN_CAP = 1024 * MIB  # a saved run: it holds every delivered copy
PEM_CAP = 16 * MIB  # certificates, keys, CA bundles
SECRET_CAP = 64 * 1024  # a password file

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB else f"{n // 1024} KiB"


def _refuse(label: str, reason: str) -> UsageError:
    return UsageError(f"cannot read {label}: {reason}")


def read_input(path: str | Path, *, cap: int, label: str | None = None) -> bytes:
    """The bytes of a regular file (or of stdin for `-`), at most `cap` of them."""
    name = label or ("stdin" if str(path) == "-" else str(path))
    if str(path) == "-":
        data = sys.stdin.buffer.read(cap + 1)
        if len(data) > cap:
            raise _refuse(name, f"more than {_size(cap)}")
        return data
    fd = _open_regular(path, cap=cap, label=name)
    with os.fdopen(fd, "rb") as file:
        data = file.read(cap + 1)
    if len(data) > cap:  # it grew while we read it
        raise _refuse(name, f"larger than {_size(cap)}")
    return data


def check_input(path: str | Path, *, cap: int, label: str | None = None) -> str:
    """Refuse, as `read_input` would, a file another library will read by name (a certificate
    for ssl); its path back as a string when it is fine."""
    os.close(_open_regular(path, cap=cap, label=label or str(path)))
    return str(path)


def _open_regular(path: str | Path, *, cap: int, label: str) -> int:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _refuse(label, exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        for test, kind in _KINDS:
            if test(info.st_mode):
                raise _refuse(label, f"not a regular file ({kind})")
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(label, "not a regular file")
        if info.st_size > cap:
            raise _refuse(label, f"larger than {_size(cap)}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def encode_text(text: str) -> bytes:
    """UTF-8, with every lone surrogate as its `\\udcXX` escape (inside JSON: the same string)."""
    return text.encode("utf-8", "backslashreplace")


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` at once: a temporary file in the same directory, renamed."""
    data = encode_text(text)
    directory = path.parent
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(OSError):  # keep the mode a plain `open` would give
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
