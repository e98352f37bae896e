"""`probe firewall --smuggling` (I/O): messages whose body holds an end-of-data look-alike
(`<LF>.<LF>`, `<CR><LF>.<LF>`, `<LF>.<CR><LF>`, the bare-CR forms) followed by a tagged MAIL,
RCPT and DATA, then the real `<CR><LF>.<CR><LF>`. A box that forwards the look-alike unchanged
lets a lenient far side end the message there and read the rest as a second, smuggled message
(SMTP smuggling). The exact bytes sent are kept (`ClientSession.wire`) for the comparison with
what the listener received (`probe.analyze.firewall_smuggling`).
"""

from __future__ import annotations

import contextlib
import dataclasses

from probe.model.firewall import ClientSession, Exchange
from probe.model.smtp import Direction, Outcome, Stage
from probe.send.battery import scripted
from probe.send.battery_messages import DOMAIN
from probe.send.converse import Script
from probe.send.options import ConverseOptions
from probe.send.session import Session, Stop

# name -> the end-of-data look-alike (RFC 5321 4.1.1.4 allows only <CR><LF>.<CR><LF>)
LOOKALIKES: dict[str, bytes] = {
    "LF.LF": b"\n.\n",
    "CRLF.LF": b"\r\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CR.CR": b"\r.\r",
    "CRLF.CR": b"\r\n.\r",
    "CR.CRLF": b"\r.\r\n",
}
AFTER_WAIT = 2.0  # seconds to wait for a second reply after the final one (a split message)


def smuggled_sender(session_tag: str) -> str:
    return f"{session_tag}-smuggled@{DOMAIN}"


def smuggling_data(session_tag: str, lookalike: bytes) -> bytes:
    """The DATA bytes as written, the final <CR><LF>.<CR><LF> included."""
    head = (
        f"From: <{session_tag}@{DOMAIN}>\r\nTo: <postmaster@{DOMAIN}>\r\n"
        f"Subject: probe firewall {session_tag}\r\nMessage-ID: <{session_tag}@{DOMAIN}>\r\n\r\n"
        "before the look-alike"
    ).encode("ascii")
    smuggled = (
        f"MAIL FROM:<{smuggled_sender(session_tag)}>\r\nRCPT TO:<postmaster@{DOMAIN}>\r\n"
        f"DATA\r\nSubject: smuggled {session_tag}\r\n\r\nsmuggled\r\n"
    ).encode("ascii")
    return head + lookalike + smuggled + b"after the look-alike\r\n.\r\n"


async def smuggling_session(
    address: str, base: ConverseOptions, session_tag: str, name: str
) -> ClientSession:
    """One message with the look-alike `name`; the exchanges are the end of data's reply and,
    when one comes, a second reply (the far side read two messages)."""
    lookalike = LOOKALIKES[name]
    options = dataclasses.replace(base, helo=f"{session_tag}.{DOMAIN}", starttls=False)
    wire = smuggling_data(session_tag, lookalike)

    async def steps(
        session: Session, script: Script, caps: tuple[str, ...], exchanges: list[Exchange]
    ) -> None:
        for stage, line in (
            (Stage.MAIL, f"MAIL FROM:<{session_tag}@{DOMAIN}>"),
            (Stage.RCPT, f"RCPT TO:<postmaster@{DOMAIN}>"),
            (Stage.DATA, "DATA"),
        ):
            reply = await session.command(stage, line)
            exchanges.append(Exchange(line.split(":")[0], line, reply))
            if not reply.is_positive:
                raise Stop(Outcome.REJECTED, stage, f"{reply.code} at {line.split(':')[0]}")
        session.log(Direction.CLIENT, f"({len(wire)} octets with {name})")
        await session.write_block(Stage.DATA_END, wire, options.timeouts.command)
        final = await session.read_reply(Stage.DATA_END, options.timeouts.final_reply)
        exchanges.append(Exchange("end of data", name, final))
        with contextlib.suppress(Stop):
            second = await session.read_reply(Stage.DATA_END, AFTER_WAIT)
            exchanges.append(Exchange("second reply", name, second))
        await script.quit()

    conversation, exchanges = await scripted(address, options, steps)
    return ClientSession(
        f"smuggle {name}", session_tag, conversation, exchanges, wire=wire.decode("latin-1")
    )
