"""Exceptions that stop a whole command. Everything a server or mailbox does is data, not this.

The tree::

    ProbeError                 every error probe raises on purpose; the CLI prints one line, exits 3
    +-- UsageError             bad arguments (a malformed target, an address that is not one)
    +-- ConfigError            a profile or config file that cannot be used (names file and key)
    +-- MeasurementError       nothing could be measured at all
    |   +-- DnsError           the domain could not be resolved (NXDOMAIN, SERVFAIL, timeout)
    |   +-- MailboxError       the cooperating mailbox refused us (login, missing folder)
    |   +-- HistoryError       the history database cannot be opened or written
    +-- SafetyError            a send that the safety rules forbid (null MX, foreign recipient)

Library errors (dnspython, aiosmtplib, ssl, imaplib, sqlite3) are translated at the I/O edge and
never leak past it; `error_line` is how their message is quoted in ours.
"""

from __future__ import annotations


def error_line(exc: BaseException) -> str:
    """An exception's message on one line, or its type's name when it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__


class ProbeError(Exception):
    """Base of every deliberate error; its message is one line meant for a human."""

    exit_code = 3


class UsageError(ProbeError):
    """Arguments that cannot be used."""


class ConfigError(ProbeError):
    """A profile or configuration file that cannot be used."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        where = ""
        if path:
            where = f"{path}: "
        if key:
            where += f"{key}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.key = key


class MeasurementError(ProbeError):
    """Nothing could be measured."""


class DnsError(MeasurementError):
    """The domain could not be resolved."""


class MailboxError(MeasurementError):
    """The cooperating mailbox could not be read."""


class HistoryError(MeasurementError):
    """The history database could not be used."""


class SafetyError(ProbeError):
    """A send that probe refuses to make."""

    exit_code = 2
