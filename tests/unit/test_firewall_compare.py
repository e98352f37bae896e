"""The comparison of a firewall test's two halves, on records of real runs (tests/data/firewall:
the battery through the lab's ASA proxy and through a plain TCP forwarder, both with
`probe listen` behind; rewritten by tests/lab/test_firewall.py under PROBE_UPDATE_GOLDEN=1),
and on those records changed the way other boxes change them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from probe.analyze.firewall import compare, join
from probe.analyze.firewall_effects import meanings
from probe.model.firewall import ClientSession, Effect, FirewallResult
from probe.model.json import from_data, to_data
from probe.model.listener import SessionLine, SessionRecord, Side
from probe.model.smtp import Reply
from probe.model.status import Status
from probe.model.verdict import CheckLevel
from probe.report.firewall import render_firewall

DATA = Path(__file__).parent.parent / "data" / "firewall"


def _halves(box: str) -> tuple[tuple[ClientSession, ...], tuple[SessionRecord, ...]]:
    data = json.loads((DATA / f"{box}.json").read_text())
    sessions = tuple(from_data(ClientSession, s) for s in data["sessions"])
    records = tuple(from_data(SessionRecord, r) for r in data["records"])
    return sessions, records


def _effects(result: FirewallResult) -> dict[str, Effect]:
    return {f"{c.session} {c.check}": c.effect for c in result.checks}


def _replace_session(
    sessions: tuple[ClientSession, ...], name: str, **changes: object
) -> tuple[ClientSession, ...]:
    return tuple(dataclasses.replace(s, **changes) if s.name == name else s for s in sessions)


def _replace_record(
    sessions: tuple[ClientSession, ...],
    records: tuple[SessionRecord, ...],
    name: str,
    **changes: object,
) -> tuple[SessionRecord, ...]:
    record = join(sessions, records)[name]
    return tuple(dataclasses.replace(r, **changes) if r is record else r for r in records)


def test_every_session_is_joined_by_its_tag() -> None:
    for box in ("asa", "forwarder"):
        sessions, records = _halves(box)
        assert set(join(sessions, records)) == {"plain", "starttls", "commands"}


def test_the_asa_proxy() -> None:
    sessions, records = _halves("asa")
    result = compare("box:25", "t", sessions, records)
    assert result.summary == (
        "masks banner",
        "STARTTLS replaced by XXXXXXXA",
        "SMTPUTF8 replaced by XXXXXXXB",
        "strips STARTTLS",
        "blocks EXPN",
        "blocks XPROBE",
        "blocks BDAT",
        "blocks STARTTLS",
    )
    effects = _effects(result)
    assert effects["plain banner"] is Effect.MASKED
    assert effects["commands command HELP"] is Effect.PASSED
    assert result.status is Status.CRITICAL  # STARTTLS stripped
    assert from_data(FirewallResult, json.loads(json.dumps(to_data(result)))) == result


def test_the_forwarder_changes_nothing() -> None:
    sessions, records = _halves("forwarder")
    result = compare("box:25", "t", sessions, records)
    assert result.summary == ("changes nothing",)
    assert result.status is Status.OK
    assert _effects(result)["starttls starttls"] is Effect.END_TO_END
    # each capability once, not once per session
    assert sum(c.check == "capability PIPELINING" for c in result.checks) == 1


def test_a_box_that_terminates_tls_shows_another_certificate() -> None:
    sessions, records = _halves("forwarder")
    tls = next(s for s in sessions if s.name == "starttls").conversation.tls
    assert tls.certificate is not None
    own = dataclasses.replace(tls.certificate, sha256="00" * 32)
    conversation = dataclasses.replace(
        next(s for s in sessions if s.name == "starttls").conversation,
        tls=dataclasses.replace(tls, certificate=own),
    )
    changed = _replace_session(sessions, "starttls", conversation=conversation)
    result = compare("box:25", "t", changed, records)
    assert _effects(result)["starttls starttls"] is Effect.TERMINATED
    assert "terminates STARTTLS" in result.summary


def test_a_rewritten_command_and_a_changed_reply() -> None:
    sessions, records = _halves("forwarder")
    record = join(sessions, records)["commands"]
    lines = list(record.lines)
    vrfy = next(i for i, line in enumerate(lines) if line.text.startswith("VRFY"))
    lines[vrfy] = dataclasses.replace(lines[vrfy], text="VRFY <somebody@else.example>")
    help_reply = next(i for i, line in enumerate(lines) if line.text.startswith("250 Supported"))
    lines[help_reply] = dataclasses.replace(lines[help_reply], text="214 2.0.0 other help")
    changed = _replace_record(sessions, records, "commands", lines=tuple(lines))
    effects = _effects(compare("box:25", "t", sessions, changed))
    assert effects["commands command VRFY"] is Effect.REWRITTEN
    assert effects["commands command HELP"] is Effect.REPLY_CHANGED
    assert effects["commands command EXPN"] is Effect.PASSED


def test_capabilities_removed_added_and_changed() -> None:
    sessions, records = _halves("forwarder")
    plain = next(s for s in sessions if s.name == "plain")
    caps = [c for c in plain.conversation.capabilities if c != "ETRN"]
    caps = ["SIZE 1000" if c.startswith("SIZE") else c for c in caps] + ["CHUNKING"]
    conversation = dataclasses.replace(plain.conversation, capabilities=tuple(caps))
    changed = _replace_session(sessions, "plain", conversation=conversation)
    result = compare("box:25", "t", changed, records)
    effects = _effects(result)
    assert effects["plain capability ETRN"] is Effect.REMOVED
    assert effects["plain capability SIZE"] is Effect.CHANGED
    assert effects["plain capability CHUNKING"] is Effect.ADDED
    assert {"removes ETRN", "changes SIZE", "adds CHUNKING"} <= set(result.summary)


def test_a_replaced_banner_and_an_altered_message() -> None:
    sessions, records = _halves("forwarder")
    plain = next(s for s in sessions if s.name == "plain")
    banner = Reply(220, ("gateway.example ESMTP ready",))
    conversation = dataclasses.replace(plain.conversation, banner=banner)
    changed = _replace_session(sessions, "plain", conversation=conversation)
    record = join(sessions, records)["plain"]
    message = dataclasses.replace(record.messages[0], sha256="ff" * 32, size=999)
    altered = _replace_record(sessions, records, "plain", messages=(message,))
    effects = _effects(compare("box:25", "t", changed, altered))
    assert effects["plain banner"] is Effect.REPLACED
    assert effects["plain message"] is Effect.ALTERED


def test_a_dropped_command_and_a_missing_session() -> None:
    sessions, records = _halves("forwarder")
    commands = next(s for s in sessions if s.name == "commands")
    exchanges = list(commands.exchanges)
    # the box cut the connection at EXPN: no answer, and it never reached the listener
    expn = next(i for i, e in enumerate(exchanges) if e.name == "EXPN")
    exchanges[expn] = dataclasses.replace(exchanges[expn], reply=None)
    record = join(sessions, records)["commands"]
    kept = tuple(line for line in record.lines if not line.text.startswith("EXPN"))
    changed = _replace_session(sessions, "commands", exchanges=tuple(exchanges))
    dropped = _replace_record(sessions, records, "commands", lines=kept)
    plain = join(sessions, records)["plain"]
    dropped = tuple(r for r in dropped if r is not plain)
    result = compare("box:25", "t", changed, dropped)
    effects = _effects(result)
    assert effects["commands command EXPN"] is Effect.DROPPED
    assert effects["plain session"] is Effect.NOT_ARRIVED
    assert result.unjoined == ("plain",)
    assert result.status is Status.UNKNOWN


def test_a_session_the_box_kept_to_itself() -> None:
    # a store-and-forward box: the commands session never reached the listener, so every
    # command it answered was answered by the box; none is blocked while no record arrives
    sessions, records = _halves("forwarder")
    commands = join(sessions, records)["commands"]
    effects = _effects(compare("box:25", "t", sessions, [r for r in records if r is not commands]))
    assert effects["commands session"] is Effect.NOT_ARRIVED
    assert effects["commands command HELP"] is Effect.BLOCKED
    assert effects["commands command RSET (pipelined)"] is Effect.BLOCKED
    nothing = _effects(compare("box:25", "t", sessions, []))
    assert not any(name.startswith("commands command") for name in nothing)


def test_hostile_record_text_is_data() -> None:
    sessions, records = _halves("forwarder")
    hostile = SessionRecord(
        server="x",
        peer="127.0.0.1",
        peer_port=1,
        local="127.0.0.1",
        local_port=2,
        connected_at=records[0].connected_at,
        duration_ms=1.0,
        lines=(
            SessionLine(0.0, Side.CLIENT, "\x1b[2J" + sessions[0].tag, 10),
            SessionLine(0.1, Side.SERVER, "garbage \x00", 10),
        ),
    )
    result = compare("box:25", "t", sessions, (*records, hostile))
    assert _effects(result)["plain banner"] is Effect.NOT_ARRIVED  # the newest record wins
    assert "\x1b" not in render_firewall(result) and "\x00" not in render_firewall(result)


def test_every_effect_has_a_status_and_every_change_a_phrase() -> None:
    table = meanings()
    assert set(table) == set(Effect)
    for effect, meaning in table.items():
        assert bool(meaning.phrase) == (meaning.status is not Status.OK), effect


def test_a_profile_rates_the_checks_it_names() -> None:
    sessions, records = _halves("asa")
    assert compare("box:25", "t", sessions, records).status is Status.CRITICAL  # stripped
    calm = {"starttls-stripped": CheckLevel.IGNORE, "banner-masked": CheckLevel.IGNORE}
    rated = compare("box:25", "t", sessions, records, calm)
    assert rated.status is Status.WARNING  # the renamed keywords and blocked commands remain
    strict = {"banner-masked": CheckLevel.CRITICAL, "starttls-stripped": CheckLevel.IGNORE}
    assert compare("box:25", "t", sessions, records, strict).status is Status.CRITICAL


def test_a_session_is_joined_by_its_message_when_the_box_rewrites_the_envelope() -> None:
    sessions, records = _halves("forwarder")
    plain = join(sessions, records)["plain"]
    tag = next(s.tag for s in sessions if s.name == "plain")
    lines = tuple(
        dataclasses.replace(line, text=line.text.replace(tag, "srs0=x=y")) for line in plain.lines
    )
    seen = dataclasses.replace(
        plain.messages[0], headers=(f"Subject: probe firewall {tag.upper()}",)
    )
    rewritten = _replace_record(sessions, records, "plain", lines=lines, messages=(seen,))
    assert join(sessions, rewritten)["plain"].lines == lines
