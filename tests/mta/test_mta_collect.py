"""Real Postfix relays tagged probe messages into a real Dovecot; probe collects them over IMAP.

Everything talks to 127.0.0.1 only. The servers (tests/mta/servers.py) are configured so the
delivered copies carry real Postfix traces: its own Received header, a header_checks Subject
rewrite and an added `X-Postfix-Checked` header, and a real RFC 3464 DSN for a recipient that
Postfix accepts and Dovecot's LMTP then refuses.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import smtplib
import threading
import time
from typing import Any

import pytest

from probe.collect.imap import ImapMailbox
from probe.collect.mailboxes import open_mailbox
from probe.collect.secrets import Secret
from probe.collect.wait import collect
from probe.errors import MailboxError
from probe.model.collect import Arrival, CollectResult
from probe.model.json import to_data
from probe.model.message import PROBE_ID_PATTERN
from tests.mta import servers
from tests.mta.messages import tagged

pytestmark = pytest.mark.mta

System = tuple[servers.Dovecot, servers.Postfix]
DEADLINE = 15.0


def send(pf: servers.Postfix, raw: bytes, rcpt: str, **options: Any) -> None:
    with smtplib.SMTP(
        "127.0.0.1", pf.smtp_port, local_hostname="client.probe.test", timeout=10
    ) as s:
        s.sendmail(servers.SENDER, [rcpt], raw, **options)


def url(dc: servers.Dovecot, *, starttls: bool = False, user: str = servers.USER) -> str:
    quoted = user.replace("@", "%40")
    if starttls:
        return f"imap://{quoted}@127.0.0.1:{dc.imap_port}/INBOX"
    return f"imaps://{quoted}@127.0.0.1:{dc.imaps_port}/INBOX"


def bounce_ids(raw: bytes) -> tuple[str, ...]:
    """The bounce parser's matcher where it exists, else a stand-in reading ids from the report."""
    if importlib.util.find_spec("probe.analyze.bounce.dsn") is not None:
        dsn = importlib.import_module("probe.analyze.bounce.dsn")
        bounce = dsn.parse_bounce(raw)
        if bounce is not None and getattr(bounce, "probe_ids", ()):
            return tuple(bounce.probe_ids)
    if b"multipart/report" not in raw:
        return ()
    return tuple(dict.fromkeys(re.findall(PROBE_ID_PATTERN, raw.decode("ascii", "replace"))))


def gather(
    dc: servers.Dovecot,
    expected: dict[str, str],
    *,
    starttls: bool = False,
    user: str = servers.USER,
    bounce_user: str | None = None,
    later: Any = None,
) -> tuple[CollectResult, float, bool]:
    """Open the mailbox, optionally run `later()` in a thread, collect until done."""

    async def main() -> tuple[CollectResult, float, bool]:
        secret = Secret(servers.PASSWORD)
        box = await open_mailbox(
            url(dc, starttls=starttls, user=user), password=secret, ca_file=dc.ca_pem
        )
        bounces = None
        if bounce_user:
            bounces = await open_mailbox(
                url(dc, user=bounce_user), password=secret, ca_file=dc.ca_pem
            )
        if later is not None:
            threading.Thread(target=later, daemon=True).start()
        t0 = time.monotonic()
        try:
            result = await collect(
                box,
                expected,
                deadline=t0 + DEADLINE,
                bounce_mailbox=bounces,
                is_bounce_for=bounce_ids,
            )
        finally:
            await box.close()
            if bounces:
                await bounces.close()
        idle = isinstance(box, ImapMailbox) and box.offers_idle
        return result, time.monotonic() - t0, idle

    return asyncio.run(main())


