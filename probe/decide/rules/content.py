"""Rules over what changed between the sent and the delivered copy: injected headers, rewrites,
attachments stripped by a scanner (pure).
"""

from __future__ import annotations

from probe.analyze import fingerprint
from probe.decide.context import Context, Placed, SeenProduct
from probe.decide.rules.common import MARKER_HEADERS, REWRITE_WORDS, VIRUS, place, reply_line
from probe.decide.rules.headers import first_hop, injected_headers
from probe.decide.rules.identity import rejection_host, seen
from probe.model.diff import Change, ChangeKind
from probe.model.smtp import Outcome
from probe.model.variant import AttachmentKind
from probe.model.verdict import Action, Confidence, Evidence, HopKey, HopKind


def rule_injected_headers(ctx: Context) -> list[Placed]:
    by_hop: dict[HopKey, dict[str, list[tuple[str, str]]]] = {}  # name -> (variant, header)
    for key, header, variant in injected_headers(ctx):
        by_hop.setdefault(key, {}).setdefault(header.split(":", 1)[0], []).append((variant, header))
    placed = []
    for key, names in by_hop.items():
        evidence = []
        products: list[SeenProduct] = []
        scanner_headers: list[Evidence] = []
        for entries in names.values():
            variant, header = entries[0]
            evidence.append(Evidence("header", header, variant))
            name, _, value = header.partition(": ")
            matches = fingerprint.match_products(
                fingerprint.shipped_knowledge(), fingerprint.observe_headers(((name, value),))
            )
            products.extend(seen(m) for m in matches)
            if VIRUS.search(name) or any(m.role is fingerprint.Role.SCANNER for m in matches):
                scanner_headers.append(Evidence("header", header, variant))
        variants = sorted({v for entries in names.values() for v, _ in entries})
        everywhere = len(variants) > 1
        placed.append(
            place(
                key,
                Action.INJECTS,
                "adds " + ", ".join(names) + (" to every message it passes" if everywhere else ""),
                condition="every message it passes" if everywhere else f"variant {variants[0]}",
                evidence=evidence,
                confidence=Confidence.HIGH if key.kind is HopKind.FRONT else Confidence.MEDIUM,
                rule="header-injection",
                variants=variants,
                products=dict.fromkeys(products),
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
                )
            )
    return placed


_STRIPPED = frozenset({ChangeKind.PART_REMOVED, ChangeKind.ATTACHMENT_REPLACED})


def rule_rewrites(ctx: Context) -> list[Placed]:
    """Body, subject and attachment changes, attributed to the hop that leaves other marks."""
    marks: dict[str, set[HopKey]] = {}
    for key, _header, variant in injected_headers(ctx):
        marks.setdefault(variant, set()).add(key)
    kinds: dict[HopKey, dict[ChangeKind, list[tuple[str, Change]]]] = {}
    marked: set[HopKey] = set()  # hops named by a mark, not by default
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
            candidates = sorted(marks.get(analysis.variant, set()), key=str)
            key = candidates[0] if len(candidates) == 1 else first_hop(ctx)
            if len(candidates) == 1:
                marked.add(key)
            kinds.setdefault(key, {}).setdefault(change.kind, []).append((analysis.variant, change))
    placed = []
    for key, by_kind in kinds.items():
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
            ambiguous = ""
            alternatives: list[HopKey] = []
            if key not in marked and len(ctx.path) > 1:
                ambiguous = "no header or other mark of the same change names the hop"
                alternatives = [HopKey.at(h) for h in ctx.path]
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
                    key,
                    Action.REWRITES,
                    summary,
                    condition=condition,
                    evidence=evidence,
                    confidence=Confidence.MEDIUM if not ambiguous else Confidence.LOW,
                    rule=f"rewrite-{kind}",
                    check="strips-attachment" if kind in _STRIPPED else "",
                    variants=variants,
                    ambiguous=ambiguous,
                    alternatives=alternatives,
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
            key, _ = rejection_host(ctx, texts)
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
        stripped = [
            c
            for c in analysis.diff.findings
            if c.kind in (ChangeKind.PART_REMOVED, ChangeKind.ATTACHMENT_REPLACED)
        ]
        if stripped:
            candidates = {k for k, _h, v in injected_headers(ctx) if v == analysis.variant}
            key = next(iter(candidates)) if len(candidates) == 1 else first_hop(ctx)
            placed.append(
                place(
                    key,
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
                )
            )
    return placed
