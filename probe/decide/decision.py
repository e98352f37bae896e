"""Decide, per hop, what it does to mail: pure rules over a run's observations.

The path is the visible hops of the reference copy's Received trace (origin first), with
invisible boxes inferred only where evidence demands them: "in front of" the first MTA (the box
answering on the MX address is not the MTA the trace names, or it injected a header below every
Received line) or "between" two MTAs. Each rule in `decide.rules` returns placed findings; this
module assembles them into `HopVerdict`s in path order. No evidence, no verdict: a clean run
yields "no hop interferes" with what was tested.

When a rule's evidence cannot decide between hops, its action names the likeliest hop and the
alternatives with the reason; the assembly caps its confidence and the headline names every
candidate ("hop 2 (scan.example) most likely, or hop 1 (mx.example): ..."). The verdict does not
depend on the order of the run's observations: they are put in one canonical order first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from probe.analyze.run import PARSERS, Parsers, analyze_run, failure
from probe.decide.context import Context, Placed, build_context, named_first
from probe.decide.rules.common import Rule
from probe.decide.rules.registry import RULES
from probe.decide.severity import severity
from probe.model.run import AnalysisPart, RunResult
from probe.model.smtp import Outcome
from probe.model.status import Status, rank, worst
from probe.model.verdict import (
    AMBIGUOUS_CONFIDENCE,
    CheckLevel,
    Decision,
    HopAction,
    HopKey,
    HopKind,
    HopVerdict,
)


def judge(result: RunResult, parsers: Parsers = PARSERS) -> RunResult:
    """Analyse the copies and decide: the pure half of `probe run`, and all of `probe analyze`."""
    analysed = dataclasses.replace(result, analyses=analyze_run(result, parsers))
    decision = decide(analysed, parsers)
    return dataclasses.replace(analysed, decision=decision, status=decision.status)


def decide(run: RunResult, parsers: Parsers = PARSERS, rules: Sequence[Rule] = RULES) -> Decision:
    """The verdict per hop and the run's status: the worst action's level, UNKNOWN when nothing
    was measured or part of it could not be analysed, at least WARNING when the run was
    interrupted. Never raises: a rule that fails on odd data is a note, its verdict unknown."""
    ctx = build_context(canonical(run), parsers)
    tested = _tested(ctx)
    notes = _notes(ctx)
    unanswered = _no_mx_answered(ctx)
    if unanswered:  # no rule has anything to read
        return Decision((), False, tested, (unanswered,), Status.UNKNOWN, notes)
    checks = dict(run.checks)
    placed: list[Placed] = []
    failed: list[str] = []
    for rule in rules:
        try:
            found = rule(ctx)
        except Exception as exc:  # noqa: BLE001 - one rule's blind spot is not the end of the run
            failed.append(f"{rule.__name__} could not decide: {failure(exc)}")
            continue
        placed.extend(_rated(p, checks) for p in found)
    notes += tuple(failed)
    hops = _assemble(ctx, placed)
    acting = [h for h in hops if h.actions]
    status = worst(a.severity for h in hops for a in h.actions)
    unfinished = _no_variant_finished(ctx)
    partial = bool(failed or ctx.unread or any(a.not_analysed for a in run.analyses))
    if acting:
        headline = tuple(line for h in acting for line in _headline(h, ctx.path))
    elif unfinished:
        headline = (unfinished,)
    elif partial:
        headline = (f"No hop interferes in what could be analysed: {'; '.join(tested)}.",)
    else:
        headline = (f"No hop interferes: {'; '.join(tested)}.",)
    if unfinished or partial:
        status = worst([status, Status.UNKNOWN])
    elif run.interrupted:
        status = worst([status, Status.WARNING])
    return Decision(
        hops=hops,
        clean=not acting and not unfinished and not partial,
        tested=tested,
        headline=headline,
        status=status,
        notes=notes,
        path=ctx.path,
    )


def canonical(run: RunResult) -> RunResult:
    """The run with its observations in one order (variants by size, then name; copies and
    bounces by probe id, then content), so that the same observations in another order give
    the same verdict: every "first" a rule picks is then the same one."""
    collect = run.collect
    if collect is not None:
        collect = dataclasses.replace(
            collect,
            statuses=tuple(sorted(collect.statuses, key=lambda s: (s.probe_id, s.status))),
            delivered=tuple(sorted(collect.delivered, key=lambda c: (c.probe_id, c.folder, c.raw))),
            bounces=tuple(sorted(collect.bounces, key=lambda b: (b.probe_ids, b.message.raw))),
        )
    return dataclasses.replace(
        run,
        specs=tuple(sorted(run.specs, key=lambda s: s.id)),
        variants=tuple(
            sorted(run.variants, key=lambda s: (s.variant != "control", s.size or 0, s.variant))
        ),
        analyses=tuple(sorted(run.analyses, key=lambda a: (a.variant != "control", a.probe_id))),
        collect=collect,
    )


def _rated(placed: Placed, checks: Mapping[str, CheckLevel]) -> Placed:
    if placed.action is None:
        return placed
    action = dataclasses.replace(placed.action, severity=severity(placed.action, checks))
    if action.alternatives:
        action = dataclasses.replace(
            action, confidence=action.confidence.at_most(AMBIGUOUS_CONFIDENCE)
        )
    return dataclasses.replace(placed, action=action)


def _no_mx_answered(ctx: Context) -> str:
    """A headline when no conversation got as far as a banner: nothing to decide on. One that
    probe cut short itself (Ctrl-C, deadline) says nothing about whether the MX answers."""
    attempts = [a for s in ctx.sends for a in s.attempts]
    if ctx.run.hop1 is not None:
        attempts.append(ctx.run.hop1)
    attempts = [a for a in attempts if a.outcome is not Outcome.INTERRUPTED]
    if not attempts or any(a.greeting is not None for a in attempts):
        return ""
    first = attempts[0]
    return (
        f"Nothing measured: no MX answered ({first.outcome} at {first.stage}"
        f"{': ' + first.reason if first.reason else ''})"
    )


def _no_variant_finished(ctx: Context) -> str:
    """A headline when no variant was measured (e.g. interrupted before any finished)."""
    if any(s.measured for s in ctx.run.variants):
        return ""
    stop = f" ({ctx.run.stop_reason})" if ctx.run.interrupted and ctx.run.stop_reason else ""
    return f"Nothing to judge: no variant finished{stop}."


def _assemble(ctx: Context, placed: list[Placed]) -> tuple[HopVerdict, ...]:
    order = _path_order(ctx, {p.hop for p in placed})
    by_key: dict[HopKey, list[Placed]] = {}
    for p in placed:
        by_key.setdefault(p.hop, []).append(p)
    hops = []
    for key in order:
        items = by_key.get(key, [])
        name = key.label
        products = named_first(prod for p in items for prod in p.products)
        if products and key.kind is HopKind.FRONT:
            brand = products[0].brand
            name = f"a {brand}-style SMTP proxy" if brand else "an SMTP proxy"
            name += f" in front of {key.host}"
        if not key.visible and not items:
            continue
        hops.append(
            HopVerdict(
                key=key,
                name=name,
                visible=key.visible,
                products=tuple(p.label for p in products),
                product_evidence=tuple(e for p in items for e in p.product_evidence),
                actions=tuple(
                    sorted(
                        (p.action for p in items if p.action is not None),
                        key=lambda a: (-rank(a.severity), bool(a.alternatives)),
                    )
                ),
                ambiguous="; ".join(_unique(p.ambiguous for p in items if _hop_note(p))),
            )
        )
    return tuple(hops)


def _hop_note(placed: Placed) -> bool:
    """Whether a placed finding's ambiguity is the hop's note (an action with alternatives
    carries its own reason)."""
    return bool(placed.ambiguous) and not (placed.action and placed.action.alternatives)


def _path_order(ctx: Context, keys: set[HopKey]) -> list[HopKey]:
    path = list(ctx.path) or [ctx.mx_host]
    order = [HopKey.front(path[0])]
    for i, host in enumerate(path):
        order.append(HopKey.at(host))
        order.append(HopKey.after(host))
        if i + 1 < len(path):
            order.append(HopKey.link(host, path[i + 1]))
    return order + sorted(keys - set(order), key=str)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return tuple(seen)


def _headline(hop: HopVerdict, path: tuple[str, ...]) -> list[str]:
    """One sentence for what the hop surely does, and one per set of candidates for what it most
    likely does: those name every candidate hop and the reason, never one hop alone."""
    who = hop.name
    if hop.products and not any(p.split(" (")[0] in hop.name for p in hop.products):
        who = f"{hop.name} ({'; '.join(hop.products)})"
    sure = [a.summary for a in hop.actions if not a.alternatives]
    lines = [f"{who}: " + "; ".join(sure)] if sure else []
    unsure: dict[tuple[HopKey, ...], list[HopAction]] = {}
    for action in hop.actions:
        if action.alternatives:
            unsure.setdefault(action.alternatives, []).append(action)
    for alternatives, actions in unsure.items():
        candidates = (
            hop.key.described(path)
            + " most likely, or "
            + ", or ".join(k.described(path) for k in alternatives)
        )
        reasons = "; ".join(_unique(p for a in actions for p in a.ambiguity.split("; ") if p))
        lines.append(
            f"{candidates}: "
            + "; ".join(a.summary for a in actions)
            + (f" ({reasons})" if reasons else "")
        )
    return lines


def _tested(ctx: Context) -> tuple[str, ...]:
    sent = [s for s in ctx.sends if s.measured]
    accepted = [s for s in sent if s.outcome is Outcome.ACCEPTED]
    facts = [f"{len(accepted)} of {len(sent)} variants accepted at hop 1 ({ctx.mx_host})"]
    if ctx.collected:
        delivered = [s for s in accepted if ctx.delivered(s.probe_id)]
        uncompared = [s for s in delivered if _not_analysed(ctx, s.probe_id, AnalysisPart.DIFF)]
        if uncompared:
            compared = len(delivered) - len(uncompared)
            facts.append(f"{len(delivered)} delivered, {compared} compared with what was sent")
        else:
            facts.append(f"{len(delivered)} delivered and compared with what was sent")
    else:
        facts.append("no mailbox given, so delivery and content were not checked")
    sizes = [s.size for s in sent if s.size]
    if sizes:
        facts.append(f"sizes {min(sizes):,} to {max(sizes):,} bytes")
    return tuple(facts)


def _not_analysed(ctx: Context, probe_id: str, part: AnalysisPart) -> bool:
    analysis = ctx.analyses.get(probe_id)
    return analysis is not None and any(g.part is part for g in analysis.not_analysed)


def _notes(ctx: Context) -> tuple[str, ...]:
    notes = []
    skipped = [s for s in ctx.run.variants if not s.measured]
    for send in skipped:
        notes.append(f"{send.variant}: not tested ({send.reason or send.stage})")
    if ctx.run.interrupted:
        notes.append(f"the run was interrupted: {ctx.run.stop_reason or 'stopped early'}")
    for analysis in ctx.analyses.values():
        for gap in analysis.not_analysed:
            notes.append(f"{analysis.variant}: {gap.part} {gap.reason}")
    notes.extend(ctx.unread)
    control = ctx.control
    if control is not None and control.measured and control.outcome is not Outcome.ACCEPTED:
        notes.append(
            f"the control message itself was not accepted ({control.outcome} at "
            f"{control.stage}): every other verdict rests on that"
        )
    return tuple(notes)