@pytest.mark.parametrize("starttls", [False, True], ids=["imaps", "imap-starttls"])
def test_collects_postfix_copy_over_imap(mail_system: System, run_id: str, starttls: bool) -> None:
    dc, pf = mail_system
    pid = f"{run_id}.control"
    sent = tagged(pid, rcpt_to=servers.USER)
    result, _, _ = gather(
        dc, {pid: "control"}, starttls=starttls, later=lambda: send(pf, sent, servers.USER)
    )
    assert result.status_of(pid) is Arrival.DELIVERED, result.statuses
    (copy,) = result.delivered
    assert (copy.folder, copy.junk, copy.matched_by) == ("INBOX", False, "x-probe-id")
    assert re.search(
        rb"Received: from client\.probe\.test \(localhost \[127\.0\.0\.1\]\)\r\n"
        rb"\tby mx\.mta\.probe\.test \(Postfix\) with ESMTP id [0-9A-F]+",
        copy.raw,
    ), copy.raw[:600]
    assert f"Subject: [MTA-TAG] [probe {pid}] control".encode() in copy.raw
    assert b"X-Postfix-Checked: yes\r\nX-Probe: probe/" in copy.raw
    assert copy.source == url(dc, starttls=starttls).replace("%40", "%40")
    assert servers.PASSWORD not in copy.source


def test_idle_notices_new_mail_quickly(mail_system: System, run_id: str) -> None:
    dc, pf = mail_system
    pid = f"{run_id}.idle"

    def late() -> None:
        time.sleep(2.5)  # after the first look and into the IDLE wait
        send(pf, tagged(pid, rcpt_to=servers.USER), servers.USER)

    result, elapsed, idle = gather(dc, {pid: "idle"}, later=late)
    assert idle, "Dovecot offers IDLE"
    assert result.status_of(pid) is Arrival.DELIVERED
    # polling with backoff would look at 1 s, 3 s, 7 s; IDLE wakes when the copy lands.
    assert elapsed < 5.5, elapsed


def test_copy_in_junk_folder_is_found_as_junk(mail_system: System, run_id: str) -> None:
    dc, pf = mail_system
    pid = f"{run_id}.junk"
    junk_rcpt = servers.USER.replace("@", "+Junk@")  # Dovecot LMTP files +Junk into Junk
    sent = tagged(pid, rcpt_to=junk_rcpt)
    result, _, _ = gather(dc, {pid: "junk"}, later=lambda: send(pf, sent, junk_rcpt))
    assert result.status_of(pid) is Arrival.DELIVERED
    (copy,) = result.delivered
    assert (copy.folder, copy.junk) == ("Junk", True)
    assert result.statuses[0].junk


def test_postfix_dsn_is_collected_as_bounce(mail_system: System, run_id: str) -> None:
    dc, pf = mail_system
    pid = f"{run_id}.bounce"
    rcpt = servers.GONE
    sent = tagged(pid, rcpt_to=rcpt)
    options = {"mail_options": ["RET=HDRS", f"ENVID={pid}"], "rcpt_options": ["NOTIFY=FAILURE"]}
    result, _, _ = gather(
        dc,
        {pid: "bounce"},
        bounce_user=servers.SENDER,
        later=lambda: send(pf, sent, rcpt, **options),
    )
    assert result.status_of(pid) is Arrival.BOUNCED, result.statuses
    (bounce,) = result.bounces
    assert bounce.probe_ids == (pid,)
    raw = bounce.message.raw
    assert b"Content-Type: multipart/report; report-type=delivery-status;" in raw
    assert b"Reporting-MTA: dns; mx.mta.probe.test" in raw
    assert f"Original-Envelope-Id: {pid}".encode() in raw
    assert f"Final-Recipient: rfc822; {rcpt}".encode() in raw
    assert b"Status: 5.1.1" in raw
    assert b"Remote-MTA: dns; 127.0.0.1" in raw  # Dovecot's LMTP refused it after Postfix's 250
    assert b"MAILER-DAEMON@mta.probe.test" in raw


