"""Files at the process edge: every input read with a size cap, every result saved atomically.

An input that is not a regular file is refused at once with one line (a FIFO would block
forever, `/dev/zero` would be read until memory runs out, a directory cannot be read); so is
one larger than its cap; `-` is stdin, read with the same cap. The reading is `probe.files`'
(the mailboxes and the password file use it too); this module makes its refusals usage errors.
A save goes to a temporary file in the target's directory and is renamed over it, so a reader
(or an interruption) never sees a half-written run, and any string the run holds is stored: a
lone surrogate (a file name with a byte that is not UTF-8) is written as its JSON escape
`\\udcXX`, which loads back as the same string.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from probe.errors import UsageError
from probe.files import Refused, open_regular, read_regular

MIB = 1024 * 1024
MESSAGE_CAP = 256 * MIB  # one message (`probe trace`)
RUN_CAP = 1024 * MIB  # a saved run: it holds every delivered copy
PEM_CAP = 16 * MIB  # certificates, keys, CA bundles


def _refuse(label: str, reason: str) -> UsageError:
    return UsageError(f"cannot read {label}: {reason}")


def read_input(path: str | Path, *, cap: int, label: str | None = None) -> bytes:
    """The bytes of a regular file (or of stdin for `-`), at most `cap` of them."""
    if str(path) == "-":
        data = sys.stdin.buffer.read(cap + 1)
        if len(data) > cap:
            raise _refuse(label or "stdin", f"more than {cap:,} bytes")
        return data
    try:
        return read_regular(path, cap)
    except Refused as exc:
        raise _refuse(label or str(path), str(exc)) from None
    except OSError as exc:
        raise _refuse(label or str(path), exc.strerror or str(exc)) from None


def check_input(path: str | Path, *, cap: int, label: str | None = None) -> str:
    """Refuse, as `read_input` would, a file another library will read by name (a certificate
    for ssl); its path back as a string when it is fine."""
    try:
        os.close(open_regular(path, cap))
    except Refused as exc:
        raise _refuse(label or str(path), str(exc)) from None
    except OSError as exc:
        raise _refuse(label or str(path), exc.strerror or str(exc)) from None
    return str(path)


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
