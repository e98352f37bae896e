"""Rules over what changed between the sent and the delivered copy: injected headers, rewrites,
attachments stripped by a scanner (pure).
"""

from __future__ import annotations

from probe.analyze import fingerprint
from probe.decide.context import Context, Placed, SeenProduct
from probe.decide.rules.common import MARKER_HEADERS, REWRITE_WORDS, VIRUS, place, reply_line
from probe.decide.rules.headers import HeaderPlace, Injected, attributed_headers
from probe.decide.rules.identity import rejection_host, seen
from probe.decide.rules.marks import STRIPPED, change_place, is_scanner_header
from probe.model.diff import Change, ChangeKind
from probe.model.smtp import Outcome
from probe.model.variant import AttachmentKind
from probe.model.verdict import Action, Confidence, Evidence, HopKey


def rule_injected_headers(ctx: Context) -> list[Placed]:
    """Headers a hop added, grouped by their writer and its alternatives; a scanner's header
    also says the hop scans."""
    groups: dict[tuple[HopKey, tuple[HopKey, ...]], dict[str, list[Injected]]] = {}
    for item in attributed_headers(ctx):
        where = (item.place.hop, item.place.alternatives)
        groups.setdefault(where, {}).setdefault(item.name, []).append(item)
    placed = []
    for (key, alternatives), names in groups.items():
        evidence = []
        products: list[SeenProduct] = []
        scanner_headers: list[Evidence] = []
        for entries in names.values():
            first = entries[0]
            evidence.append(Evidence("header", first.header, first.variant))
            matches = fingerprint.match_products(
                fingerprint.shipped_knowledge(),
                fingerprint.observe_headers(((first.name, first.value),)),
            )
            products.extend(seen(m) for m in matches)
            if is_scanner_header(first):
                scanner_headers.append(Evidence("header", first.header, first.variant))
        items = [i for entries in names.values() for i in entries]
        variants = sorted({i.variant for i in items})
        everywhere = len(variants) > 1
        reason = "; ".join(dict.fromkeys(i.place.reason for i in items if i.place.reason))
        boxed = any(i.place.box for i in items)
        confidence = Confidence.HIGH if boxed else Confidence.MEDIUM
        if alternatives:
            confidence = Confidence.LOW
        placed.append(
            place(
                key,
                Action.INJECTS,
                "adds " + ", ".join(names) + (" to every message it passes" if everywhere else ""),
                condition="every message it passes" if everywhere else f"variant {variants[0]}",
                evidence=evidence,
                confidence=confidence,
                rule="header-injection",
                variants=variants,
                products=dict.fromkeys(products),
                ambiguous=reason if alternatives else "",
                alternatives=alternatives,
            )
        )
        if scanner_headers:
            stamps = dict.fromkeys(e.text.split(":")[0] for e in scanner_headers)
            placed.append(
                place(
                    key,
                    Action.SCANS,
                    "scans content: it stamps " + ", ".join(stamps),
                    condition="every message it passes",
                    evidence=scanner_headers[:2],
                    confidence=Confidence.MEDIUM,
                    rule="scanner-header",
                    variants=variants,
                    ambiguous=reason if alternatives else "",
                    alternatives=alternatives,
                )
            )
    return placed


