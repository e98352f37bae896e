"""The two ends of a firewall test compared: what the client sent and saw (`ClientSession`)
against what the listener behind the box recorded (`SessionRecord`), one `FirewallCheck` per
banner, capability, command, STARTTLS and message. Pure: records in, verdicts out.

Commands are matched in order: a line that arrived verbatim passed (its answer compared with
the client's), a line of the same verb in its place was rewritten, and a line that never arrived
was blocked (the client got an answer: the box gave it) or dropped (it got none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from probe.analyze.firewall_content import header_checks, message_check, timing_check
from probe.analyze.firewall_effects import meanings, rated
from probe.analyze.firewall_limits import concurrency_check, recipients_check, size_check
from probe.analyze.firewall_smuggling import smuggling_check
from probe.model.firewall import ClientSession, Effect, Exchange, FirewallCheck, FirewallResult
from probe.model.listener import SessionRecord, Side
from probe.model.smtp import Outcome, Reply
from probe.model.status import worst
from probe.model.verdict import CheckLevel
from probe.smtp import replies


def join(
    sessions: Sequence[ClientSession], records: Sequence[SessionRecord]
) -> dict[str, SessionRecord]:
    """Each client session's record: the newest one that carries its tag, in a line it received
    or in a header field of a message (a box may rewrite the EHLO name and the sender, and
    change the case of either)."""
    joined: dict[str, SessionRecord] = {}
    for record in records:
        texts = [line.text.casefold() for line in record.client_lines()]
        texts += [field.casefold() for m in record.messages for field in m.headers]
        for session in sessions:
            tag = session.tag.casefold()
            if any(tag in text for text in texts):
                joined[session.name] = record
    return joined


SAME_COMMAND = {"BDAT": ("DATA",)}  # a box may pass a message on with another command


def _verb(line: str) -> str:
    return line.split(" ", 1)[0].upper()


def _turns(record: SessionRecord) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The greeting's lines, and each client line with the reply lines the listener sent to it."""
    greeting: list[str] = []
    turns: list[tuple[str, list[str]]] = []
    for line in record.lines:
        if line.side is Side.CLIENT:
            turns.append((line.text, []))
        elif turns:
            turns[-1][1].append(line.text)
        else:
            greeting.append(line.text)
    return greeting, turns


def _reply_of(lines: Sequence[str]) -> Reply | None:
    builder = replies.ReplyBuilder()
    try:
        for raw in lines:
            if builder.add(raw.encode("utf-8", "surrogateescape")):
                return builder.reply()
    except ValueError:
        return None
    return None


def _same(a: Reply | None, b: Reply | None) -> bool:
    return a is not None and b is not None and (a.code, a.lines) == (b.code, b.lines)


def _wire(reply: Reply | None) -> str:
    return " / ".join(replies.wire_lines(reply)) if reply is not None else "(no answer)"


# --------------------------------------------------------------------------- banner


def banner_check(session: ClientSession, record: SessionRecord) -> FirewallCheck:
    greeting, _ = _turns(record)
    far = _reply_of(greeting)
    seen = session.conversation.banner
    sent, arrived = _wire(far), _wire(seen)
    if far is None or seen is None:
        effect = Effect.NOT_ARRIVED
    elif _same(far, seen):
        effect = Effect.PASSED
    elif _masks(" ".join(far.lines), " ".join(seen.lines)):
        effect = Effect.MASKED
    else:
        effect = Effect.REPLACED
    return FirewallCheck("banner", session.name, sent, arrived, effect)


def _masks(original: str, seen: str) -> bool:
    """`seen` is `original` with some characters turned into `*` (and at least one)."""
    if len(original) != len(seen) or original == seen:
        return False
    return all(a == b or b == "*" for a, b in zip(original, seen, strict=True))


# --------------------------------------------------------------------------- capabilities


def _ehlo_offered(record: SessionRecord) -> tuple[str, ...]:
    """The keywords the listener offered to the session's first EHLO."""
    _, turns = _turns(record)
    for text, lines in turns:
        if _verb(text) == "EHLO":
            return replies.capabilities(_reply_of(lines))
    return ()


