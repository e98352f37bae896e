"""The checks beyond the dialogue, on hand-made halves (the real boxes are in
tests/mta/test_firewall_netns.py): end-of-data look-alikes, the listener's 452, header fields,
concurrent sessions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

from probe.analyze.firewall_content import header_checks
from probe.analyze.firewall_limits import concurrency_check, recipients_check, size_check
from probe.analyze.firewall_smuggling import smuggling_check
from probe.model.firewall import ClientSession, Effect, Exchange
from probe.model.json import from_data
from probe.model.listener import MessageSeen, SessionLine, SessionRecord, Side, message_parts
from probe.model.smtp import Reply
from probe.send.battery_smuggling import LOOKALIKES, smuggling_data

DATA = Path(__file__).parent.parent / "data" / "firewall"
TAG = "fw-t-smuggle1"


def _session(**changes: object) -> ClientSession:
    data = json.loads((DATA / "forwarder.json").read_text())
    return dataclasses.replace(from_data(ClientSession, data["sessions"][0]), **changes)


def _record(
    lines: Sequence[tuple[Side, str]] = (), messages: tuple[MessageSeen, ...] = ()
) -> SessionRecord:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    kept = tuple(
        SessionLine(float(i), side, text, len(text) + 2) for i, (side, text) in enumerate(lines)
    )
    return SessionRecord(
        "sink", "10.0.0.1", 1, "10.0.0.2", 25, when, 1.0, lines=kept, messages=messages
    )


def _seen(content: bytes, wire: bytes = b"") -> MessageSeen:
    headers, body = message_parts(content)
    return MessageSeen(
        "a@b", ("c@d",), len(content), "x", True, 1.0, headers, body, wire.decode("latin-1")
    )


def _ok(text: str = "2.0.0 Ok") -> Reply:
    return Reply(250, (text,))


def test_a_lookalike_forwarded_normalised_or_smuggled() -> None:
    wire = smuggling_data(TAG, LOOKALIKES["LF.LF"])
    end = Exchange("end of data", "LF.LF", _ok())
    session = _session(name="smuggle LF.LF", tag=TAG, exchanges=(end,), wire=wire.decode("latin-1"))
    same = _record(messages=(_seen(b"x", wire),))
    assert smuggling_check(session, same).effect is Effect.FORWARDED
    stuffed = wire.replace(b"\n.\n", b"\r\n..\r\n")
    check = smuggling_check(session, _record(messages=(_seen(b"x", stuffed),)))
    assert check.effect is Effect.NORMALISED and check.arrived == "<CR><LF>..<CR><LF>"
    ended = wire[: wire.index(b"\n.\n")] + b"\r\n.\r\n"
    split = _record(
        [(Side.CLIENT, f"MAIL FROM:<{TAG}-smuggled@probe.invalid>")], (_seen(b"x", ended),)
    )
    check = smuggling_check(session, split)
    assert check.effect is Effect.SMUGGLED and "as a command" in check.detail
    refused = _session(
        name="smuggle LF.LF", tag=TAG, exchanges=(Exchange("end of data", "", Reply(554, ("no",))),)
    )
    assert smuggling_check(refused, _record()).effect is Effect.REFUSED


def _rcpts(replies: list[Reply | None]) -> ClientSession:
    exchanges = tuple(
        Exchange(f"RCPT {i}", f"RCPT TO:<r{i}@x>", r) for i, r in enumerate(replies, 1)
    )
    return _session(name="recipients", exchanges=exchanges)


def test_the_listeners_452_passed_dropped_or_the_boxs_own_limit() -> None:
    far = _record(
        [
            (Side.CLIENT, "RCPT TO:<r1@x>"),
            (Side.SERVER, "250 2.1.5 Ok"),
            (Side.CLIENT, "RCPT TO:<r2@x>"),
            (Side.SERVER, "452 4.5.3 Too many recipients"),
        ]
    )
    too_many = Reply(452, ("4.5.3 Too many recipients",))
    assert recipients_check(_rcpts([_ok(), too_many]), far).effect is Effect.PASSED
    assert (
        recipients_check(_rcpts([_ok(), Reply(550, ("no",))]), far).effect is Effect.REPLY_CHANGED
    )
    assert recipients_check(_rcpts([_ok(), None]), far).effect is Effect.DROPPED
    own = recipients_check(_rcpts([_ok(), None]), _record([(Side.CLIENT, "RCPT TO:<r1@x>")]))
    assert own.effect is Effect.LIMITED and own.arrived.startswith("RCPT 2")
    assert recipients_check(_rcpts([_ok(), _ok()]), None).effect is Effect.NOT_TESTED


def test_header_fields_added_removed_and_rewritten() -> None:
    sent = b"From: a\r\nSubject: s\r\nX-Drop: 1\r\n\r\nbody\r\n"
    got = b"Received: by box\r\nFrom: a\r\nSubject: [EXT] s\r\n\r\nbody\r\n"
    headers, body = message_parts(sent)
    session = _session(message_sha256="sent", message_headers=headers, message_body_sha256=body)
    effects = {c.check: c.effect for c in header_checks(session, _record(messages=(_seen(got),)))}
    assert effects == {
        "header Received": Effect.INJECTED,
        "header Subject": Effect.CHANGED,
        "header X-Drop": Effect.REMOVED,
    }


def test_concurrent_sessions_greeted_or_refused() -> None:
    ehlo = Reply(250, ("box",))
    busy = Reply(421, ("4.7.0 too many connections",))
    all_in = _session(
        name="concurrency", exchanges=tuple(Exchange(f"c-{i}", "EHLO", ehlo) for i in range(4))
    )
    assert concurrency_check(all_in, []).effect is Effect.PASSED
    two = _session(
        name="concurrency",
        exchanges=(
            Exchange("c-1", "EHLO", ehlo),
            Exchange("c-2", "EHLO", busy),
            Exchange("c-3", "EHLO", None),
        ),
    )
    check = concurrency_check(two, [])
    assert (
        check.effect is Effect.LIMITED
        and "421" in check.detail
        and check.arrived.startswith("1 greeted")
    )


def test_the_declared_size_limit_and_whose_it_is() -> None:
    big = Reply(552, ("5.3.4 Message size exceeds fixed limit",), "5.3.4")
    line = "MAIL FROM:<t@probe.invalid> SIZE=11"
    exchanges = (
        Exchange("SIZE 20", "MAIL FROM:<t@probe.invalid> SIZE=20", big),
        Exchange("SIZE 10", "MAIL FROM:<t@probe.invalid> SIZE=10", _ok()),
        Exchange("SIZE 11", line, big),
    )
    session = _session(name="size", exchanges=exchanges)
    own = size_check(session, [])
    assert own.effect is Effect.LIMITED and own.sent == "SIZE=11" and "own limit" in own.detail
    far = _record(
        [(Side.CLIENT, line), (Side.SERVER, "552 5.3.4 Message size exceeds fixed limit")]
    )
    assert size_check(session, [far]).effect is Effect.PASSED
    busy = (Exchange("SIZE 20", line, Reply(421, ("4.7.0 too many connections",), "4.7.0")),)
    assert size_check(_session(name="size", exchanges=busy), []).effect is Effect.NOT_TESTED
