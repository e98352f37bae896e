"""Decide, per hop, what it does to mail: pure rules over a run's observations.

The path is the visible hops of the reference copy's Received trace (origin first), with
invisible boxes inferred only where evidence demands them: "in front of" the first MTA (the box
answering on the MX address is not the MTA the trace names, or it injected a header below every
Received line) or "between" two MTAs. Each rule in `decide_rules` returns placed findings; this
module assembles them into `HopVerdict`s in path order. No evidence, no verdict: a clean run
yields "no hop interferes" with what was tested.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping

from probe.arrivals import Arrival, ArrivalStatus
from probe.craft import VariantSpec
from probe.model import DeliveredCopy, Outcome, Status, worst
from probe.received import header_fields, parse_received
from probe.runresult import RunResult, VariantAnalysis
from probe.sendresult import VariantSend
from probe.verdict import Action, Decision, Evidence, HopAction, HopVerdict

# Default severity of each action when the profile does not say (profile `checks`).
DEFAULT_SEVERITY: Mapping[str, str] = {
    Action.REJECTS: "critical",
    Action.BOUNCES: "critical",
    Action.DROPS: "critical",
    Action.STRIPS_TLS: "critical",
    Action.JUNKS: "warning",
    Action.REWRITES: "warning",
    Action.LOSES_TLS: "warning",
    Action.MASKS: "warning",
    Action.DELAYS: "warning",
    Action.SCANS: "ignore",
    Action.INJECTS: "ignore",
    Action.GREYLISTS: "ignore",
    "size-above-advertised": "ignore",
}
_LEVEL = {"critical": Status.CRITICAL, "warning": Status.WARNING, "ignore": Status.OK}
_SEVERITY_RANK = {Status.CRITICAL: 3, Status.UNKNOWN: 2, Status.WARNING: 1, Status.OK: 0}


@dataclasses.dataclass(frozen=True)
class Placed:
    """One rule's conclusion about one hop (`action` None: product evidence only)."""

    hop: str  # hop key: "<host>", "front:<host>", "link:<a>-><b>", "after:<host>"
    action: HopAction | None = None
    products: tuple[str, ...] = ()
    product_evidence: tuple[Evidence, ...] = ()
    ambiguous: str = ""


@dataclasses.dataclass(frozen=True)
class Context:
    """A run's observations, indexed for the rules."""

    run: RunResult
    sends: tuple[VariantSend, ...]
    specs: Mapping[str, VariantSpec]
    analyses: Mapping[str, VariantAnalysis]
    arrivals: Mapping[str, ArrivalStatus]
    copies: Mapping[str, DeliveredCopy]
    path: tuple[str, ...]  # visible hops (Received `by` names), origin first
    mx_host: str
    first_received: str = ""  # the oldest Received value of the reference copy

    @property
    def hop1(self) -> str:
        return self.path[0] if self.path else self.mx_host

    @property
    def control(self) -> VariantSend | None:
        return next((s for s in self.sends if s.variant == "control"), None)

    @property
    def collected(self) -> bool:
        return self.run.collect is not None

    def delivered(self, probe_id: str) -> bool:
        arrival = self.arrivals.get(probe_id)
        return arrival is not None and arrival.status is Arrival.DELIVERED


def front(host: str) -> str:
    return f"front:{host}"


def link(a: str, b: str) -> str:
    return f"link:{a}->{b}"


def hop_name(key: str) -> tuple[str, bool]:
    """A hop key -> (what a human reads, visible)."""
    kind, _, rest = key.partition(":")
    if kind == "front" and rest:
        return f"a box in front of {rest}", False
    if kind == "link" and rest:
        a, _, b = rest.partition("->")
        return f"a box between {a} and {b}", False
    if kind == "after" and rest:
        return f"a hop after {rest}", False
    return key, True


