"""`probe run` through one real MTA, and what a verdict on such a path may and may not say.

The runs go through the pipeline API as `probe run --via 127.0.0.1:PORT` would (no DNS), with
a profile that is a modest subset of `standard` (its sizes below 1 MiB and just above it, the
attachment types, an 8bit body), so the tier stays within its CI budget on two cores.
`accusations` lists everything a decision holds against any hop; a clean path must have none.
"""

from __future__ import annotations

from pathlib import Path

from probe.model.run import RunResult
from probe.model.smtp import Outcome
from probe.model.trace import HopKind as TraceHopKind
from probe.model.verdict import Action, Decision, HopAction, HopKind
from probe.pipeline.request import RunArgs, SendArgs, build_request
from probe.pipeline.run import perform
from probe.plan.profile_files import file_loader
from probe.plan.profiles import parse_profile

DOMAIN = "mta.probe.test"
TO = f"user@{DOMAIN}"
SENDER = f"sender@{DOMAIN}"
DEADLINE = 90.0
SIZE_LIMIT = 2 * 1024 * 1024  # every MTA of the tier refuses messages over 2 MiB

SIZE_PROFILE = """
name = "mta-size"
description = "sizes on both sides of the MTA's own 2 MiB limit"
extends = "_base"

[defaults]
min_interval = 0

[[variant]]
id = "size-1100k"
description = "1.1 MB: below the limit"
size = "1100kB"

[[variant]]
id = "size-5m"
description = "5 MB: above the limit"
size = "5MB"
"""

CLEAN_PROFILE = """
name = "mta-clean"
description = "a subset of standard: sizes around 1 MiB, the attachment types, an 8bit body"
extends = "_base"

[defaults]
min_interval = 0

[timing]  # as standard's: three sizes, three times each, the dot held until the MTA has read it
variants = ["control", "size-100k", "size-1100k"]
repeat = 3
hold = "0.25s"
hold_per_mb = "0.5s"

[[variant]]
id = "size-100k"
description = "100 kB of incompressible text"
size = "100kB"

[[variant]]
id = "size-1100k"
description = "1.1 MB of incompressible text (just above 1 MiB)"
size = "1100kB"

[[variant]]
id = "attach-zip"
description = "ZIP attachment (stored random data)"
attachments = ["zip"]

[[variant]]
id = "attach-exe"
description = "setup.exe attachment (MZ header)"
attachments = ["exe"]

[[variant]]
id = "attach-pdf"
description = "minimal PDF attachment"
attachments = ["pdf"]

[[variant]]
id = "body-8bit"
description = "8bit UTF-8 body (BODY=8BITMIME)"
encoding = "8bit"
charset = "utf-8"
"""


def probe_run(
    port: int,
    mailbox: str,
    *,
    ca_file: Path | None = None,
    profile: str = CLEAN_PROFILE,
    collect_for: float = 20.0,
    declare_size: bool = True,
) -> RunResult:
    """One `probe run` against 127.0.0.1:port, collecting from a local mailbox URL."""
    parsed = parse_profile(profile, source="<mta test profile>", loader=file_loader)
    req = build_request(
        parsed,
        SendArgs(
            DOMAIN,
            TO,
            mail_from=SENDER,
            via=("127.0.0.1", port),
            ca_file=str(ca_file) if ca_file else None,
        ),
        RunArgs(mailbox=mailbox, collect_for=collect_for, declare_size=declare_size),
        local_name="probe.invalid",
    )
    outcome = perform(req, deadline=DEADLINE)
    assert outcome.error is None, outcome.error
    return outcome.result


Allowed = tuple[tuple[str, Action], ...]  # (hop, action) that is true of a real MTA


def from_timing(action: HopAction) -> bool:
    """An action concluded from how long replies took (its own checks: tests of timing)."""
    return any(e.source == "timing" for e in action.evidence)


def accusations(
    decision: Decision | None, allowed: Allowed = (), *, timing: bool = True
) -> list[str]:
    """Everything the decision holds against a hop: each action (but those `allowed`: a real
    MTA that offers no STARTTLS; and those from timing unless `timing`), each box it infers."""
    assert decision is not None
    found: list[str] = []
    for hop in decision.hops:
        if hop.key.kind is not HopKind.AT:
            found.append(f"invented {hop.name} ({hop.key})")
        found.extend(
            f"{hop.key}: {a.action} {a.summary} [{a.rule}]"
            for a in hop.actions
            if (str(hop.key), a.action) not in allowed and (timing or not from_timing(a))
        )
    return found


def invented_products(decision: Decision | None, real: tuple[str, ...]) -> list[str]:
    """Products named on any hop that are none of the real software on the path."""
    assert decision is not None
    return [
        f"{hop.key}: {product}"
        for hop in decision.hops
        for product in hop.products
        if not any(name.lower() in product.lower() for name in real)
    ]


def assert_delivered(result: RunResult) -> None:
    """Every variant accepted by hop 1 and collected from the mailbox."""
    rejected = [(v.variant, v.reply) for v in result.variants if v.outcome is not Outcome.ACCEPTED]
    assert not rejected, rejected
    assert result.collect is not None, "nothing collected"
    assert not result.collect.missing, f"missing {result.collect.missing}"


def assert_no_box(result: RunResult, host: str) -> None:
    """The trace's hops only (no inferred box in front, between or after), `host` among them."""
    decision = result.decision
    assert decision is not None
    boxes = [a for a in accusations(decision) if a.startswith("invented ")]
    assert boxes == [], decision.headline
    assert host in {str(h.key) for h in decision.hops}, [str(h.key) for h in decision.hops]


def assert_only_real_products(result: RunResult, real: tuple[str, ...]) -> None:
    """Every product named on any hop is software that is really on the path."""
    decision = result.decision
    assert decision is not None
    assert invented_products(decision, real) == [], [(h.key, h.products) for h in decision.hops]


def assert_accuses_no_one(result: RunResult, allowed: Allowed = ()) -> None:
    """From what the replies and the messages show, no action on any hop (but those `allowed`)
    and no box inferred. Timing has its own check (`assert_no_timing_verdict`)."""
    decision = result.decision
    assert decision is not None
    assert accusations(decision, allowed, timing=False) == [], decision.headline


def assert_no_timing_verdict(result: RunResult) -> None:
    """No hop is said to scan (or anything else) because of how long its replies took."""
    decision = result.decision
    assert decision is not None
    timed = [f"{h.key}: {a.summary}" for h in decision.hops for a in h.actions if from_timing(a)]
    assert timed == [], decision.headline


def others_accused(decision: Decision | None, host: str) -> list[str]:
    """What the decision holds against any hop but `host` (boxes it infers included)."""
    assert decision is not None
    return [a for a in accusations(decision) if not a.startswith(f"{host}: ")]


def assert_first_hop_not_a_filter_loop(result: RunResult) -> None:
    """Hop 1 reached from 127.0.0.1 is the MTA probe talked to, not a content filter's
    re-injection: no copy's trace labels it loopback-filter or notes a filter loop."""
    labelled = [
        f"{a.variant}: hop 1 {a.trace.hops[0].kind}; {[n.detail for n in a.trace.notes]}"
        for a in result.analyses
        if a.trace is not None
        and a.trace.hops
        and (
            a.trace.hops[0].kind is TraceHopKind.FILTER
            or any(n.code == "filter-loop" for n in a.trace.notes)
        )
    ]
    assert result.analyses and labelled == [], labelled
