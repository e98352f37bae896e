"""probe connect's questions: who answers the envelope, without sending a message.

NOOP, `MAIL FROM:<>` (the null sender every MTA must accept, RFC 5321 4.5.5), one RCPT and
RSET: the replies a proxy answers itself while it passes the backend's banner through. No DATA
is given, so no message is sent; whatever the answers, the conversation goes on to QUIT.
"""

from __future__ import annotations

from probe.model.smtp import RcptResult, Reply, Stage
from probe.send.session import Session


async def ask_envelope(session: Session, rcpt: str) -> tuple[Reply, tuple[RcptResult, ...]]:
    """The MAIL reply and the RCPT result (none when MAIL was refused)."""
    await session.command(Stage.NOOP, "NOOP")
    mail = await session.command(Stage.MAIL, "MAIL FROM:<>")
    results: tuple[RcptResult, ...] = ()
    if mail.is_positive:
        reply = await session.command(Stage.RCPT, f"RCPT TO:<{rcpt}>")
        results = (RcptResult(rcpt, reply, reply.code in (250, 251, 252)),)
    await session.command(Stage.RSET, "RSET")
    return mail, results