def rule_rewrites(ctx: Context) -> list[Placed]:
    """Body, subject and attachment changes, attributed to the hop that leaves marks of the
    same change (`rules.marks`), with the marks' ambiguity."""
    injected = attributed_headers(ctx)
    kinds: dict[HeaderPlace, dict[ChangeKind, list[tuple[str, Change]]]] = {}
    for analysis in ctx.analyses.values():
        if analysis.diff is None:
            continue
        for change in analysis.diff.findings:
            if change.kind not in REWRITE_WORDS:
                continue
            if change.kind is ChangeKind.HEADER_MODIFIED and (
                change.where.lower() == "subject" or change.where.lower() in MARKER_HEADERS
            ):
                continue  # the Subject tag has its own kind; the markers are probe's own
            where = change_place(ctx, analysis.variant, change, injected)
            kinds.setdefault(where, {}).setdefault(change.kind, []).append(
                (analysis.variant, change)
            )
    placed = []
    for where, by_kind in kinds.items():
        for kind, items in by_kind.items():
            variants = tuple(dict.fromkeys(v for v, _ in items))
            first = items[0][1]
            quoted = first.inserted or first.after or first.detail
            evidence = tuple(
                Evidence(
                    "diff",
                    f"{c.where}: {c.detail or c.kind}"
                    + (f" -> {c.inserted or c.after}"[:200] if (c.inserted or c.after) else ""),
                    v,
                )
                for v, c in items[:3]
            )
            summary = REWRITE_WORDS[kind]
            if quoted and kind in (
                ChangeKind.BODY_APPENDED,
                ChangeKind.BODY_PREPENDED,
                ChangeKind.SUBJECT_TAGGED,
            ):
                flat = " ".join(quoted.split())
                summary += f" `{flat[:160]}{'…' if len(flat) > 160 else ''}`"
            all_accepted = [s for s in ctx.sends if ctx.delivered(s.probe_id)]
            condition = (
                "always"
                if len(variants) == len(all_accepted)
                else ("variants " + ", ".join(variants))
            )
            placed.append(
                place(
                    where.hop,
                    Action.REWRITES,
                    summary,
                    condition=condition,
                    evidence=evidence,
                    confidence=Confidence.MEDIUM if where.certain else Confidence.LOW,
                    rule=f"rewrite-{kind}",
                    check="strips-attachment" if kind in STRIPPED else "",
                    variants=variants,
                    ambiguous="" if where.certain else where.reason,
                    alternatives=where.alternatives,
                )
            )
    return placed


def rule_av(ctx: Context) -> list[Placed]:
    """EICAR rejected or executable stripped: the hop scans content."""
    placed = []
    for send in ctx.sends:
        spec = ctx.specs.get(send.variant)
        if spec is None or not spec.eicar:
            continue
        if send.outcome is Outcome.REJECTED:
            texts = [send.reply.text] if send.reply else []
            key, _ = rejection_host(ctx, [send])
            placed.append(
                place(
                    key,
                    Action.SCANS,
                    f"scans for malware: rejects the EICAR test file with "
                    f"`{send.reply.code if send.reply else ''} "
                    f"{send.reply.text if send.reply else ''}`",
                    condition="messages carrying malware",
                    evidence=(
                        Evidence("transcript", reply_line(send.reply, send.stage), send.variant),
                    ),
                    confidence=Confidence.HIGH
                    if VIRUS.search(" ".join(texts))
                    else Confidence.MEDIUM,
                    rule="eicar-rejected",
                    variants=(send.variant,),
                )
            )
    for analysis in ctx.analyses.values():
        spec = ctx.specs.get(analysis.variant)
        if spec is None or analysis.diff is None:
            continue
        exe_kinds = {AttachmentKind.EXE, AttachmentKind.ZIP_EXE}
        if not any(a.kind in exe_kinds for a in spec.attachments):
            continue
        stripped = [c for c in analysis.diff.findings if c.kind in STRIPPED]
        if stripped:
            where = change_place(ctx, analysis.variant, stripped[0], attributed_headers(ctx))
            placed.append(
                place(
                    where.hop,
                    Action.SCANS,
                    "scans attachments: strips executables",
                    condition="messages with executable attachments",
                    evidence=(
                        Evidence("diff", f"part {c.where}: {c.detail or c.kind}", analysis.variant)
                        for c in stripped[:3]
                    ),
                    confidence=Confidence.HIGH,
                    rule="exe-stripped",
                    variants=(analysis.variant,),
                    ambiguous="" if where.certain else where.reason,
                    alternatives=where.alternatives,
                )
            )
    return placed
