"""Rules over what happened after acceptance: bounces, silent drops, junk folders, TLS lost
between hops (pure).
"""

from __future__ import annotations

from probe.decide.context import Context, Placed
from probe.decide.rules.causes import cause_of
from probe.decide.rules.common import place, reply_line
from probe.decide.rules.conditions import condition_of, separate
from probe.decide.rules.known_cases import known_case
from probe.decide.rules.meaning import diagnostic_meaning
from probe.model.bounce import Bounce
from probe.model.collect import Arrival
from probe.model.send import VariantSend
from probe.model.smtp import Outcome, Reply
from probe.model.verdict import Action, Confidence, Evidence, HopKey


def rule_bounces(ctx: Context) -> list[Placed]:
    """Post-acceptance rejections from DSNs, grouped by the reporting MTA and the status: that
    MTA (named by Reporting-MTA) accepted and then refused, or relayed and was refused by the
    Remote-MTA."""
    groups: dict[tuple[str, str], list[tuple[str, Bounce]]] = {}
    for analysis in ctx.analyses.values():
        for bounce in analysis.bounces:
            reporter = (bounce.reporting_mta or "").split(";")[-1].strip().lower().rstrip(".")
            status = next((r.specific_status for r in bounce.recipients if r.specific_status), "")
            groups.setdefault((reporter, status), []).append((analysis.variant, bounce))
    placed = []
    bounced_any = {a.variant for a in ctx.analyses.values() if a.bounces}
    passed = [s for s in ctx.sends if ctx.delivered(s.probe_id) and s.variant not in bounced_any]
    for (reporter, status), items in sorted(groups.items()):
        key = HopKey.at(reporter) if reporter else HopKey.after(ctx.hop1)
        bounced = [s for s in ctx.sends if s.variant in {v for v, _ in items}]
        bounce = items[0][1]
        first = next((r for r in bounce.recipients if r.diagnostic_code), None)
        told = cause_of(Reply(first.smtp_code, (first.diagnostic_code or "",))) if first else None
        condition = separate(bounced, passed, ctx, told.trait if told else None)
        evidence = [Evidence("bounce", f"Reporting-MTA: {bounce.reporting_mta}", items[0][0])]
        for rcpt in bounce.recipients:
            specific = rcpt.diagnostic_status if rcpt.diagnostic_status != rcpt.status else None
            for label, value in (
                ("Final-Recipient", rcpt.final_recipient),
                ("Status", rcpt.status),
                ("Diagnostic status", specific),
                ("Remote-MTA", rcpt.remote_mta),
                ("Diagnostic-Code", rcpt.diagnostic_code),
            ):
                if value:
                    evidence.append(Evidence("bounce", f"{label}: {value}", items[0][0]))
        remote = next((r.remote_mta for r in bounce.recipients if r.remote_mta), None)
        diagnostic = next((r.diagnostic_code for r in bounce.recipients if r.diagnostic_code), None)
        said = diagnostic.split(";", 1)[-1].strip() if diagnostic else bounce.diagnostic
        by = f"refused by {remote}" if remote else "refused"
        case = known_case(Action.BOUNCES, condition)
        if case is not None:
            evidence.append(case.evidence())
        placed.append(
            place(
                key,
                Action.BOUNCES,
                f"accepts, then bounces {condition.phrase} ({by} with `{said or status}`)"
                + (case.clause() if case else ""),
                condition=condition.text,
                evidence=evidence,
                confidence=condition.confidence(Confidence.HIGH),
                rule="dsn",
                variants=(v for v, _ in items),
                reply=diagnostic_meaning(diagnostic or bounce.diagnostic or "", status),
            )
        )
    return placed


# --------------------------------------------------------------------------- delivery


