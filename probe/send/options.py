"""What one conversation is told: the name to greet with, the port, how long each stage may take
and how TLS is judged (the timeouts are `probe.model.smtp.Timeouts`: a profile carries them);
and how the send stage tells a human how it goes (`ProgressFn`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from probe.model.smtp import Timeouts

ProgressFn = Callable[[str], None]  # one line for a human, as the run goes (stderr)


@dataclasses.dataclass(frozen=True)
class ConverseOptions:
    helo: str
    port: int = 25
    timeouts: Timeouts = Timeouts()
    starttls: bool = True
    deadline: float = 900.0  # seconds for the whole conversation
    ca_file: str | None = None  # extra trust anchors (PEM) for the chain check
    system_trust: bool = True  # also trust the system's CA store
    tls_name: str | None = None  # name the certificate must carry (default: the host)
    # without a message: after EHLO ask NOOP, MAIL FROM:<> and RCPT TO:<ask>, then RSET (no
    # DATA, so nothing is sent), for the replies that show who answers (probe connect)
    ask: str | None = None