def capability_checks(session: ClientSession, record: SessionRecord) -> list[FirewallCheck]:
    offered = _ehlo_offered(record)
    seen = session.conversation.capabilities
    names_off = [c.partition(" ")[0].upper() for c in offered]
    names_seen = [c.partition(" ")[0].upper() for c in seen]
    checks: list[FirewallCheck] = []
    added = [i for i, n in enumerate(names_seen) if n not in names_off]
    for i, name in enumerate(names_off):
        label = f"capability {name}"
        if name in names_seen:
            got = seen[names_seen.index(name)]
            same = " ".join(got.split()[1:]) == " ".join(offered[i].split()[1:])
            effect = Effect.PASSED if same else Effect.CHANGED
            checks.append(FirewallCheck(label, session.name, offered[i], got, effect))
            continue
        twin = _renamed_as(i, name, added, names_seen, len(names_off))
        if twin is None:
            checks.append(FirewallCheck(label, session.name, offered[i], "-", Effect.REMOVED))
        else:
            added.remove(twin)
            check = FirewallCheck(label, session.name, offered[i], seen[twin], Effect.RENAMED)
            checks.append(check)
    for j in added:
        name = names_seen[j]
        checks.append(FirewallCheck(f"capability {name}", session.name, "-", seen[j], Effect.ADDED))
    return checks


def _renamed_as(
    index: int, name: str, added: list[int], names_seen: list[str], count: int
) -> int | None:
    """The added keyword that stands where `name` stood (the same place in a list of the same
    length, or the first unpaired one of its length)."""
    if len(names_seen) == count and index in added:
        return index
    return next((j for j in added if len(names_seen[j]) == len(name)), None)


# --------------------------------------------------------------------------- commands


def command_checks(session: ClientSession, record: SessionRecord | None) -> list[FirewallCheck]:
    """Each extra command against what reached the listener (None: nothing of the session)."""
    turns = _turns(record)[1] if record is not None else []
    cursor = 0
    checks: list[FirewallCheck] = []
    later = [e.line for e in session.exchanges]
    for k, exchange in enumerate(session.exchanges):
        rest = later[k + 1 :]
        found = next((i for i in range(cursor, len(turns)) if turns[i][0] == exchange.line), None)
        if found is not None:
            cursor = found + 1
            checks.append(_arrived(session, exchange, turns[found][1]))
            continue
        here = turns[cursor] if cursor < len(turns) else None
        verbs = (_verb(exchange.line), *SAME_COMMAND.get(_verb(exchange.line), ()))
        if here is not None and _verb(here[0]) in verbs and here[0] not in rest:
            cursor += 1
            checks.append(
                _check(session, exchange, _short(here[0]), Effect.REWRITTEN, _wire(exchange.reply))
            )
            continue
        effect = Effect.BLOCKED if exchange.reply is not None else Effect.DROPPED
        detail = f"the box answered {_wire(exchange.reply)}" if exchange.reply else ""
        checks.append(_check(session, exchange, "-", effect, detail))
    return checks


def _arrived(session: ClientSession, exchange: Exchange, lines: list[str]) -> FirewallCheck:
    far = _reply_of(lines)
    if _same(far, exchange.reply):
        return _check(session, exchange, _short(exchange.line), Effect.PASSED, _wire(far))
    detail = f"the far side answered {_wire(far)}, the client got {_wire(exchange.reply)}"
    return _check(session, exchange, _short(exchange.line), Effect.REPLY_CHANGED, detail)


def _check(
    session: ClientSession, exchange: Exchange, arrived: str, effect: Effect, detail: str
) -> FirewallCheck:
    label = f"command {exchange.name}" + (" (pipelined)" if exchange.pipelined else "")
    return FirewallCheck(label, session.name, _short(exchange.line), arrived, effect, detail)


def _short(line: str, most: int = 60) -> str:
    return line if len(line) <= most else f"{line[: most - 20]}... ({len(line)} octets)"


# --------------------------------------------------------------------------- STARTTLS, message


def starttls_check(session: ClientSession, record: SessionRecord) -> FirewallCheck:
    offered = any(c.upper() == "STARTTLS" for c in _ehlo_offered(record))
    tls = session.conversation.tls
    seen_cert = tls.certificate.sha256 if tls.certificate else ""
    far_cert = record.tls_certificate_sha256
    sent = f"STARTTLS, certificate {far_cert[:16]}" if offered else "no STARTTLS offered"
    if not offered:
        return FirewallCheck("starttls", session.name, sent, "-", Effect.NOT_TESTED)
    if not tls.offered:
        return FirewallCheck("starttls", session.name, sent, "not offered", Effect.STRIPPED)
    if not tls.handshake_ok and record.tls_protocol is None and tls.error[:1].isdigit():
        # the STARTTLS command itself was refused (a reply code, not a handshake error)
        return FirewallCheck("starttls", session.name, sent, tls.error, Effect.STRIPPED)
    if not tls.handshake_ok:
        return FirewallCheck("starttls", session.name, sent, tls.error, Effect.TLS_FAILED)
    arrived = f"{tls.protocol}, certificate {seen_cert[:16]}"
    if record.tls_protocol is not None and seen_cert and seen_cert == far_cert:
        return FirewallCheck("starttls", session.name, sent, arrived, Effect.END_TO_END)
    detail = "the listener saw no TLS" if record.tls_protocol is None else "another certificate"
    return FirewallCheck("starttls", session.name, sent, arrived, Effect.TERMINATED, detail)


