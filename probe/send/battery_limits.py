"""The limits part of `probe firewall`'s battery (I/O), each bounded in count and time:

- `recipients`: RCPT after RCPT in one transaction until a refusal (the listener's `452 too
  many recipients`, or the box's own limit) and one more, at most `RCPT_MOST`;
- `concurrency`: `CONCURRENT` connections open at once, each greeted and EHLO'd, held a moment:
  how many the box lets through together;
- `size`: the declared-size threshold, `MAIL FROM SIZE=n` searched by halving (each followed
  by RSET, at most `SIZE_STEPS`): the smallest size refused, and by whom.
"""

from __future__ import annotations

import asyncio
import dataclasses

from probe.model.firewall import ClientSession, Exchange, about_size
from probe.model.smtp import Outcome, Stage
from probe.send.battery import scripted
from probe.send.battery_messages import DOMAIN
from probe.send.converse import Script
from probe.send.options import ConverseOptions
from probe.send.session import Ending, Session, Stop

RCPT_MOST = 120  # recipients tried in one transaction (probe listen defers after 100)
CONCURRENT = 8  # connections at once (probe listen allows 10 from one address)
HOLD = 0.5  # seconds the concurrent connections stay open together
SIZE_MOST = 1 << 31  # the largest declared size tried
SIZE_STEPS = 32  # MAIL commands of the size search at most


def _options(base: ConverseOptions, helo_tag: str) -> ConverseOptions:
    return dataclasses.replace(base, helo=f"{helo_tag}.{DOMAIN}", starttls=False)


async def recipients_session(
    address: str, base: ConverseOptions, session_tag: str
) -> ClientSession:
    async def steps(
        session: Session, script: Script, caps: tuple[str, ...], exchanges: list[Exchange]
    ) -> None:
        mail = f"MAIL FROM:<{session_tag}@{DOMAIN}>"
        exchanges.append(Exchange("MAIL", mail, await session.command(Stage.MAIL, mail)))
        refused_at = 0
        for i in range(1, RCPT_MOST + 1):
            line = f"RCPT TO:<r{i}.{session_tag}@{DOMAIN}>"
            try:
                reply = await session.command(Stage.RCPT, line)
            except Stop:
                exchanges.append(Exchange(f"RCPT {i}", line, None))
                raise
            exchanges.append(Exchange(f"RCPT {i}", line, reply))
            if not reply.is_positive and not refused_at:
                refused_at = i
            elif refused_at:
                break  # one more after the first refusal: does it still refuse?
        await session.command(Stage.RCPT, "RSET")
        await script.quit()

    conversation, exchanges = await scripted(address, _options(base, session_tag), steps)
    return ClientSession("recipients", session_tag, conversation, exchanges)


async def _held(address: str, base: ConverseOptions, tag: str) -> tuple[Script, Exchange]:
    """One connection greeted and EHLO'd, left open; its exchange holds the EHLO reply, or the
    banner that refused it (a 421), or None (refused, cut, not answered)."""
    script = Script(Session(address, address, _options(base, tag)))
    line = f"EHLO {tag}.{DOMAIN}"
    try:
        await script.session.open()
        await script.banner()
        await script.hello(after_tls=False)
        script.session.ending = Ending(Outcome.OK, Stage.QUIT)
        return script, Exchange(tag, line, script.seen.ehlo)
    except Stop as stop:
        script.session.ending = stop.ending
        return script, Exchange(tag, line, script.seen.banner)


async def concurrency_session(
    address: str, base: ConverseOptions, session_tag: str
) -> ClientSession:
    """One exchange per connection, all open together for `HOLD` seconds."""
    tags = [f"{session_tag}-{i}" for i in range(1, CONCURRENT + 1)]
    opened = await asyncio.gather(*(_held(address, base, t) for t in tags))
    await asyncio.sleep(HOLD)
    for script, exchange in opened:
        if exchange.reply is not None and exchange.reply.code == 250:
            await script.quit()
    for script, _ in opened:
        await script.session.close()
    first = opened[0][0].conversation()
    return ClientSession(
        "concurrency", session_tag, first, tuple(exchange for _, exchange in opened)
    )


async def size_session(address: str, base: ConverseOptions, session_tag: str) -> ClientSession:
    """The smallest declared SIZE refused (between 1 and SIZE_MOST), by halving; the exchanges
    are the MAIL commands, named `SIZE n`."""

    async def steps(
        session: Session, script: Script, caps: tuple[str, ...], exchanges: list[Exchange]
    ) -> None:
        low, high = 0, SIZE_MOST + 1  # low: accepted (0: nothing yet), high: refused
        for _ in range(SIZE_STEPS):
            if high - low <= 1:
                break
            size = high - 1 if high == SIZE_MOST + 1 else (low + high) // 2
            line = f"MAIL FROM:<{session_tag}@{DOMAIN}> SIZE={size}"
            reply = await session.command(Stage.MAIL, line)
            exchanges.append(Exchange(f"SIZE {size}", line, reply))
            await session.command(Stage.MAIL, "RSET")
            if reply.is_positive:
                low = size
            elif not about_size(reply):
                break  # refused for another reason (a limit of sessions, a policy): no search
            else:
                high = size
                if low == 0:  # the largest refused: search below it from one octet
                    low = 1
        await script.quit()

    conversation, exchanges = await scripted(address, _options(base, session_tag), steps)
    return ClientSession("size", session_tag, conversation, exchanges)
