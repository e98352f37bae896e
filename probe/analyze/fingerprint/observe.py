"""A hop's observations for fingerprinting, from a conversation or a header block (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from probe.analyze.fingerprint.types import Observations
from probe.model.smtp import Conversation, Reply
from probe.smtp.replies import wire_lines


def unfold(value: str) -> str:
    """A header value on one line (RFC 5322 unfolding, runs of white space kept as one)."""
    return " ".join(value.split())


def observe_headers(pairs: Iterable[tuple[str, str]]) -> Observations:
    """Header (name, value) pairs in message order; Received values go to `received`."""
    headers: list[tuple[str, str]] = []
    received: list[str] = []
    for name, value in pairs:
        if name.strip().lower() == "received":
            received.append(unfold(value))
        else:
            headers.append((name.strip(), unfold(value)))
    return Observations(headers=tuple(headers), received=tuple(received))


def observe_conversation(conv: Conversation) -> Observations:
    """Banner, EHLO capabilities and every reply of one SMTP conversation, by stage."""
    named: list[tuple[str, Reply | None]] = [
        ("ehlo", conv.ehlo),
        ("mail", conv.mail_reply),
        *(("rcpt", r.reply) for r in conv.rcpt_results),
        ("data", conv.data_reply),
        ("final", conv.final_reply),
        ("ehlo", conv.ehlo_after_tls),
    ]
    seen = {id(reply) for _, reply in named if reply is not None}
    if conv.banner is not None:
        seen.add(id(conv.banner))
    others = [
        (s.name, s.reply) for s in conv.steps if s.reply is not None and id(s.reply) not in seen
    ]
    replies = tuple(
        (stage, reply.code, reply.text)
        for stage, reply in [*named, *others]
        if reply is not None and reply.valid
    )
    banner = wire_lines(conv.greeting) if conv.greeting is not None else ()
    return Observations(
        banner=banner,
        ehlo=conv.capabilities or conv.capabilities_after_tls,
        replies=replies,
    )


def combine(*parts: Observations) -> Observations:
    """Several observations of the same hop (a conversation and the delivered copy's headers)."""
    return Observations(
        banner=tuple(line for p in parts for line in p.banner),
        ehlo=next((p.ehlo for p in parts if p.ehlo), ()),
        replies=tuple(r for p in parts for r in p.replies),
        headers=tuple(h for p in parts for h in p.headers),
        received=tuple(r for p in parts for r in p.received),
    )