# --------------------------------------------------------------------------- the whole test


def _own_check(
    session: ClientSession, record: SessionRecord | None, records: Sequence[SessionRecord]
) -> FirewallCheck | None:
    """The one row of a session that is a check of its own (recipients, concurrency, an
    end-of-data look-alike), with or without a record of it; None for the other sessions."""
    if session.name == "recipients":
        return recipients_check(session, record)
    if session.name == "concurrency":
        return concurrency_check(session, records)
    if session.name == "size":
        return size_check(session, records)
    if session.name.startswith("smuggle "):
        return smuggling_check(session, record)
    return None


def session_checks(
    session: ClientSession, record: SessionRecord, records: Sequence[SessionRecord]
) -> list[FirewallCheck]:
    checks = [banner_check(session, record), *capability_checks(session, record)]
    if session.name == "starttls":
        checks.append(starttls_check(session, record))
    own = _own_check(session, record, records)
    if own is not None:
        return [*checks, own]
    checks += command_checks(session, record)
    more = [message_check(session, record), timing_check(session, record)]
    return checks + header_checks(session, record) + [c for c in more if c is not None]


def unjoined_checks(
    session: ClientSession, records: Sequence[SessionRecord], others_arrived: bool
) -> list[FirewallCheck]:
    """A session the listener has no record of: not tested (the client skipped it), or its
    own check, or it never arrived and (once other records did) its commands were the box's."""
    own = _own_check(session, None, records)
    if own is not None:
        return [own]
    why = session.conversation.reason
    effect = (
        Effect.NOT_TESTED
        if session.conversation.outcome is Outcome.SKIPPED
        else (Effect.NOT_ARRIVED)
    )
    checks = [FirewallCheck("session", session.name, session.tag, "-", effect, why)]
    if others_arrived and effect is Effect.NOT_ARRIVED:
        checks += command_checks(session, None)
    return checks


def summary(checks: Sequence[FirewallCheck]) -> tuple[str, ...]:
    """Short phrases of what the box did, once each: `masks banner`, `STARTTLS replaced by
    XXXXXXXA`, `blocks EXPN`; `changes nothing` when every check passed."""
    phrases: list[str] = []
    for check in checks:
        phrase = _phrase(check)
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return tuple(phrases) or ("changes nothing",)


def _phrase(check: FirewallCheck) -> str:
    template = meanings()[check.effect].phrase
    subject = check.check.split(" ", 1)[-1]
    return template.format(
        subject=subject,
        verb=_verb(check.sent),
        arrived=check.arrived,
        detail=check.detail,
        check=check.check,
        what=f"the {check.session} session"
        if check.check == "session"
        else f"the {check.check} of the {check.session} session",
    )


def _once(checks: list[FirewallCheck]) -> list[FirewallCheck]:
    """The banner and capabilities come with every session: a row that says what an earlier
    session's row said is left out (a box that treats sessions differently still shows)."""
    seen: set[tuple[str, str, str, Effect]] = set()
    kept = []
    for check in checks:
        key = (check.check, check.sent, check.arrived, check.effect)
        if check.check == "banner" or check.check.startswith("capability "):
            if key in seen:
                continue
            seen.add(key)
        kept.append(check)
    return kept


def compare(
    target: str,
    token: str,
    sessions: Sequence[ClientSession],
    records: Sequence[SessionRecord],
    levels: Mapping[str, CheckLevel] | None = None,
) -> FirewallResult:
    """Every check of every session; the status is the worst check's, rated by a profile's
    `levels` where given."""
    joined = join(sessions, records)
    checks: list[FirewallCheck] = []
    unjoined: list[str] = []
    for session in sessions:
        record = joined.get(session.name)
        if record is None:
            unjoined.append(session.name)
            checks += unjoined_checks(session, records, bool(joined))
            continue
        checks += session_checks(session, record, records)
    checks = _once(checks)
    status = worst(rated(check.effect, levels) for check in checks)
    return FirewallResult(
        target, token, tuple(sessions), tuple(checks), summary(checks), status, tuple(unjoined)
    )