def build_context(run: RunResult) -> Context:
    sends = tuple(s for s in run.variants if not s.interrupted or s.attempts)
    analyses = {a.probe_id: a for a in run.analyses}
    arrivals = {s.probe_id: s for s in run.collect.statuses} if run.collect else {}
    copies: dict[str, DeliveredCopy] = {}
    for copy in run.collect.delivered if run.collect else ():
        copies.setdefault(copy.probe_id, copy)
    mx_host = _answering_host(run)
    return Context(
        run=run,
        sends=sends,
        specs={s.id: s for s in run.specs},
        analyses=analyses,
        arrivals=arrivals,
        copies=copies,
        path=_reference_path(sends, copies),
        mx_host=mx_host,
        first_received=_first_received(sends, copies),
    )


def _answering_host(run: RunResult) -> str:
    """Hop 1's name: the MX host, or for an address (--via 192.0.2.1) the name its banner gives."""
    convs = [run.hop1] if run.hop1 is not None else []
    convs += [a for s in run.variants for a in s.attempts]
    for conv in convs:
        host = conv.host.rstrip(".").lower()
        if not _is_address(host):
            return host
        words = conv.banner.text.split() if conv.banner is not None else []
        if words and "." in words[0] and not _is_address(words[0]) and "*" not in words[0]:
            return words[0].rstrip(".").lower()
        return host
    return run.domain


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _reference_path(
    sends: Iterable[VariantSend], copies: Mapping[str, DeliveredCopy]
) -> tuple[str, ...]:
    """Visible hops from the control's copy (else the first copy), origin first."""
    ordered = sorted(sends, key=lambda s: s.variant != "control")
    for send in ordered:
        copy = copies.get(send.probe_id)
        if copy is not None:
            return received_path(copy.raw)
    return ()


def _first_received(sends: Iterable[VariantSend], copies: Mapping[str, DeliveredCopy]) -> str:
    for send in sorted(sends, key=lambda s: s.variant != "control"):
        copy = copies.get(send.probe_id)
        if copy is not None:
            values = [v for n, v in header_fields(copy.raw) if n.lower() == "received"]
            return values[-1] if values else ""
    return ""


def received_path(raw: bytes) -> tuple[str, ...]:
    """The `by` hosts of a message's Received headers, origin first, repeats folded."""
    names: list[str] = []
    for name, value in reversed(header_fields(raw)):
        if name.lower() != "received":
            continue
        by = parse_received(value).by_host
        if by:
            by = by.rstrip(".").lower()
            if not names or names[-1] != by:
                names.append(by)
    return tuple(names)


def severity(action: HopAction, checks: Mapping[str, str]) -> Status:
    """The profile's level for the action's check, else for the action, else the default."""
    level = checks.get(action.check) or DEFAULT_SEVERITY.get(action.check) if action.check else None
    level = level or checks.get(str(action.action)) or DEFAULT_SEVERITY.get(action.action)
    return _LEVEL.get(level or "warning", Status.OK)


def decide(run: RunResult) -> Decision:
    from probe.decide_rules import RULES

    ctx = build_context(run)
    unreached = _not_measured(ctx)
    if unreached:
        return Decision(
            hops=(),
            clean=False,
            tested=_tested(ctx),
            headline=(unreached,),
            status=Status.UNKNOWN,
            notes=_notes(ctx),
        )
    checks = dict(run.checks)
    placed: list[Placed] = []
    for rule in RULES:
        placed.extend(rule(ctx))
    placed = [
        dataclasses.replace(
            p,
            action=dataclasses.replace(p.action, severity=severity(p.action, checks)),
        )
        if p.action is not None
        else p
        for p in placed
    ]
    hops = _assemble(ctx, placed)
    acting = [h for h in hops if h.actions]
    status = worst(a.severity for h in hops for a in h.actions)
    tested = _tested(ctx)
    notes = _notes(ctx)
    if acting:
        headline = tuple(_headline(h) for h in acting)
    else:
        headline = (f"No hop interferes: {'; '.join(tested)}.",)
    return Decision(
        hops=hops,
        clean=not acting,
        tested=tested,
        headline=headline,
        status=status,
        notes=notes,
    )


