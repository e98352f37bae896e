"""Who added a header, and who changed the body: the product, the host a field names, then the
position, which narrows but does not decide (issue 10 items 2, 3, 8).

The fields are in the formats real software writes, each with its product and version:
- ClamSMTP 1.10 `X-Virus-Scanned: ClamAV using ClamSMTP` (its default `Header:`; sites add
  ` on <host>`);
- amavisd-new 2.11 (Debian) `X-Virus-Scanned: Debian amavisd-new at <host>` above its own
  Received `by localhost (<host> [127.0.0.1]) (amavisd-new, port 10024)`;
- clamav-milter 1.0.1 `X-Virus-Scanned: clamav-milter 1.0.1 at <host>` + `X-Virus-Status: Clean`,
  appended at the end of the header block;
- SpamAssassin 3.4.6 `X-Spam-Checker-Version: SpamAssassin 3.4.6 (2021-04-09) on <host>`;
- OpenDKIM 2.11.0 `DKIM-Filter: OpenDKIM Filter v2.11.0 <host> <queue id>` directly below the
  Postfix Received of that host;
- qpsmtpd 0.96 `Authentication-Results: <host>; ...` directly below its own Received
  `by <host> (qpsmtpd/0.96) with ESMTP`;
- the Postfix 3.7 Received format (`by <host> (Postfix) with ESMTP id <id>`) for every hop.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

from probe.decide.decision import decide
from probe.model.smtp import Outcome
from probe.model.verdict import Action, Confidence, Decision, HopKey, HopKind
from tests.unit.test_decide import (
    RUN,
    conversation,
    real_postfix_run,
    reply,
    run_of,
    send,
    sent_message,
)

MX = "mx.example.com"
SCAN = "scan.example.com"


def postfix(by: str, frm: str, qid: str, second: int) -> str:
    return (
        f"Received: from {frm} ({frm} [192.0.2.{second}])\r\n\tby {by} (Postfix) with ESMTP id "
        f"{qid}\r\n\tfor <user@example.com>; Thu, 18 Mar 2010 14:19:{second:02d} +0000 (UTC)\r\n"
    )


TWO_HOPS = postfix(SCAN, MX, "4BRT1W5YHQ", 36), postfix(MX, "probe.test", "D6174212F2", 35)


def exe_message(variant: str) -> bytes:
    msg = EmailMessage(policy=SMTP)
    pid = f"{RUN}.{variant}"
    msg["From"] = "probe@sender.test"
    msg["To"] = "user@example.com"
    msg["Subject"] = f"[probe {pid}] {variant}"
    msg["Message-ID"] = f"<probe.{pid}@sender.test>"
    msg["X-Probe-Id"] = pid
    msg["Date"] = "Thu, 18 Mar 2010 14:19:34 +0000"
    msg.set_content(f"probe-id: {pid}\r\n")
    msg.add_attachment(
        b"MZ\x90\x00" + bytes(300),
        maintype="application",
        subtype="x-msdownload",
        filename="setup.exe",
    )
    return msg.as_bytes()


def exe_replaced(sent: bytes) -> bytes:
    """The copy with setup.exe replaced by a notice, as a scanner does."""
    msg = EmailMessage(policy=SMTP)
    head, _, _ = sent.partition(b"\r\n\r\n")
    for line in head.decode().split("\r\n"):
        name, _, value = line.partition(": ")
        if name.lower() not in ("content-type", "mime-version", "content-transfer-encoding"):
            msg[name] = value
    pid = msg["X-Probe-Id"]
    msg.set_content(f"probe-id: {pid}\r\n")
    msg.add_attachment("setup.exe was removed: executable content\r\n", filename="setup.exe.txt")
    return msg.as_bytes()


def deliver(
    sent: bytes, top: tuple[str, ...], end: tuple[str, ...] = (), body: bytes = b""
) -> bytes:
    """`top` fields (Received and others, newest first) above the sent header block, `end`
    fields below it (a milter's), and the body as sent unless given."""
    head, _, sent_body = sent.partition(b"\r\n\r\n")
    fields = "".join(f if f.endswith("\r\n") else f + "\r\n" for f in top).encode()
    tail = "".join(f + "\r\n" for f in end).encode()
    return fields + head + b"\r\n" + tail + b"\r\n" + (body or sent_body)


def run(copies: dict[str, bytes], sent: dict[str, bytes]) -> Decision:
    ok = conversation(
        MX,
        banner=f"220 {MX} ESMTP Postfix (Debian/GNU)",
        caps=("PIPELINING", "SIZE 10240000", "STARTTLS", "ENHANCEDSTATUSCODES"),
        final=reply(250, "2.0.0 Ok: queued as D6174212F2"),
        outcome=Outcome.ACCEPTED,
        stage="quit",
        mail="250 2.1.0 Ok",
        rcpt="250 2.1.5 Ok",
        data="354 End data with <CR><LF>.<CR><LF>",
    )
    return decide(run_of([send(v, ok, sent[v]) for v in sent], copies, sent))


def actions(decision: Decision, action: Action) -> dict[HopKey, list[Confidence]]:
    found: dict[HopKey, list[Confidence]] = {}
    for hop in decision.hops:
        for a in hop.actions:
            if a.action is action:
                found.setdefault(hop.key, []).append(a.confidence)
    return found


def accused(decision: Decision) -> set[HopKey]:
    return {h.key for h in decision.hops if h.actions}


def scanner_path(stamp: str) -> Decision:
    sent = {"control": sent_message("control"), "attach-exe": exe_message("attach-exe")}
    received = (TWO_HOPS[0], stamp, TWO_HOPS[1])
    copies = {
        "control": deliver(sent["control"], received),
        "attach-exe": deliver(exe_replaced(sent["attach-exe"]), received),
    }
    return run(copies, sent)


def test_a_scanner_at_hop_2_that_names_itself_below_its_own_received_is_blamed_not_hop_1() -> None:
    """Issue 10 item 2: the scanner writes its Received, then X-Virus-Scanned ... on <its
    host> directly below it, and replaces the .exe: hop 2, and hop 1 is not accused."""
    decision = scanner_path(f"X-Virus-Scanned: ClamAV using ClamSMTP on {SCAN}")
    rewrites = actions(decision, Action.REWRITES)
    assert set(rewrites) == {HopKey.at(SCAN)}, decision.headline
    assert accused(decision) == {HopKey.at(SCAN)}
    scan = next(h for h in decision.hops if h.key == HopKey.at(SCAN))
    assert all(not a.alternatives for a in scan.actions)
    assert any("replaces attachments" in line and SCAN in line for line in decision.headline)


def test_a_scanner_that_names_no_host_is_one_of_two_stated_honestly() -> None:
    """The same scanner with ClamSMTP's default header (no host): its position between the two
    Received cannot say which hop wrote it, so the verdict names both at a capped confidence,
    and hop 1 is never accused alone with high confidence."""
    decision = scanner_path("X-Virus-Scanned: ClamAV using ClamSMTP")
    replaced = [
        a for h in decision.hops for a in h.actions if a.rule == "rewrite-attachment-replaced"
    ]
    assert len(replaced) == 1
    assert set(replaced[0].alternatives) | {
        next(h.key for h in decision.hops if replaced[0] in h.actions)
    } >= {HopKey.at(MX), HopKey.at(SCAN)}
    assert replaced[0].confidence is not Confidence.HIGH
    line = next(x for x in decision.headline if "replaces attachments" in x)
    assert "most likely, or" in line and MX in line and SCAN in line
    for hop in decision.hops:
        if hop.key == HopKey.at(MX):
            assert all(a.alternatives or a.confidence is not Confidence.HIGH for a in hop.actions)


def test_an_amavis_filter_on_hop_2_is_placed_by_the_host_it_names() -> None:
    """amavisd-new's re-injection: X-Virus-Scanned sits between amavis's own `by localhost`
    Received and hop 2's, and names hop 2."""
    sent = {"control": sent_message("control")}
    top = (
        postfix(SCAN, "localhost", "70093609E9", 37),
        f"X-Virus-Scanned: Debian amavisd-new at {SCAN}",
        "Received: from scan.example.com ([127.0.0.1])\r\n\tby localhost (scan.example.com "
        "[127.0.0.1]) (amavisd-new, port 10024)\r\n\twith ESMTP id Lxs6gqH2fgK7; Thu, 18 Mar "
        "2010 14:19:36 +0000 (UTC)\r\n",
        *TWO_HOPS,
    )
    decision = run({"control": deliver(sent["control"], top)}, sent)
    injects = actions(decision, Action.INJECTS)
    assert set(injects) == {HopKey.at(SCAN)}, decision.headline


def test_a_milter_at_hop_2_adding_headers_at_the_end_and_a_footer_is_not_the_edge_alone() -> None:
    """Issue 10 item 3: clamav-milter-style fields appended at the end of the header block and
    a footer; the fields name no host: hop 2 or its neighbour, stated honestly."""
    sent = {"control": sent_message("control")}
    footer = b"--\r\nScanned by the milter of example.com\r\n"
    head, _, body = sent["control"].partition(b"\r\n\r\n")
    copy = deliver(sent["control"], TWO_HOPS, end=("X-Milter-Scanned: yes",), body=body + footer)
    decision = run({"control": copy}, sent)
    appended = [a for h in decision.hops for a in h.actions if a.rule == "rewrite-body-appended"]
    assert len(appended) == 1 and appended[0].alternatives
    owner = next(h.key for h in decision.hops if appended[0] in h.actions)
    assert owner == HopKey.at(SCAN) and HopKey.at(MX) in appended[0].alternatives
    assert appended[0].confidence is not Confidence.HIGH
    line = next(x for x in decision.headline if "appends text" in x)
    assert line.startswith(f"hop 2 ({SCAN}) most likely, or hop 1 ({MX})")


def test_a_milter_that_names_its_host_decides() -> None:
    sent = {"control": sent_message("control")}
    end = (f"X-Virus-Scanned: clamav-milter 1.0.1 at {SCAN}", "X-Virus-Status: Clean")
    decision = run({"control": deliver(sent["control"], TWO_HOPS, end=end)}, sent)
    assert set(actions(decision, Action.INJECTS)) == {HopKey.at(SCAN)}
    assert all(not a.alternatives for h in decision.hops for a in h.actions)


def test_opendkim_below_hop_2s_received_is_hop_2s() -> None:
    sent = {"control": sent_message("control")}
    top = (
        TWO_HOPS[0],
        f"DKIM-Filter: OpenDKIM Filter v2.11.0 {SCAN} 4BRT1W5YHQ",
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=example.com; s=mail;\r\n"
        "\tt=1268921976; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==\r\n",
        TWO_HOPS[1],
    )
    decision = run({"control": deliver(sent["control"], top)}, sent)
    assert set(actions(decision, Action.INJECTS)) == {HopKey.at(SCAN)}, decision.headline


def test_qpsmtpd_authentication_results_below_its_own_received_is_no_box() -> None:
    """Issue 10 item 8: qpsmtpd writes Authentication-Results right below its own Received:
    that is qpsmtpd's, not "a box in front adds Authentication-Results"."""
    sent = {"control": sent_message("control")}
    top = (
        "Received: from probe.test (HELO probe.test) (192.0.2.1)\r\n  by mx.example.com "
        "(qpsmtpd/0.96) with ESMTP; Thu, 18 Mar 2010 14:19:35 +0000\r\n",
        f"Authentication-Results: {MX}; iprev=pass (probe.test) smtp.remote-ip=192.0.2.1",
        "X-Spam-Status: No, score=-0.1 required=5.0",
    )
    decision = run({"control": deliver(sent["control"], top)}, sent)
    assert not any(k.kind is HopKind.FRONT for k in accused(decision)), decision.headline
    assert set(actions(decision, Action.INJECTS)) == {HopKey.at(MX)}
    assert all(not a.alternatives for h in decision.hops for a in h.actions)


def test_a_check_point_header_is_check_points_wherever_it_sits() -> None:
    """X-CheckPoint between the Received of hop 1 and hop 2: a box between them, not hop 1."""
    sent = {"control": sent_message("control")}
    top = (TWO_HOPS[0], "X-CheckPoint: {4BA23672-7-3A6A8C0-7B6}", TWO_HOPS[1])
    decision = run({"control": deliver(sent["control"], top)}, sent)
    assert set(actions(decision, Action.INJECTS)) == {HopKey.link(MX, SCAN)}


def test_a_field_inside_a_content_filter_loop_is_that_hops_and_localhost_is_no_hop() -> None:
    """amavisd-new's X-Spam-Flag names no host, but it sits between amavis's `by localhost
    (scan.example.com ...)` stamp and scan.example.com's re-injection: scan.example.com's."""
    sent = {"control": sent_message("control")}
    top = (
        postfix(SCAN, "localhost", "70093609E9", 37),
        "X-Spam-Flag: NO",
        "X-Spam-Score: -0.2",
        "Received: from scan.example.com ([127.0.0.1])\r\n\tby localhost (scan.example.com "
        "[127.0.0.1]) (amavisd-new, port 10024)\r\n\twith ESMTP id Lxs6gqH2fgK7; Thu, 18 Mar "
        "2010 14:19:36 +0000 (UTC)\r\n",
        *TWO_HOPS,
    )
    decision = run({"control": deliver(sent["control"], top)}, sent)
    assert decision.path == (MX, SCAN)
    assert set(actions(decision, Action.INJECTS)) == {HopKey.at(SCAN)}, decision.headline
    assert all(not a.alternatives for h in decision.hops for a in h.actions)


def test_a_mailbox_store_behind_the_mta_is_no_candidate_for_its_header_rules() -> None:
    """The real Postfix 3.7 copy (tests/data/mta): Postfix's header_checks PREPEND and Subject
    tag, then Dovecot 2.3 over LMTP. The store writes nothing among the message's fields: the
    MTA alone, no alternative."""
    decision = real_postfix_run()
    assert decision.path == ("mx.mta.probe.test", "imap.mta.probe.test")
    acting = [h for h in decision.hops if h.actions]
    assert [h.key for h in acting] == [HopKey.at("mx.mta.probe.test")]
    assert all(not a.alternatives for a in acting[0].actions)


def test_a_field_naming_the_product_of_one_candidates_received_is_that_hops() -> None:
    """The mta tier's content filter (tests/mta/scanner.py) stamps `by scan.example.com
    (probe-test-scanner 1.0)` and writes `X-Virus-Scanned: probe-test-scanner 1.0` below it,
    naming no host: the product its Received names decides."""
    sent = {"control": sent_message("control")}
    top = (
        f"Received: from {MX} (localhost [127.0.0.1])\r\n\tby {SCAN} (probe-test-scanner 1.0) "
        "with ESMTP id 1A2B3C4D5E; Thu, 18 Mar 2010 14:19:36 +0000\r\n",
        "X-Virus-Scanned: probe-test-scanner 1.0",
        TWO_HOPS[1],
    )
    decision = run({"control": deliver(sent["control"], top)}, sent)
    assert set(actions(decision, Action.INJECTS)) == {HopKey.at(SCAN)}, decision.headline
    assert all(not a.alternatives for h in decision.hops for a in h.actions)


def test_a_mailbox_store_is_no_candidate_for_a_field_below_its_own_received() -> None:
    """A field between Postfix's Received and Dovecot's LMTP stamp (the forms of
    tests/data/mta/postfix-delivered.eml): the store writes nothing below its own Received, so
    a spam header is Postfix's, and an unknown one Postfix's or a box's, never Dovecot's."""
    sent = {"control": sent_message("control")}
    lmtp = (
        f"Received: from {MX} ([127.0.0.1])\r\n\tby imap.example.com with LMTP\r\n\tid "
        "QPloNX80BGvKVQAAg+zDdQ\r\n\t(envelope-from <probe@sender.test>)\r\n\tfor "
        "<user@example.com>; Thu, 18 Mar 2010 14:19:36 +0000\r\n"
    )
    top = (lmtp, "X-Spam-Status: No, score=-0.1", "X-Scanner-Mark: 1", TWO_HOPS[1])
    decision = run({"control": deliver(sent["control"], top)}, sent)
    store = HopKey.at("imap.example.com")
    for hop in decision.hops:
        for a in hop.actions:
            assert hop.key != store and store not in a.alternatives, decision.headline
    assert HopKey.at(MX) in actions(decision, Action.INJECTS)
