"""The content checks of `probe firewall`, pure: whether each message arrived byte for byte
(and if not, whether only its header changed), which header fields the box added, removed or
rewrote, and the time the box added between the end of data and the final reply (its scan).
"""

from __future__ import annotations

import collections

from probe.model.firewall import ClientSession, Effect, FirewallCheck
from probe.model.listener import MessageSeen, SessionRecord, Side

SCAN_DELAY_MS = 2000.0  # more added between end of data and the final reply: `delays`
TIMED = ("plain", "attachment", "size-100k", "size-1m")  # the sessions whose latency is a row


def _seen(session: ClientSession, record: SessionRecord) -> MessageSeen | None:
    exact = next((m for m in record.messages if m.sha256 == session.message_sha256), None)
    return exact or (record.messages[-1] if record.messages else None)


def message_check(session: ClientSession, record: SessionRecord) -> FirewallCheck | None:
    if not session.message_sha256:
        return None
    sent = f"{session.message_size} bytes, sha256 {session.message_sha256[:16]}"
    conversation = session.conversation
    if conversation.data_reply is None and not record.messages:
        why = conversation.reason or "the client sent no message"
        return FirewallCheck("message", session.name, sent, "-", Effect.NOT_TESTED, why)
    seen = _seen(session, record)
    if seen is None:
        return FirewallCheck("message", session.name, sent, "-", Effect.NOT_ARRIVED)
    if seen.sha256 == session.message_sha256:
        return FirewallCheck("message", session.name, sent, sent, Effect.IDENTICAL)
    arrived = f"{seen.size} bytes, sha256 {seen.sha256[:16] or '-'}"
    body = session.message_body_sha256
    detail = (
        "the header changed, the body arrived byte for byte"
        if body and seen.body_sha256 == body
        else "the body changed"
    )
    return FirewallCheck("message", session.name, sent, arrived, Effect.ALTERED, detail)


def _name(field: str) -> str:
    return field.partition(":")[0].strip()


def header_checks(session: ClientSession, record: SessionRecord) -> list[FirewallCheck]:
    """Fields in one header and not the other (each counted): added, removed, or, when a name
    is on both sides, rewritten."""
    seen = _seen(session, record)
    if seen is None or not session.message_headers or seen.sha256 == session.message_sha256:
        return []
    sent = collections.Counter(session.message_headers)
    got = collections.Counter(seen.headers)
    added, removed = list((got - sent).elements()), list((sent - got).elements())
    checks = []
    for field in removed:
        twin = next((a for a in added if _name(a).lower() == _name(field).lower()), None)
        if twin is not None:
            added.remove(twin)
            check = FirewallCheck(
                f"header {_name(field)}", session.name, field, twin, Effect.CHANGED
            )
        else:
            check = FirewallCheck(
                f"header {_name(field)}", session.name, field, "-", Effect.REMOVED
            )
        checks.append(check)
    for field in added:
        checks.append(
            FirewallCheck(f"header {_name(field)}", session.name, "-", field, Effect.INJECTED)
        )
    return checks


def _listener_ms(record: SessionRecord, seen: MessageSeen) -> float | None:
    """From the message's end of data to the listener's reply to it."""
    reply = next(
        (x for x in record.lines if x.side is Side.SERVER and x.elapsed_ms >= seen.elapsed_ms),
        None,
    )
    return reply.elapsed_ms - seen.elapsed_ms if reply is not None else None


def timing_check(session: ClientSession, record: SessionRecord) -> FirewallCheck | None:
    if session.name not in TIMED:
        return None
    client_ms = session.conversation.final_reply_ms
    seen = _seen(session, record)
    far_ms = _listener_ms(record, seen) if seen is not None else None
    if client_ms is None or far_ms is None:
        return None
    added = max(0.0, client_ms - far_ms)
    sent = f"{session.message_size} bytes"
    arrived = f"final reply after {client_ms:.0f} ms, the listener's after {far_ms:.0f} ms"
    effect = Effect.DELAYED if added > SCAN_DELAY_MS else Effect.PASSED
    detail = f"the box added {added:.0f} ms"
    return FirewallCheck("scan latency", session.name, sent, arrived, effect, detail)