def _not_measured(ctx: Context) -> str:
    """A headline when no conversation got as far as a banner: nothing to decide on."""
    attempts = [a for s in ctx.sends for a in s.attempts]
    if ctx.run.hop1 is not None:
        attempts.append(ctx.run.hop1)
    if not attempts or any(a.banner is not None and a.banner.valid for a in attempts):
        return ""
    first = attempts[0]
    return (
        f"Nothing measured: no MX answered ({first.outcome} at {first.stage}"
        f"{': ' + first.reason if first.reason else ''})"
    )


def _assemble(ctx: Context, placed: list[Placed]) -> tuple[HopVerdict, ...]:
    order = _path_order(ctx, {p.hop for p in placed})
    by_key: dict[str, list[Placed]] = {}
    for p in placed:
        by_key.setdefault(p.hop, []).append(p)
    hops = []
    for key in order:
        items = by_key.get(key, [])
        name, visible = hop_name(key)
        products = _unique(prod for p in items for prod in p.products)
        if not visible and products and key.startswith("front:"):
            name = (
                f"a {products[0].split(' (')[0].split(' or ')[0]}-style SMTP proxy in front of "
                f"{key.partition(':')[2]}"
            )
        if not visible and not items:
            continue
        hops.append(
            HopVerdict(
                key=key,
                name=name,
                visible=visible,
                products=products,
                product_evidence=tuple(e for p in items for e in p.product_evidence),
                actions=tuple(
                    sorted(
                        (p.action for p in items if p.action is not None),
                        key=lambda a: -_SEVERITY_RANK[a.severity],
                    )
                ),
                ambiguous="; ".join(_unique(p.ambiguous for p in items if p.ambiguous)),
            )
        )
    return tuple(hops)


def _path_order(ctx: Context, keys: set[str]) -> list[str]:
    path = list(ctx.path) or [ctx.mx_host]
    order = [front(path[0])]
    for i, host in enumerate(path):
        order.append(host)
        order.append(f"after:{host}")
        if i + 1 < len(path):
            order.append(link(host, path[i + 1]))
    return order + sorted(keys - set(order))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return tuple(seen)


def _headline(hop: HopVerdict) -> str:
    who = hop.name
    if hop.products and not any(p.split(" (")[0] in hop.name for p in hop.products):
        who = f"{hop.name} ({'; '.join(hop.products)})"
    parts = [a.summary for a in hop.actions]
    return f"{who}: " + "; ".join(parts)


def _tested(ctx: Context) -> tuple[str, ...]:
    sent = [s for s in ctx.sends if s.outcome is not Outcome.SKIPPED]
    accepted = [s for s in sent if s.outcome is Outcome.ACCEPTED]
    facts = [f"{len(accepted)} of {len(sent)} variants accepted at hop 1 ({ctx.mx_host})"]
    if ctx.collected:
        delivered = [s for s in accepted if ctx.delivered(s.probe_id)]
        facts.append(f"{len(delivered)} delivered and compared with what was sent")
    else:
        facts.append("no mailbox given, so delivery and content were not checked")
    sizes = [s.size for s in sent if s.size]
    if sizes:
        facts.append(f"sizes {min(sizes):,} to {max(sizes):,} bytes")
    return tuple(facts)


def _notes(ctx: Context) -> tuple[str, ...]:
    notes = []
    skipped = [s for s in ctx.run.variants if s.outcome is Outcome.SKIPPED]
    for send in skipped:
        notes.append(f"{send.variant}: not tested ({send.reason or send.stage})")
    if ctx.run.interrupted:
        notes.append(f"the run was interrupted: {ctx.run.stop_reason or 'stopped early'}")
    control = ctx.control
    if control is not None and control.outcome is not Outcome.ACCEPTED:
        notes.append(
            f"the control message itself was not accepted ({control.outcome} at "
            f"{control.stage}): every other verdict rests on that"
        )
    return tuple(notes)
