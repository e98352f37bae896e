"""Regenerate tests/data/mta/ from a private Postfix + Dovecot: `python -m tests.mta.capture`.

Writes what the `mta` tier sees, for parser tests that run without the servers: the message as
sent, the copy Postfix delivered (via Dovecot, read over IMAP with probe), and the DSN Postfix
wrote when Dovecot's LMTP refused a recipient after Postfix had accepted it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from probe.collect.mailboxes import open_mailbox
from probe.collect.secrets import Secret
from probe.collect.wait import collect
from probe.model.collect import CollectResult
from tests.mta import servers
from tests.mta.messages import tagged
from tests.mta.test_mta_collect import bounce_ids, send, url

DATA = Path(__file__).resolve().parent.parent / "data" / "mta"
RUN = "20240501T120000-0a0b0c"  # fixed, so the fixtures do not churn
DELIVERED, BOUNCED = f"{RUN}.control", f"{RUN}.bounce"


def sent_message(pid: str, rcpt: str) -> bytes:
    return tagged(pid, mail_from=servers.SENDER, rcpt_to=rcpt, description="control")


async def _collect(dc: servers.Dovecot, user: str, pid: str) -> CollectResult:
    box = await open_mailbox(
        url(dc, user=user), password=Secret(servers.PASSWORD), ca_file=dc.ca_pem
    )
    try:
        return await collect(
            box, {pid: pid}, deadline=time.monotonic() + 20, is_bounce_for=bounce_ids
        )
    finally:
        await box.close()


def main() -> int:
    reason = servers.missing_reason()
    if reason:
        print(f"cannot capture: {reason}", file=sys.stderr)
        return 3
    DATA.mkdir(parents=True, exist_ok=True)
    with servers.mail_system() as (dc, pf):
        sent = sent_message(DELIVERED, servers.USER)
        send(pf, sent, servers.USER)
        send(
            pf,
            sent_message(BOUNCED, servers.GONE),
            servers.GONE,
            mail_options=["RET=HDRS", f"ENVID={BOUNCED}"],
            rcpt_options=["NOTIFY=FAILURE"],
        )
        copies = asyncio.run(_collect(dc, servers.USER, DELIVERED)).delivered
        bounces = asyncio.run(_collect(dc, servers.SENDER, BOUNCED)).bounces
    if len(copies) != 1 or len(bounces) != 1:
        print(f"expected one copy and one DSN, got {len(copies)}, {len(bounces)}", file=sys.stderr)
        return 2
    (DATA / "postfix-sent.eml").write_bytes(sent)
    (DATA / "postfix-delivered.eml").write_bytes(copies[0].raw)
    (DATA / "postfix-dsn.eml").write_bytes(bounces[0].message.raw)
    print(f"wrote {DATA}/postfix-sent.eml, postfix-delivered.eml, postfix-dsn.eml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