def rule_drops_and_junk(ctx: Context) -> list[Placed]:
    if not ctx.collected:
        return []
    control = ctx.control
    control_ok = control is not None and ctx.delivered(control.probe_id)
    placed = []
    # a bounce read now (a stored run re-analysed with better readers) is not a drop
    bounced = {a.probe_id for a in ctx.analyses.values() if a.bounces}
    missing = [
        s
        for s in ctx.sends
        if s.outcome is Outcome.ACCEPTED
        and (a := ctx.arrivals.get(s.probe_id)) is not None
        and a.status is Arrival.MISSING
        and s.probe_id not in bounced
    ]
    accepted = [s for s in ctx.sends if s.outcome is Outcome.ACCEPTED]
    if missing and not control_ok and len(missing) == len(accepted) and not bounced:
        placed.append(_nothing_arrived(ctx, missing))
    if missing and control_ok:
        placed.append(
            place(
                HopKey.after(ctx.hop1),
                Action.DROPS,
                "accepted but neither delivered nor bounced: "
                + ", ".join(s.variant for s in missing),
                condition=condition_of(missing, [control] if control else [], ctx),
                evidence=(
                    Evidence(
                        "delivery", f"{reply_line(s.reply, 'data-end')}; no copy, no DSN", s.variant
                    )
                    for s in missing[:4]
                ),
                confidence=Confidence.MEDIUM,
                rule="silent-drop",
                variants=(s.variant for s in missing),
                ambiguous="dropped or quarantined somewhere after hop 1 accepted it",
            )
        )
    junk = [a for a in ctx.arrivals.values() if a.junk]
    if junk:
        last = ctx.path[-1] if ctx.path else ctx.hop1
        names = ", ".join(a.variant for a in junk)
        placed.append(
            place(
                HopKey.at(last),
                Action.JUNKS,
                f"files probes as spam: {names}",
                condition=f"variants {names}",
                evidence=(
                    Evidence("delivery", f"copy in folder {', '.join(a.folders)}", a.variant)
                    for a in junk[:4]
                ),
                confidence=Confidence.MEDIUM,
                rule="junk-folder",
                variants=(a.variant for a in junk),
            )
        )
    return placed


def rule_tls_lost(ctx: Context) -> list[Placed]:
    placed = []
    for analysis in ctx.analyses.values():
        if analysis.trace is None:
            continue
        hops = analysis.trace.hops
        for link_ in analysis.trace.links:
            # link k (1-based) runs from hop k-1 to hop k: hops[k - 2] took the message over
            # TLS and relayed it in plaintext, as hops[k - 1]'s stamp shows
            if link_.tls_change == "stops" and 1 < link_.index <= len(hops):
                prev = (hops[link_.index - 2].by_host or "").lower().rstrip(".")
                cur = hops[link_.index - 1]
                placed.append(
                    place(
                        HopKey.at(prev or ctx.hop1),
                        Action.LOSES_TLS,
                        "relays in plaintext what reached it over TLS",
                        condition="always",
                        evidence=(
                            Evidence("header", f"Received: {cur.raw[:160]}", analysis.variant),
                        ),
                        confidence=Confidence.MEDIUM,
                        rule="tls-lost",
                        variants=(analysis.variant,),
                    )
                )
                break
        if placed:
            break
    return placed


def _nothing_arrived(ctx: Context, missing: list[VariantSend]) -> Placed:
    """Every accepted message, the control too, neither arrived nor bounced: a hop drops them
    all, or the mailbox is not where mail for the recipient lands. Not a clean path either way;
    which of the two, the run cannot tell."""
    return place(
        HopKey.after(ctx.hop1),
        Action.DROPS,
        "accepted every message, and none arrived or bounced: "
        + ", ".join(s.variant for s in missing),
        condition="every message",
        evidence=(
            Evidence("delivery", f"{reply_line(s.reply, 'data-end')}; no copy, no DSN", s.variant)
            for s in missing[:4]
        ),
        confidence=Confidence.LOW,
        rule="silent-drop",
        variants=(s.variant for s in missing),
        ambiguous="a hop at or after hop 1 drops them all, or the mailbox given is not where "
        "mail for the recipient lands",
    )
