"""The client half of `probe firewall` (I/O): a small battery of SMTP sessions through a box,
each tagged so the listener behind it can be joined with it (`probe.analyze.firewall`).

- `plain`: EHLO and a tagged message without TLS (banner, capabilities, the message's bytes);
- `starttls`: the same with STARTTLS when it is offered (whose certificate the client sees);
- `commands`: HELP, VRFY, EXPN, ETRN, an unknown verb, a 1,000-octet command line, a NOOP split
  across two TCP segments, `BDAT 0 LAST` (a chunk of no bytes: nothing can desynchronise), MAIL,
  RCPT and RSET pipelined in one segment, and STARTTLS when it was not offered (the box may
  answer it itself);
- `chunking`: the tagged message in one `BDAT n LAST` where CHUNKING is offered;
- the content sessions (`probe.send.battery_messages.CONTENT`: 8bit, long lines, an attachment,
  SMTPUTF8, sizes), each a message of its own; the limits (`battery_limits`) and, opt-in, the
  end-of-data look-alikes (`battery_smuggling`) are their own modules.

Each session is bounded by its `ConverseOptions` (stage timeouts and one deadline); a session
the box cuts short is a result like any other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Awaitable, Callable

from probe.model.firewall import ClientSession, Exchange
from probe.model.listener import message_parts
from probe.model.message import OutgoingMessage
from probe.model.smtp import Conversation, Direction, Outcome, Stage
from probe.send.battery_messages import DOMAIN, tagged_message
from probe.send.converse import Script, converse
from probe.send.options import ConverseOptions
from probe.send.session import Ending, Session, Stop
from probe.smtp import replies

SPLIT_PAUSE = 0.2  # seconds between the two segments of the split command
LONG_LINE = 1000  # octets of the long command line, CRLF included (RFC 5321 allows 512)


def tag(token: str, name: str) -> str:
    return f"fw-{token}-{name}"


def _options(base: ConverseOptions, session_tag: str, *, starttls: bool) -> ConverseOptions:
    return dataclasses.replace(base, helo=f"{session_tag}.{DOMAIN}", starttls=starttls)


Steps = Callable[[Session, Script, tuple[str, ...], list[Exchange]], Awaitable[None]]


async def scripted(
    address: str, options: ConverseOptions, steps: Steps
) -> tuple[Conversation, tuple[Exchange, ...]]:
    """One connection: banner, EHLO, then `steps` (they add their exchanges); an ending the
    box forces is a result like any other. The conversation ends with QUIT unless `steps`
    ended it."""
    session = Session(address, address, options)
    script = Script(session)
    exchanges: list[Exchange] = []
    try:
        await session.open()
        await script.banner()
        caps = await script.hello(after_tls=False)
        await steps(session, script, caps, exchanges)
        session.ending = Ending(Outcome.OK, Stage.QUIT)
    except Stop as stop:
        session.ending = stop.ending
        if stop.quit:
            await script.quit()
    finally:
        await session.close()
    return script.conversation(), tuple(exchanges)


def _sent(
    name: str, session_tag: str, conversation: Conversation, message: OutgoingMessage
) -> ClientSession:
    headers, body = message_parts(message.data)
    digest = hashlib.sha256(message.data).hexdigest()
    return ClientSession(
        name, session_tag, conversation, (), digest, len(message.data), headers, body
    )


async def message_session(
    address: str,
    base: ConverseOptions,
    token: str,
    *,
    starttls: bool = False,
    name: str = "",
    build: Callable[[str], OutgoingMessage] = tagged_message,
) -> ClientSession:
    """One conversation that sends a tagged message: `plain`, `starttls`, or a content
    session (`name`, its message from `build`)."""
    name = name or ("starttls" if starttls else "plain")
    session_tag = tag(token, name)
    message = build(session_tag)
    options = _options(base, session_tag, starttls=starttls)
    conversation = await converse(address, address, options, message)
    return _sent(name, session_tag, conversation, message)


async def chunking_session(address: str, base: ConverseOptions, token: str) -> ClientSession:
    """`chunking`: the tagged message in one `BDAT n LAST` (RFC 3030), where CHUNKING is
    offered; the exchanges are MAIL, RCPT and BDAT."""
    session_tag = tag(token, "chunking")
    message = tagged_message(session_tag)

    async def steps(
        session: Session, script: Script, caps: tuple[str, ...], exchanges: list[Exchange]
    ) -> None:
        if replies.capability(caps, "CHUNKING") is None:
            raise Stop(Outcome.SKIPPED, Stage.EHLO, "CHUNKING not offered", quit=True)
        await _exchange(session, exchanges, "MAIL", f"MAIL FROM:<{message.mail_from}>")
        await _exchange(session, exchanges, "RCPT", f"RCPT TO:<{message.rcpt_to[0]}>")
        line = f"BDAT {len(message.data)} LAST"
        session.log(Direction.CLIENT, line)
        wire = f"{line}\r\n".encode("ascii") + message.data
        await session.write_block(Stage.DATA, wire, base.timeouts.command)
        try:
            reply = await session.read_reply(Stage.DATA_END, base.timeouts.final_reply)
        except Stop:
            exchanges.append(Exchange("BDAT", line, None))
            raise
        exchanges.append(Exchange("BDAT", line, reply))
        await script.quit()

    options = _options(base, session_tag, starttls=False)
    conversation, exchanges = await scripted(address, options, steps)
    sent = _sent("chunking", session_tag, conversation, message)
    return dataclasses.replace(sent, exchanges=exchanges)


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

    async def steps(
        session: Session, script: Script, caps: tuple[str, ...], exchanges: list[Exchange]
    ) -> None:
        for name, line in _commands(session_tag):
            await _exchange(session, exchanges, name, line)
        await _split(session, exchanges, f"NOOP {session_tag}")
        await _pipeline(session, exchanges, _pipelined(session_tag))
        if replies.capability(caps, "STARTTLS") is None:
            # last: a 220 would need a handshake, so the connection ends after it
            await _exchange(session, exchanges, "STARTTLS", "STARTTLS")
        else:
            await script.quit()

    options = _options(base, session_tag, starttls=False)
    conversation, exchanges = await scripted(address, options, steps)
    return ClientSession("commands", session_tag, conversation, exchanges)


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
