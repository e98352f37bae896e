"""What the send stage observed for each variant; pure data shared with analysis and reports."""

from __future__ import annotations

import dataclasses

from probe.model.message import Manifest
from probe.model.smtp import Conversation, Outcome, Reply, Stage


@dataclasses.dataclass(frozen=True)
class VariantSend:
    """One variant's delivery attempt(s) at hop 1, every attempt kept (MX fallback, retries)."""

    variant: str
    probe_id: str
    description: str
    outcome: Outcome
    stage: Stage
    reason: str = ""
    reply: Reply | None = None  # the reply that decided the outcome
    target: str = ""  # "host [address]:port" of the deciding attempt
    size: int | None = None  # exact bytes sent (None when never built)
    manifest: Manifest | None = None
    attempts: tuple[Conversation, ...] = ()
    elapsed_ms: float = 0.0
    interrupted: bool = False  # the run stopped before this variant finished

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED

    @property
    def measured(self) -> bool:
        """Hop 1 had its say: not skipped, and not cut short by probe's own interruption."""
        return self.outcome not in (Outcome.SKIPPED, Outcome.INTERRUPTED)
