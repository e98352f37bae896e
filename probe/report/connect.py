"""`probe connect` for people and machines: each conversation, then the verdict (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from probe.model.mx import MxResult
from probe.model.smtp import Conversation
from probe.model.status import Status
from probe.report.transcript import outcome_line, render_conversation, render_transcript

SCHEMA = "probe.connect/1"


def render_connect(
    conversations: Sequence[Conversation],
    status: Status,
    verdict: str,
    *,
    transcript: bool,
    style: str,
) -> str:
    blocks = [_render(conv, transcript=transcript, style=style) for conv in conversations]
    return "\n\n".join([*blocks, f"{status.name}: {verdict}"])


def _render(conv: Conversation, *, transcript: bool, style: str) -> str:
    if not transcript:
        return render_conversation(conv)
    return "\n".join([render_transcript(conv, style), outcome_line(conv)])


def connect_document(
    target: str,
    port: int,
    helo: str,
    starttls: bool,
    resolution: MxResult | None,
    conversations: Sequence[Conversation],
    status: Status,
    verdict: str,
) -> dict[str, Any]:
    return {
        "status": status.name,
        "verdict": verdict,
        "target": target,
        "port": port,
        "helo": helo,
        "starttls": starttls,
        "resolution": resolution,
        "conversations": list(conversations),
    }


def unresolved_document(resolution: MxResult, status: Status, verdict: str) -> dict[str, Any]:
    """A name without an address to connect to: the resolution and why."""
    return {
        "status": status.name,
        "verdict": verdict,
        "resolution": resolution,
        "conversations": [],
    }
