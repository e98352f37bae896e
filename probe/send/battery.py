"""The client half of `probe firewall` (I/O): a small battery of SMTP sessions through a box,
each tagged so the listener behind it can be joined with it (`probe.analyze.firewall`).

- `plain`: EHLO and a tagged message without TLS (banner, capabilities, the message's bytes);
- `starttls`: the same with STARTTLS when it is offered (whose certificate the client sees);
- `commands`: HELP, VRFY, EXPN, ETRN, an unknown verb, a 1,000-octet command line, a NOOP split
  across two TCP segments, `BDAT 0 LAST` (a chunk of no bytes: nothing can desynchronise), MAIL,
  RCPT and RSET pipelined in one segment, and STARTTLS when it was not offered (the box may
  answer it itself).

Each session is bounded by its `ConverseOptions` (stage timeouts and one deadline); a session
the box cuts short is a result like any other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib

from probe.model.firewall import ClientSession, Exchange
from probe.model.message import OutgoingMessage
from probe.model.smtp import Direction, Outcome, Stage
from probe.send.converse import Script, converse
from probe.send.options import ConverseOptions
from probe.send.session import Ending, Session, Stop
from probe.smtp import replies

SPLIT_PAUSE = 0.2  # seconds between the two segments of the split command
LONG_LINE = 1000  # octets of the long command line, CRLF included (RFC 5321 allows 512)
DOMAIN = "probe.invalid"  # names in the battery's envelopes: never deliverable anywhere


def tag(token: str, name: str) -> str:
    return f"fw-{token}-{name}"


def tagged_message(session_tag: str) -> OutgoingMessage:
    """A small plain message that names its session everywhere a box might leave it."""
    data = (
        f"From: <{session_tag}@{DOMAIN}>\r\n"
        f"To: <postmaster@{DOMAIN}>\r\n"
        f"Subject: probe firewall {session_tag}\r\n"
        f"Message-ID: <{session_tag}@{DOMAIN}>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        f"probe firewall test message {session_tag}\r\n"
        ".a line that starts with a dot\r\n"
    ).encode("ascii")
    return OutgoingMessage(f"{session_tag}@{DOMAIN}", (f"postmaster@{DOMAIN}",), data)


def _options(base: ConverseOptions, session_tag: str, *, starttls: bool) -> ConverseOptions:
    return dataclasses.replace(base, helo=f"{session_tag}.{DOMAIN}", starttls=starttls)


async def message_session(
    address: str, base: ConverseOptions, token: str, *, starttls: bool
) -> ClientSession:
    """`plain` or `starttls`: one conversation that sends a tagged message."""
    name = "starttls" if starttls else "plain"
    session_tag = tag(token, name)
    message = tagged_message(session_tag)
    options = _options(base, session_tag, starttls=starttls)
    conversation = await converse(address, address, options, message)
    digest = hashlib.sha256(message.data).hexdigest()
    return ClientSession(name, session_tag, conversation, (), digest, len(message.data))


def _commands(session_tag: str) -> list[tuple[str, str]]:
    long_line = "NOOP " + "x" * (LONG_LINE - len("NOOP ") - 2)
    return [
        ("HELP", "HELP"),
        ("VRFY", f"VRFY <postmaster@{DOMAIN}>"),
        ("EXPN", "EXPN postmaster"),
        ("ETRN", f"ETRN {session_tag}.{DOMAIN}"),
        ("unknown verb", f"XPROBE {session_tag}"),
        ("long line", long_line),
        ("BDAT", "BDAT 0 LAST"),
    ]


def _pipelined(session_tag: str) -> list[tuple[str, str]]:
    return [
        ("MAIL", f"MAIL FROM:<{session_tag}@{DOMAIN}>"),
        ("RCPT", f"RCPT TO:<postmaster@{DOMAIN}>"),
        ("RSET", "RSET"),
    ]


async def command_session(address: str, base: ConverseOptions, token: str) -> ClientSession:
    """`commands`: the extra commands one at a time, then a pipelined group, then STARTTLS if
    EHLO did not offer it; it ends at the first command the box answers by closing."""
    session_tag = tag(token, "commands")
    session = Session(address, address, _options(base, session_tag, starttls=False))
    script = Script(session)
    exchanges: list[Exchange] = []
    try:
        await session.open()
        await script.banner()
        caps = await script.hello(after_tls=False)
        for name, line in _commands(session_tag):
            await _exchange(session, exchanges, name, line)
        await _split(session, exchanges, f"NOOP {session_tag}")
        await _pipeline(session, exchanges, _pipelined(session_tag))
        if replies.capability(caps, "STARTTLS") is None:
            # last: a 220 would need a handshake, so the connection ends after it
            await _exchange(session, exchanges, "STARTTLS", "STARTTLS")
        else:
            await script.quit()
        session.ending = Ending(Outcome.OK, Stage.QUIT)
    except Stop as stop:
        session.ending = stop.ending
    finally:
        await session.close()
    return ClientSession("commands", session_tag, script.conversation(), tuple(exchanges))


async def _exchange(session: Session, exchanges: list[Exchange], name: str, line: str) -> None:
    """One command and its reply; a connection that ends instead is recorded, then stops."""
    try:
        reply = await session.command(Stage.EHLO, line)
    except Stop:
        exchanges.append(Exchange(name, line, None))
        raise
    exchanges.append(Exchange(name, line, reply))


async def _split(session: Session, exchanges: list[Exchange], line: str) -> None:
    """One command in two TCP segments, a pause between: a box that reads packets, not a
    stream, sees two broken commands."""
    wire = f"{line}\r\n".encode("ascii")
    session.log(Direction.CLIENT, line)
    timeout = session.options.timeouts.command
    await session.write_block(Stage.EHLO, wire[:3], timeout)
    await asyncio.sleep(SPLIT_PAUSE)
    await session.write_block(Stage.EHLO, wire[3:], timeout)
    try:
        reply = await session.read_reply(Stage.EHLO, timeout)
    except Stop:
        exchanges.append(Exchange("split line", line, None))
        raise
    exchanges.append(Exchange("split line", line, reply))


async def _pipeline(
    session: Session, exchanges: list[Exchange], commands: list[tuple[str, str]]
) -> None:
    """The commands written in one segment (RFC 2920), then their replies read in order."""
    block = "".join(f"{line}\r\n" for _, line in commands).encode("ascii")
    for _, line in commands:
        session.log(Direction.CLIENT, line)
    await session.write_block(Stage.MAIL, block, session.options.timeouts.command)
    for i, (name, line) in enumerate(commands):
        try:
            reply = await session.read_reply(Stage.MAIL, session.options.timeouts.command)
        except Stop:
            exchanges += [Exchange(n, cmd, None, pipelined=True) for n, cmd in commands[i:]]
            raise
        exchanges.append(Exchange(name, line, reply, pipelined=True))
