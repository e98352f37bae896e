"""Real Postfix output saved from the `mta` tier (tests/data/mta, by `python -m tests.mta.capture`).

These run without the servers: matching and bounce detection on what a real Postfix and Dovecot
wrote, and, where the modules exist, probe's Received, diff and DSN parsers on the same bytes.
"""

from __future__ import annotations

import asyncio
import mailbox
import re
from pathlib import Path

from probe.collect.mailboxes import open_mailbox
from probe.collect.wait import collect
from probe.model.collect import Arrival
from probe.model.message import PROBE_ID_PATTERN
from tests.mta.checks import check_postfix_copy, check_postfix_dsn

DATA = Path(__file__).resolve().parents[1] / "data" / "mta"
RUN = "20240501T120000-0a0b0c"
SENT = (DATA / "postfix-sent.eml").read_bytes()
DELIVERED = (DATA / "postfix-delivered.eml").read_bytes()
DSN = (DATA / "postfix-dsn.eml").read_bytes()


def test_postfix_copy() -> None:
    check_postfix_copy(SENT, DELIVERED, f"{RUN}.control")


def test_postfix_dsn() -> None:
    check_postfix_dsn(DSN, f"{RUN}.bounce", "gone@mta.probe.test")


def test_collect_from_maildir_with_real_messages(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "md", create=True)
    box.add(DELIVERED)
    box.add(DSN)

    def ids(raw: bytes) -> tuple[str, ...]:
        if b"multipart/report" not in raw:
            return ()
        return tuple(dict.fromkeys(re.findall(PROBE_ID_PATTERN, raw.decode("ascii", "replace"))))

    async def main() -> dict[str, Arrival | None]:
        mb = await open_mailbox(f"maildir:{tmp_path / 'md'}")
        expected = {f"{RUN}.control": "control", f"{RUN}.bounce": "bounce"}
        result = await collect(mb, expected, deadline=0.0, is_bounce_for=ids)
        return {p: result.status_of(p) for p in expected}

    assert asyncio.run(main()) == {
        f"{RUN}.control": Arrival.DELIVERED,
        f"{RUN}.bounce": Arrival.BOUNCED,
    }
