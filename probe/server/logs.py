"""What the server says on stderr about its clients: one line each, nothing raw.

A client chooses its EHLO name, its addresses and its commands, and they reach the log (aiosmtpd
logs unknown commands, asyncio logs transport faults): control bytes would drive the operator's
terminal, a traceback would bury the line. `escaped_logs` keeps every line of those loggers to
one escaped line while the listener runs.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import TextIO

LOGGERS = ("mail.log", "asyncio", "probe.server")  # aiosmtpd's, asyncio's, the engine's
LINE_MAX = 400  # characters of one log line; a client's 2 KB command is cut


def printable(text: str) -> str:
    """`text` with control characters, lone surrogates (bytes that were not UTF-8) and other
    unprintable characters escaped as Python writes them (`\\x00`, `\\x1b`, `\\udcff`)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class OneLine(logging.Formatter):
    """`logger: message`, escaped and cut at LINE_MAX; an exception adds its type and text,
    never its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text += f" ({type(error).__name__}: {error})"
        line = printable(f"{record.name}: {text}")
        return line if len(line) <= LINE_MAX else line[: LINE_MAX - 3] + "..."


@contextlib.contextmanager
def escaped_logs(stream: TextIO | None = None) -> Iterator[None]:
    """Warnings and errors of `LOGGERS` as escaped single lines on `stream` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(OneLine())
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate, logger.level))
        logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, propagate, level in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
            logger.setLevel(level)