def test_rejected_recipient_is_refused_at_rcpt(mail_system: System, run_id: str) -> None:
    _, pf = mail_system
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        send(pf, tagged(f"{run_id}.nobody"), f"nobody@{servers.DOMAIN}")
    code, text = info.value.recipients[f"nobody@{servers.DOMAIN}"]
    assert code == 550 and b"5.1.1" in text and b"User unknown" in text


def test_untrusted_certificate_is_refused_unless_insecure(mail_system: System) -> None:
    dc, _ = mail_system
    with pytest.raises(MailboxError, match="certificate of IMAP server 127.0.0.1:.* not trusted"):
        asyncio.run(open_mailbox(url(dc), password=Secret(servers.PASSWORD)))

    async def insecure() -> tuple[tuple[str, bool], ...]:
        box = await open_mailbox(url(dc), password=Secret(servers.PASSWORD), insecure=True)
        try:
            assert isinstance(box, ImapMailbox)
            return box.folders
        finally:
            await box.close()

    folders = asyncio.run(insecure())
    assert ("Junk", True) in folders
    assert ("Quarantine", True) in folders  # by its \Junk special-use flag alone (RFC 6154)


def test_password_never_shows(
    mail_system: System, run_id: str, capfd: pytest.CaptureFixture[str]
) -> None:
    dc, pf = mail_system
    pid = f"{run_id}.secret"
    result, _, _ = gather(dc, {pid: "control"}, later=lambda: send(pf, tagged(pid), servers.USER))
    assert result.status_of(pid) is Arrival.DELIVERED
    document = json.dumps(to_data(result))
    assert servers.PASSWORD not in document and servers.PASSWORD not in repr(result)
    out, err = capfd.readouterr()
    assert servers.PASSWORD not in out + err


@pytest.mark.parametrize("user", [servers.QUOTED_USER, servers.UTF8_USER])
def test_passwords_that_need_quoting_or_plain_log_in(mail_system: System, user: str) -> None:
    """LOGIN with `"` and `\\` escaped, and AUTHENTICATE PLAIN (UTF-8), against real Dovecot."""
    dc, _ = mail_system

    async def main() -> tuple[tuple[str, bool], ...]:
        secret = Secret(servers.PASSWORDS[user])
        box = await open_mailbox(url(dc, user=user), password=secret, ca_file=dc.ca_pem)
        try:
            assert isinstance(box, ImapMailbox)
            return box.folders
        finally:
            await box.close()

    assert ("INBOX", False) in asyncio.run(main())


def test_cleanup_deletes_collected_copies(mail_system: System, run_id: str) -> None:
    dc, pf = mail_system
    pid = f"{run_id}.cleanup"
    send(pf, tagged(pid), servers.USER)

    async def main() -> tuple[int, int]:
        box = await open_mailbox(url(dc), password=Secret(servers.PASSWORD), ca_file=dc.ca_pem)
        try:
            result = await collect(
                box, {pid: "c"}, deadline=time.monotonic() + DEADLINE, is_bounce_for=bounce_ids
            )
            removed = await box.delete(result.delivered)
            return removed, len((await box.find([pid]))[pid])
        finally:
            await box.close()

    assert asyncio.run(main()) == (1, 0)


# Last on purpose: Dovecot delays every later login from the same address after a failure.
def test_wrong_password_is_one_line_and_secret_free(
    mail_system: System, capfd: pytest.CaptureFixture[str]
) -> None:
    dc, _ = mail_system
    wrong = "Wr0ng-" + servers.PASSWORD[::-1]
    with pytest.raises(MailboxError) as info:
        asyncio.run(open_mailbox(url(dc, starttls=True), password=Secret(wrong), ca_file=dc.ca_pem))
    message = str(info.value)
    assert message.startswith(
        f"IMAP login refused for {servers.USER}@127.0.0.1: [AUTHENTICATIONFAILED] "
    )
    assert "\n" not in message and wrong not in message and servers.PASSWORD not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    out, err = capfd.readouterr()
    assert wrong not in out + err
