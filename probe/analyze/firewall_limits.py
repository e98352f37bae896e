"""The limits checks of `probe firewall`, pure: what the box did with the listener's `452 too
many recipients` (or which limit of its own it applied first), and how many sessions it let
through at once.

The seed reply table notes that Cisco PIX/ASA SMTP fixup and ESMTP inspection do not respect
the 452: a box that drops the connection or rewrites the reply shows here.
"""

from __future__ import annotations

from collections.abc import Sequence

from probe.model.firewall import ClientSession, Effect, FirewallCheck, about_size
from probe.model.listener import SessionRecord, Side
from probe.model.smtp import Reply


def _wire(reply: Reply | None) -> str:
    return f"{reply.code} {' '.join(reply.lines[:1])}".strip() if reply else "(no answer)"


def _listener_refusal(record: SessionRecord | None) -> tuple[int, str] | None:
    """The listener's first refusal of a RCPT: (its place among the RCPTs, 1-based; the reply)."""
    if record is None:
        return None
    count = 0
    waiting = False
    for line in record.lines:
        if line.side is Side.CLIENT:
            waiting = line.text[:8].upper() == "RCPT TO:"
            count += waiting
        elif waiting and line.text[:1] in ("4", "5"):
            return count, line.text
        else:
            waiting = False
    return None


def recipients_check(session: ClientSession, record: SessionRecord | None) -> FirewallCheck:
    rcpts = [e for e in session.exchanges if e.name.startswith("RCPT ")]
    sent = f"RCPT x{len(rcpts)} in one transaction"
    far = _listener_refusal(record)
    if far is not None:
        place, text = far
        got = rcpts[place - 1].reply if place <= len(rcpts) else None
        arrived = f"RCPT {place}: {_wire(got)}"
        detail = f"the listener answered {text}"
        if got is None:
            effect = Effect.DROPPED
        elif text[:3] == str(got.code) and " ".join(got.lines[:1]) == text[4:]:
            effect = Effect.PASSED
        else:
            effect = Effect.REPLY_CHANGED
        return FirewallCheck("recipients", session.name, sent, arrived, effect, detail)
    first = next(
        (i for i, e in enumerate(rcpts) if e.reply is None or not e.reply.is_positive), None
    )
    if first is None:
        why = "no refusal within the recipients tried"
        return FirewallCheck("recipients", session.name, sent, "-", Effect.NOT_TESTED, why)
    arrived = f"RCPT {first + 1}: {_wire(rcpts[first].reply)}"
    detail = "the box's own limit: the listener never refused"
    return FirewallCheck("recipients", session.name, sent, arrived, Effect.LIMITED, detail)


def concurrency_check(session: ClientSession, records: Sequence[SessionRecord]) -> FirewallCheck:
    """How many of the connections opened together were greeted and reached the listener."""
    opened = len(session.exchanges)
    greeted = [e for e in session.exchanges if e.reply is not None and e.reply.code == 250]
    arrived = sum(
        any(any(e.name + "." in line.text for line in r.client_lines()) for r in records)
        for e in greeted
    )
    sent = f"{opened} sessions at once"
    shown = f"{len(greeted)} greeted, {arrived} reached the listener"
    if len(greeted) == opened:  # a box that relays only messages opens none of its own here
        return FirewallCheck("concurrent sessions", session.name, sent, shown, Effect.PASSED)
    refusals = sorted({_wire(e.reply) for e in session.exchanges if e not in greeted})
    detail = "; ".join(refusals)
    return FirewallCheck("concurrent sessions", session.name, sent, shown, Effect.LIMITED, detail)


def _far_reply(records: Sequence[SessionRecord], line: str) -> str | None:
    """The listener's (first) reply line to a command line it received, or None."""
    for record in records:
        waiting = False
        for seen in record.lines:
            if seen.side is Side.CLIENT:
                waiting = seen.text == line
            elif waiting:
                return seen.text
    return None


def size_check(session: ClientSession, records: Sequence[SessionRecord]) -> FirewallCheck:
    """The smallest declared SIZE refused, and whether the box refused it itself (its own
    limit) or passed the listener's refusal back."""
    sized = [
        (int(e.name[5:]), e)
        for e in session.exchanges
        if e.name.startswith("SIZE ") and e.name[5:].isascii() and e.name[5:].isdigit()
    ]
    refused = sorted((n, e) for n, e in sized if e.reply is None or not e.reply.is_positive)
    other = next((e for _, e in refused if e.reply is not None and not about_size(e.reply)), None)
    if other is not None:
        why = f"refused for another reason: {_wire(other.reply)}"
        return FirewallCheck("declared size", session.name, other.name, "-", Effect.NOT_TESTED, why)
    accepted = max((n for n, e in sized if e.reply is not None and e.reply.is_positive), default=0)
    if not refused:
        why = (
            f"no declared size refused up to {accepted:,}"
            if accepted
            else session.conversation.reason
        )
        effect = Effect.PASSED if accepted else Effect.NOT_TESTED
        return FirewallCheck("declared size", session.name, f"SIZE={accepted}", "-", effect, why)
    size, exchange = refused[0]
    sent = f"SIZE={size}"
    arrived = f"refused: {_wire(exchange.reply)}"
    detail = f"accepted up to SIZE={accepted:,}"
    far = _far_reply(records, exchange.line)
    if far is None:
        detail = f"the box's own limit, {detail}"
        return FirewallCheck("declared size", session.name, sent, arrived, Effect.LIMITED, detail)
    got = exchange.reply
    same = got is not None and far[:3] == str(got.code) and " ".join(got.lines[:1]) == far[4:]
    effect = Effect.PASSED if same else Effect.REPLY_CHANGED
    detail = f"the listener's limit ({far}), {detail}"
    return FirewallCheck("declared size", session.name, sent, arrived, effect, detail)
