"""How much one SMTP server gives its clients: size, recipients, sessions, line length, time, disk.

`probe listen` faces a network in a firewall test, so it is bounded as an internet-facing MTA
is (`LISTEN_LIMITS`, each one a CLI option). A lab hop plays a real MTA and keeps aiosmtpd's own
behaviour (`Limits()`: every bound None) unless its scenario sets one. The replies are Postfix's
where Postfix has one, with RFC 3463 enhanced codes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

MESSAGE_TOO_BIG = "552 5.3.4 Message size exceeds fixed limit"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
LINE_TOO_LONG = "500 5.5.2 Line too long"
NO_STORAGE = "452 4.3.1 Insufficient system storage"
TOO_MANY_SESSIONS = "421 4.7.0 {hostname} Error: too many connections"
TOO_MANY_FROM_CLIENT = "421 4.7.0 {hostname} Error: too many connections from {peer}"
IDLE_TIMEOUT = "421 4.4.2 {hostname} Error: timeout exceeded"
SESSION_TIMEOUT = "421 4.4.2 {hostname} Error: session timeout exceeded"


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds of one server; None leaves aiosmtpd's behaviour (no bound, or its own)."""

    max_size: int | None = None  # bytes of a message: SIZE in EHLO, enforced while reading DATA
    max_recipients: int | None = None  # accepted RCPTs per transaction; 452 beyond
    max_sessions: int | None = None  # concurrent connections in all; 421 beyond
    max_sessions_per_client: int | None = None  # concurrent connections from one address
    max_line_length: int | None = None  # bytes of a command line (without CRLF); 500 beyond
    idle_timeout: float | None = None  # seconds without a command (or DATA bytes); then 421
    session_timeout: float | None = None  # seconds one connection may last; then 421
    disk_budget: int | None = None  # bytes the Maildir may be given (messages + dialogues)


NO_LIMITS = Limits()  # a lab hop's, unless its scenario sets some

# The far end of a firewall test: Postfix-like bounds, room for probe's largest variants.
LISTEN_LIMITS = Limits(
    max_size=25 * 1024 * 1024,
    max_recipients=100,
    max_sessions=20,
    max_sessions_per_client=10,
    max_line_length=2048,  # Postfix's line_length_limit
    idle_timeout=120.0,
    session_timeout=600.0,
    disk_budget=1024 * 1024 * 1024,
)

# What aiosmtpd uses where a bound is None.
AIOSMTPD_LINE_LENGTH = 512
AIOSMTPD_IDLE_TIMEOUT = 120.0


def session_refusal(
    limits: Limits, hostname: str, peer: str, open_peers: Iterable[str]
) -> str | None:
    """The 421 for a new connection from `peer` while `open_peers` are connected, or None."""
    peers = list(open_peers)
    if limits.max_sessions is not None and len(peers) >= limits.max_sessions:
        return TOO_MANY_SESSIONS.format(hostname=hostname)
    per_client = limits.max_sessions_per_client
    if per_client is not None and sum(p == peer for p in peers) >= per_client:
        return TOO_MANY_FROM_CLIENT.format(hostname=hostname, peer=peer)
    return None
