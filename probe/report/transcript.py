"""Conversations for humans: a step table, a summary, and transcripts in two styles. Pure.

Styles: `arrows` is swaks-like (`<-` server, ` ->` client, `<~`/` ~>` for lines inside TLS,
`===` notes), `exchange` mimics the Exchange SMTP protocol log admins know (`#Fields:` header, then
`date-time,sequence-number,remote-endpoint,event,data` with events `*`, `>`, `<`).
Times are UTC in data and local in tables.
"""

from __future__ import annotations

import datetime as dt

from tabulate import tabulate

from probe.model.smtp import Conversation, Direction, Reply, TlsResult, endpoint

STYLES = ("arrows", "exchange")


def render_transcript(conv: Conversation, style: str = "arrows") -> str:
    if style == "exchange":
        return render_exchange(conv)
    return render_arrows(conv)


# (direction, inside TLS) -> the mark a line starts with
_ARROWS = {
    (Direction.SERVER, False): "<-  ",
    (Direction.CLIENT, False): " -> ",
    (Direction.SERVER, True): "<~  ",
    (Direction.CLIENT, True): " ~> ",
    (Direction.INFO, False): "=== ",
    (Direction.INFO, True): "=== ",
}


def render_arrows(conv: Conversation) -> str:
    return "\n".join(
        _ARROWS[line.direction, line.encrypted] + line.text for line in conv.transcript
    )


def _csv(value: str) -> str:
    if any(ch in value for ch in ',"'):
        return '"' + value.replace('"', '""') + '"'
    return value


def render_exchange(conv: Conversation) -> str:
    remote = endpoint(conv)
    out = ["#Fields: date-time,sequence-number,remote-endpoint,event,data"]
    for number, line in enumerate(conv.transcript):
        stamp = line.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        out.append(f"{stamp},{number},{remote},{line.direction.value},{_csv(line.text)}")
    return "\n".join(out)


# --------------------------------------------------------------------------- table view


def _reply_text(reply: Reply | None, width: int = 70) -> str:
    if reply is None:
        return ""
    text = f"{reply.code} {reply.text}" if reply.code is not None else f"(garbage) {reply.text}"
    if len(reply.lines) > 1:
        text = f"{reply.code} {reply.lines[0]} (+{len(reply.lines) - 1} lines)"
    return text if len(text) <= width else text[: width - 3] + "..."


def render_steps(conv: Conversation) -> str:
    rows = []
    for step in conv.steps:
        local = step.started_at.astimezone().strftime("%H:%M:%S.%f")[:-3]
        rows.append(
            [
                step.name,
                local,
                f"{step.duration_ms:.0f}",
                step.outcome.value,
                _reply_text(step.reply) or step.detail,
            ]
        )
    return tabulate(rows, headers=["step", "started", "ms", "outcome", "reply"])


def tls_lines(tls: TlsResult) -> list[str]:
    if not tls.offered:
        return ["STARTTLS: not offered"]
    if not tls.attempted:
        return ["STARTTLS: offered, not used"]
    if not tls.handshake_ok:
        return [f"STARTTLS: offered, failed: {tls.error}"]
    lines = [f"STARTTLS: offered, handshake ok: {tls.protocol} {tls.cipher}"]
    cert = tls.certificate
    if cert is None:
        return [*lines, "certificate: none sent"]
    lines.append(f"certificate: {cert.subject} (issuer {cert.issuer})")
    if cert.sans:
        lines.append(f"  names: {', '.join(cert.sans)}")
    if cert.not_before and cert.not_after:
        lines.append(f"  valid: {cert.not_before:%Y-%m-%d} .. {cert.not_after:%Y-%m-%d}")
    lines.append(f"  valid for host: {'yes' if cert.valid_for_host else 'NO'}")
    chain = "yes" if cert.chain_verifies else f"NO ({cert.verify_error})"
    lines.append(f"  chain verifies: {chain}")
    lines.append(f"  expired: {'YES' if cert.expired else 'no'}")
    return lines


def render_conversation(conv: Conversation) -> str:
    """The default view: heading, step table, capabilities, TLS facts, outcome line."""
    name = endpoint(conv) if conv.host == conv.address else f"{conv.host} {endpoint(conv)}"
    out = [f"== {name}", render_steps(conv), ""]
    caps = conv.capabilities_after_tls or conv.capabilities
    if conv.used_helo:
        out.append("capabilities: none (EHLO refused, HELO used)")
    elif caps:
        label = "capabilities after TLS" if conv.capabilities_after_tls else "capabilities"
        out.append(f"{label}: {', '.join(caps)}")
    if conv.ehlo is not None:
        out.extend(tls_lines(conv.tls))
    if conv.queue_id:
        out.append(f"queue id: {conv.queue_id}")
    out.append(outcome_line(conv))
    return "\n".join(out)


def outcome_line(conv: Conversation) -> str:
    text = f"outcome: {conv.outcome.value} at {conv.stage} after {conv.duration_ms:.0f} ms"
    return f"{text}: {conv.reason}" if conv.reason else text
