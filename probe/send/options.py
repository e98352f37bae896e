"""What one conversation is told: the name to greet with, the port, how long each stage may take
and how TLS is judged. The timeouts are `probe.model.smtp.Timeouts` (a profile carries them)."""

from __future__ import annotations

import dataclasses

from probe.model.smtp import Timeouts


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
