"""A check target's findings: what was measured held against what its config expects.

Each expectation gives one finding (OK when met) so the monitoring outputs can show every one;
what could not be measured is UNKNOWN with the reason, never OK. The target's status is the worst
finding; an interrupted target is at least UNKNOWN.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from probe.model.check import CheckFinding, Expectation, Expectations
from probe.model.drift import Drift, DriftKind
from probe.model.mx import MxResult, MxSource
from probe.model.run import RunResult
from probe.model.smtp import Conversation
from probe.model.snapshot import PathSnapshot
from probe.model.status import Status, worst
from probe.model.verdict import Action, HopAction

_HOP_DRIFT = {DriftKind.HOP_ADDED, DriftKind.HOP_REMOVED, DriftKind.HOP_SOFTWARE}


def _ok(expectation: Expectation, summary: str) -> CheckFinding:
    return CheckFinding(expectation, Status.OK, summary)


def _reachable(
    level: Status, mx: MxResult | None, convs: Sequence[Conversation], run: RunResult | None
) -> CheckFinding:
    if mx is None and not convs and (run is None or run.hop1 is None):
        return CheckFinding(Expectation.REACHABLE, Status.UNKNOWN, "the MX was not resolved")
    if mx is not None:  # None: a host given directly, its conversations say it all
        unresolved = _unresolved(level, mx)
        if unresolved is not None:
            return unresolved
    answered = [c for c in convs if c.greeting is not None]
    if run is not None and run.hop1 is not None and run.hop1.greeting is not None:
        answered.append(run.hop1)
    if not answered:
        tried = ", ".join(f"{c.host} ({c.address}): {c.outcome.value} at {c.stage}" for c in convs)
        return CheckFinding(
            Expectation.REACHABLE, level, f"no address answered{': ' + tried if tried else ''}"
        )
    return _ok(Expectation.REACHABLE, f"{len(answered)} address(es) answered")


def _unresolved(level: Status, mx: MxResult) -> CheckFinding | None:
    """The finding when the MX itself leaves nothing to talk to (null MX, no address)."""
    if mx.source is MxSource.NULL_MX:
        return CheckFinding(
            Expectation.REACHABLE,
            Status.CRITICAL,
            f"{mx.domain} publishes a null MX: it accepts no mail",
        )
    if not any(h.addresses for h in mx.hosts):
        failed = mx.source in (MxSource.SERVFAIL, MxSource.TIMEOUT)
        return CheckFinding(
            Expectation.REACHABLE,
            Status.UNKNOWN if failed else level,
            f"no MX address: {mx.detail or mx.source.value}",
        )
    return None


def _conversations(convs: Sequence[Conversation], run: RunResult | None) -> list[Conversation]:
    found = [c for c in convs if c.greeting is not None]
    if not found and run is not None and run.hop1 is not None and run.hop1.greeting is not None:
        found = [run.hop1]
    return found


def _starttls(level: Status, convs: list[Conversation]) -> CheckFinding:
    missing = [f"{c.host} ({c.address})" for c in convs if not c.tls.offered]
    if not convs:
        return CheckFinding(Expectation.STARTTLS, Status.UNKNOWN, "no address answered")
    if missing:
        return CheckFinding(
            Expectation.STARTTLS, level, f"STARTTLS is not offered by {', '.join(missing)}"
        )
    failed = [
        f"{c.host} ({c.address}): {c.tls.error or 'handshake failed'}"
        for c in convs
        if c.tls.attempted and not c.tls.handshake_ok
    ]
    if failed:
        return CheckFinding(Expectation.STARTTLS, level, f"STARTTLS fails at {'; '.join(failed)}")
    return _ok(Expectation.STARTTLS, f"offered by all {len(convs)} address(es)")


def _certificates(
    expect: Expectations, convs: list[Conversation], now: dt.datetime
) -> Iterator[CheckFinding]:
    limit = expect.certificate_days
    if limit is None:
        return
    seen = False
    for c in convs:
        cert = c.tls.certificate
        if cert is None:
            continue
        seen = True
        where = f"{c.host} ({c.address})"
        if cert.expired or (cert.not_after is not None and cert.not_after <= now):
            yield CheckFinding(
                Expectation.CERTIFICATE, Status.CRITICAL, f"{where}: the certificate has expired"
            )
        elif not cert.valid_for_host:
            yield CheckFinding(
                Expectation.CERTIFICATE,
                Status.CRITICAL,
                f"{where}: the certificate is not valid for {c.host}",
            )
        elif not cert.chain_verifies:
            yield CheckFinding(
                Expectation.CERTIFICATE,
                Status.WARNING,
                f"{where}: the certificate chain does not verify"
                f"{': ' + cert.verify_error if cert.verify_error else ''}",
            )
        elif cert.not_after is not None:
            days = (cert.not_after - now).total_seconds() / 86400
            level = limit.level(days)
            text = (
                f"{where}: the certificate expires in {days:.0f} days ({cert.not_after:%Y-%m-%d})"
            )
            yield CheckFinding(Expectation.CERTIFICATE, level, text)
    if not seen and any(c.tls.handshake_ok for c in convs):
        yield CheckFinding(Expectation.CERTIFICATE, Status.UNKNOWN, "no certificate was seen")


def _advertised(convs: list[Conversation]) -> list[tuple[str, int]]:
    sizes = []
    for c in convs:
        for cap in c.capabilities_after_tls or c.capabilities:
            name, _, value = cap.partition(" ")
            if name.upper() == "SIZE" and value.strip().isdigit() and int(value) > 0:
                sizes.append((f"{c.host} ({c.address})", int(value)))
    return sizes


def _max_size(
    expect: Expectations, convs: list[Conversation], snapshot: PathSnapshot | None
) -> Iterator[CheckFinding]:
    limit = expect.max_size
    if limit is None:
        return
    if snapshot is not None and snapshot.size_limit is not None:
        accepted = snapshot.size_limit - 1
        yield CheckFinding(
            Expectation.MAX_SIZE,
            limit.level(accepted),
            f"the path rejects messages of {snapshot.size_limit:,} bytes and more",
        )
    for where, size in _advertised(convs):
        level = limit.level(size)
        if level is not Status.OK:
            yield CheckFinding(Expectation.MAX_SIZE, level, f"{where} advertises SIZE {size:,}")


def _actions(
    expect: Expectations, run: RunResult | None, snapshot: PathSnapshot | None
) -> Iterator[CheckFinding]:
    """What the hops do, at the levels the target's `no_actions` gives, or else at the
    severity the run's profile gave each action (its `[checks]`): a check that sends a matrix
    reports a rejection as `probe run` does unless the config says otherwise."""
    if run is None or run.decision is None:
        return
    levels = dict(expect.no_actions)
    injected = set(snapshot.injected_headers or ()) if snapshot is not None else set()
    only_allowed = bool(injected) and injected <= set(expect.allow_injects)
    for hop in run.decision.hops:
        for action in hop.actions:
            level = levels.get(action.action) if levels else _own_level(action)
            if level is None or (action.action is Action.INJECTS and only_allowed):
                continue
            yield CheckFinding(Expectation.NO_ACTIONS, level, f"{hop.name}: {action.summary}")


# Actions another expectation rates: a missing STARTTLS is the `starttls` expectation's.
_RATED_ELSEWHERE = frozenset({Action.NO_TLS})


def _own_level(action: HopAction) -> Status | None:
    if action.action in _RATED_ELSEWHERE:
        return None
    return action.severity if action.severity in (Status.WARNING, Status.CRITICAL) else None


def _delivery(
    expect: Expectations, run: RunResult | None, snapshot: PathSnapshot | None
) -> Iterator[CheckFinding]:
    if run is None:
        return
    if expect.not_junk is not None and run.collect is not None:
        junk = [s.variant for s in run.collect.statuses if s.junk]
        if junk:
            yield CheckFinding(
                Expectation.NOT_JUNK,
                expect.not_junk,
                f"copies landed in a junk folder: {', '.join(junk)}",
            )
    limit = expect.delivered_within
    if limit is None:
        return
    if snapshot is None or snapshot.delivery_seconds is None:
        yield CheckFinding(
            Expectation.DELIVERED_WITHIN,
            Status.CRITICAL if run.collect else Status.UNKNOWN,
            "the control message did not arrive",
        )
        return
    seconds = snapshot.delivery_seconds
    yield CheckFinding(
        Expectation.DELIVERED_WITHIN, limit.level(seconds), f"delivered in {seconds:.1f} s"
    )


def _drift(expect: Expectations, drift: Drift | None) -> Iterator[CheckFinding]:
    if drift is None:
        return
    for item in drift.items:
        if item.kind in _HOP_DRIFT:
            level = expect.same_hops
            expectation = Expectation.SAME_HOPS
        elif item.kind is DriftKind.MX_SET:
            level, expectation = expect.same_mx, Expectation.SAME_MX
        else:
            level, expectation = expect.drift, Expectation.DRIFT
        if level is not None:
            yield CheckFinding(expectation, level, f"since {drift.against.value}: {item.summary}")


def evaluate(
    expect: Expectations,
    *,
    mx: MxResult | None,
    conversations: Sequence[Conversation] = (),
    run: RunResult | None = None,
    snapshot: PathSnapshot | None = None,
    drift: Drift | None = None,
    now: dt.datetime,
    interrupted: bool = False,
) -> tuple[tuple[CheckFinding, ...], Status]:
    """The findings (problems first, in a stable order) and the target's status."""
    findings = [_reachable(expect.reachable, mx, conversations, run)]
    answered = _conversations(conversations, run)
    if findings[0].status is Status.OK:
        if expect.starttls is not None:
            findings.append(_starttls(expect.starttls, answered))
        findings += _certificates(expect, answered, now)
        findings += _max_size(expect, answered, snapshot)
        findings += _actions(expect, run, snapshot)
        findings += _delivery(expect, run, snapshot)
    findings += _drift(expect, drift)
    if run is not None and run.status is Status.UNKNOWN and run.decision is None:
        findings.append(
            CheckFinding(
                Expectation.REACHABLE, Status.UNKNOWN, run.stop_reason or "the run measured nothing"
            )
        )
    status = worst(f.status for f in findings)
    if interrupted:
        status = worst((status, Status.UNKNOWN))
    ordered = sorted(findings, key=lambda f: f.status is Status.OK)
    return tuple(ordered), status
