"""What a box did with an end-of-data look-alike (`probe firewall --smuggling`), pure: the bytes
around it as the client sent them and as the listener received them, and what the listener (or
the box) made of them: one message, or a second, smuggled one.

- `refused`: the box did not pass the message (its own reply says why);
- `normalised`: it arrived with other bytes in its place (dot-stuffed, CRLF-completed, cut);
- `forwarded`: byte for byte as sent: a lenient far side would end the message there;
- `smuggled`: the far side or the box read a second message: the tagged MAIL after the
  look-alike reached the listener as a command, or the client got two final replies.
"""

from __future__ import annotations

from probe.model.firewall import ClientSession, Effect, FirewallCheck
from probe.model.listener import SessionRecord

BEFORE = "before the look-alike"  # the text just before it, in the battery's message
AFTER = "MAIL FROM:<"  # the smuggled command just after it
SHOWN = 40  # characters of context each side in a finding


def visible(text: str) -> str:
    """Line ends spelled out, so a finding shows the bytes: `a<CR><LF>.<LF>b`."""
    return text.replace("\r", "<CR>").replace("\n", "<LF>")


def _around(wire: str) -> str | None:
    """What follows the text before the look-alike, up to the smuggled MAIL (or `SHOWN`
    characters when the message ended before it); None without that text."""
    start = wire.find(BEFORE)
    if start < 0:
        return None
    start += len(BEFORE)
    end = wire.find(AFTER, start)
    return wire[start:end] if end >= 0 else wire[start : start + SHOWN]


def _as_command(session: ClientSession, record: SessionRecord) -> bool:
    """Whether the smuggled MAIL reached the listener as a command line."""
    smuggled = f"MAIL FROM:<{session.tag}-smuggled@"
    return any(line.text.startswith(smuggled) for line in record.client_lines())


def _said(count: int, as_command: bool) -> str:
    said = f"the listener read {count} message{'s' if count != 1 else ''}"
    return said + (", and the smuggled MAIL as a command" if as_command else "")


def smuggling_check(session: ClientSession, record: SessionRecord | None) -> FirewallCheck:
    name = session.name.removeprefix("smuggle ")
    label = f"smuggling {name}"
    sent = _around(session.wire) or ""
    shown_sent = visible(sent)
    end = next((e for e in session.exchanges if e.name == "end of data"), None)
    second = next((e for e in session.exchanges if e.name == "second reply"), None)
    arrived = None  # the message that holds the look-alike (a smuggled one may follow it)
    if record is not None and record.messages:
        arrived = next((m.wire for m in record.messages if BEFORE in m.wire), None)
        arrived = record.messages[0].wire if arrived is None else arrived
    if record is None or arrived is None:
        refusal = next(
            (e.reply for e in session.exchanges if e.reply is not None and not e.reply.is_positive),
            None,
        )
        if refusal is not None:
            reply = " ".join([str(refusal.code), *refusal.lines[:1]])
            return FirewallCheck(label, session.name, shown_sent, "-", Effect.REFUSED, reply)
        why = "no message reached the listener" + (
            ""
            if end and end.reply
            else "; the box gave no reply to the end of data (it may have"
            " taken the look-alike for one and the rest for commands)"
        )
        return FirewallCheck(label, session.name, shown_sent, "-", Effect.NOT_ARRIVED, why)
    got = _around(arrived)
    shown = visible(got) if got is not None else "(not found) " + visible(arrived[:SHOWN])
    as_command = _as_command(session, record)
    read = _said(len(record.messages), as_command)
    if as_command or len(record.messages) > 1 or second is not None:
        detail = read + ("; the client got a second reply" if second is not None else "")
        return FirewallCheck(label, session.name, shown_sent, shown, Effect.SMUGGLED, detail)
    if got == sent:
        read += "; a far side that ends DATA at it would read the rest as a second message"
        return FirewallCheck(label, session.name, shown_sent, shown, Effect.FORWARDED, read)
    return FirewallCheck(label, session.name, shown_sent, shown, Effect.NORMALISED, read)
