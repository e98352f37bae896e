"""Every reply a live Postfix writes in a whole conversation is one probe knows as Postfix's own.

The private Postfix of the mta tier (Debian 12's postfix 3.7.11, tests/mta/servers.py) is asked
through probe's own conversation (EHLO, MAIL, RCPT, DATA, the message, QUIT); each reply is
judged on its own with `could_write`, so a change of Postfix's wording (or of the knowledge in
probe/data/fingerprints_mta.toml) shows here rather than as a box invented in front of Postfix.
"""

from __future__ import annotations

import asyncio

import pytest

from probe.analyze import fingerprint as fp
from probe.model.message import OutgoingMessage
from probe.model.smtp import Outcome
from probe.send.converse import converse
from probe.send.options import ConverseOptions
from tests.mta import servers

pytestmark = pytest.mark.mta


def test_live_postfix_replies_are_postfix_own(
    mail_system: tuple[servers.Dovecot, servers.Postfix],
) -> None:
    _dc, pf = mail_system
    message = OutgoingMessage(
        mail_from=servers.SENDER,
        rcpt_to=(servers.USER,),
        data=b"Subject: authorship\r\nFrom: <sender@mta.probe.test>\r\n\r\nhello\r\n",
    )
    options = ConverseOptions(helo="client.probe.test", port=pf.smtp_port, starttls=False)
    conv = asyncio.run(converse(servers.MX_NAME, "127.0.0.1", options, message))
    assert conv.outcome is Outcome.ACCEPTED, conv.reason
    seen = fp.observe_conversation(conv)
    stages = {stage for stage, _, _ in seen.replies}
    assert {"mail", "rcpt", "data", "final"} <= stages
    known = fp.shipped_knowledge()
    for stage, code, text in seen.replies:
        if stage == "ehlo":
            continue  # the EHLO reply is the host name and the capability list
        judged = fp.could_write(known, "postfix", stage, code, text)
        assert judged is fp.Authorship.WRITES, (stage, code, text)
        assert fp.could_write(known, "checkpoint", stage, code, text) is not fp.Authorship.WRITES
