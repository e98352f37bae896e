"""`probe connect` for people and machines: each conversation and who answers there (the
product, a box in front), then the verdict (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from probe.decide.who_answers import Answerer
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
    answerers: Mapping[int, Answerer] | None = None,
) -> str:
    """Each conversation (and who answers there, keyed by its index), then the verdict."""
    named = answerers or {}
    blocks = [
        "\n".join([_render(conv, transcript=transcript, style=style), *answerer_lines(named[i])])
        if i in named
        else _render(conv, transcript=transcript, style=style)
        for i, conv in enumerate(conversations)
    ]
    return "\n\n".join([*blocks, f"{status.name}: {verdict}"])


def answerer_lines(who: Answerer) -> list[str]:
    """The product at an address with its evidence, and the box in front with what it answered."""
    lines = [f"product: {who.product} ({who.confidence.value} confidence)"]
    lines += [f"  {e}" for e in who.evidence]
    if who.box is not None:
        lines.append(
            f"a box in front answers itself: {who.box.product} ({who.box.confidence.value} "
            f"confidence)"
        )
        lines += [f"  {r}" for r in who.box.replies]
    return lines


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
    answerers: Sequence[Answerer] = (),
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
        "products": list(answerers),  # who answers at each address that greeted
    }


def unresolved_document(resolution: MxResult, status: Status, verdict: str) -> dict[str, Any]:
    """A name without an address to connect to: the resolution and why."""
    return {
        "status": status.name,
        "verdict": verdict,
        "resolution": resolution,
        "conversations": [],
    }
