"""What `probe connect` found: each address's status and reason, and the command's (pure).

Unreached addresses (refused, unreachable, timed out at connect: maybe our own egress) count
only when nothing was reached; a reached address is judged by its outcome and, when STARTTLS is
expected, by its TLS and certificate.
"""

from __future__ import annotations

from probe.model.smtp import Conversation, Outcome, endpoint
from probe.model.status import Status, worst

# Outcomes at the connect stage: nothing was measured at that address (maybe our own egress).
_NOT_REACHED = {Outcome.REFUSED, Outcome.UNREACHABLE, Outcome.TIMEOUT}


def conversation_status(conv: Conversation, *, tls_expected: bool) -> tuple[Status, str]:
    """One address's status and the reason for it."""
    where = endpoint(conv)
    if conv.outcome in _NOT_REACHED and conv.stage == "connect":
        return Status.UNKNOWN, f"{where} not reached: {conv.reason}"
    if conv.outcome is Outcome.TEMP_FAILED:
        return Status.WARNING, f"{where} {conv.reason}"
    if conv.outcome is not Outcome.OK:
        return Status.CRITICAL, f"{where} {conv.outcome.value} at {conv.stage}: {conv.reason}"
    if not tls_expected:
        return Status.OK, f"{where} ok"
    tls = conv.tls
    if not tls.offered:
        return Status.WARNING, f"{where} does not offer STARTTLS"
    if not tls.handshake_ok:
        return Status.WARNING, f"{where} STARTTLS refused: {tls.error}"
    cert = tls.certificate
    problems = []
    if cert is None:
        problems.append("no certificate")
    else:
        if not cert.valid_for_host:
            problems.append(f"certificate not valid for {conv.host}")
        if cert.expired:
            problems.append("certificate expired")
        if not cert.chain_verifies:
            problems.append(f"chain does not verify ({cert.verify_error})")
    if problems:
        return Status.WARNING, f"{where} {'; '.join(problems)}"
    return Status.OK, f"{where} ok ({tls.protocol})"


def connect_verdict(conversations: list[Conversation], *, tls_expected: bool) -> tuple[Status, str]:
    """The command's status: unreached addresses only count when nothing was reached."""
    judged = [conversation_status(c, tls_expected=tls_expected) for c in conversations]
    reached = [(s, r) for s, r in judged if s is not Status.UNKNOWN]
    if not reached:
        reasons = "; ".join(r for _, r in judged) or "no address to connect to"
        return Status.UNKNOWN, f"nothing reached: {reasons}"
    statuses = [s for s, _ in reached]
    if len(reached) < len(judged):
        statuses.append(Status.WARNING)
    status = worst(statuses)
    bad = [r for s, r in judged if s is not Status.OK]
    summary = f"{len(reached)} of {len(judged)} address(es) answered"
    return status, "; ".join([summary, *bad])
