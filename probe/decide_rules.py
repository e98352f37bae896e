"""The rules of `decide`: each takes the run's context and returns placed findings (pure).

One function per way a hop shows itself (DESIGN.md, "How a hop is pinpointed"). Product names
come only from `probe.fingerprint`, which attributes on evidence specific to a product.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable

from probe import fingerprint
from probe.collect.results import Arrival
from probe.craft import AttachmentKind, Expect
from probe.decide import Context, Placed, front, link
from probe.diff import Change, ChangeKind
from probe.model import Conversation, Outcome, Reply
from probe.received import header_fields
from probe.sendresult import VariantSend
from probe.verdict import Action, Confidence, Evidence, HopAction

Rule = Callable[[Context], list[Placed]]

_REWRITES = {
    ChangeKind.SUBJECT_TAGGED: "tags the Subject",
    ChangeKind.ADDRESS_REWRITTEN: "rewrites addresses",
    ChangeKind.MESSAGE_ID_REPLACED: "replaces the Message-ID",
    ChangeKind.BODY_APPENDED: "appends text to the body",
    ChangeKind.BODY_PREPENDED: "prepends text to the body",
    ChangeKind.BODY_INSERTED: "inserts text into the body",
    ChangeKind.BODY_CHANGED: "changes the body",
    ChangeKind.ENCODING_CHANGED: "changes the transfer encoding",
    ChangeKind.CHARSET_CHANGED: "changes the charset",
    ChangeKind.CONTENT_TYPE_CHANGED: "changes a content type",
    ChangeKind.LINE_REWRAPPED: "re-wraps lines",
    ChangeKind.PART_REMOVED: "removes MIME parts",
    ChangeKind.PART_ADDED: "adds MIME parts",
    ChangeKind.ATTACHMENT_REPLACED: "replaces attachments",
    ChangeKind.ATTACHMENT_RENAMED: "renames attachments",
    ChangeKind.STRUCTURE_CHANGED: "restructures the MIME tree",
    ChangeKind.URL_REWRITTEN: "rewrites URLs",
    ChangeKind.HEADER_MODIFIED: "modifies headers",
    ChangeKind.HEADER_REMOVED: "removes headers",
}
_GREYLIST = re.compile(r"grey|gray|try again later|temporar", re.I)
_VIRUS = re.compile(r"virus|malware|infect|eicar|scan", re.I)
_MB = 1024 * 1024
# Final-reply growth that means content inspection rather than writing to a queue: 500 ms per
# MB is slower than any MTA stores mail, even the embedded lab's Python servers (~75 ms/MB).
SCAN_MS_PER_MB = 500.0


def _line(reply: Reply | None, stage: str) -> str:
    if reply is None:
        return f"{stage}: (no reply)"
    return f"{stage}: {reply.code} {reply.text}".strip()


def _first_sentence(text: str) -> str:
    """`Permanent scan failure. Email Session ID: {...}` -> `Permanent scan failure`."""
    head = re.split(r"\.\s", text, maxsplit=1)[0]
    return head.rstrip(".") if head else text


def _human(n: int) -> str:
    return f"{n:,}"


# --------------------------------------------------------------------------- hop 1 identity


def hop1_conversation(ctx: Context) -> Conversation | None:
    if ctx.run.hop1 is not None:
        return ctx.run.hop1
    for send in ctx.sends:
        if send.attempts:
            return send.attempts[-1]
    return None


def _hop1_conversations(ctx: Context) -> list[Conversation]:
    """The capability probe plus the control's and every rejected variant's last attempt, so
    banner, EHLO, the MAIL/RCPT/354 texts and the rejection texts are all seen."""
    convs = [ctx.run.hop1] if ctx.run.hop1 is not None else []
    for send in ctx.sends:
        if send.attempts and (send.variant == "control" or send.outcome is Outcome.REJECTED):
            convs.append(send.attempts[-1])
    return convs


def _hop1_matches(ctx: Context) -> list[fingerprint.ProductMatch]:
    parts = [fingerprint.evidence_from_conversation(c) for c in _hop1_conversations(ctx)]
    return list(fingerprint.identify(fingerprint.combine(*parts))) if parts else []


def _trace_products(ctx: Context) -> set[str]:
    """Products the first Received header (written by the MTA behind hop 1) names."""
    if not ctx.first_received:
        return set()
    ev = fingerprint.Evidence(received=(ctx.first_received,))
    return {m.product for m in fingerprint.identify(ev)} | {
        alt for m in fingerprint.identify(ev) for alt in m.alternatives
    }


def _is_middlebox(match: fingerprint.ProductMatch) -> bool:
    return match.role is fingerprint.Role.MIDDLEBOX


def _label(match: fingerprint.ProductMatch) -> str:
    return match.summary or match.name


def _speaks_for_box(match: fingerprint.ProductMatch, traced: set[str]) -> bool:
    """A product seen at hop 1 that is not the MTA the trace names: the box in front speaks."""
    if _is_middlebox(match):
        return True
    if not traced:
        return False
    return not ({match.product, *match.alternatives} & traced)


def _product_evidence(match: fingerprint.ProductMatch) -> tuple[Evidence, ...]:
    return tuple(
        Evidence("fingerprint", f"{e.kind}: {e.observed} -> {match.name} ({e.signature})")
        for e in match.evidence
    )


def front_box_reasons(ctx: Context) -> list[Evidence]:
    """Why hop 1 is a box in front of the first MTA the trace names (empty: it is not)."""
    reasons: list[Evidence] = []
    traced = _trace_products(ctx)
    for match in _hop1_matches(ctx):
        if _is_middlebox(match):
            reasons.extend(_product_evidence(match))
        elif _speaks_for_box(match, traced):
            reasons.append(
                Evidence(
                    "fingerprint",
                    f"hop 1 answers like {_label(match)}, but the Received header of "
                    f"{ctx.hop1} names {', '.join(sorted(traced))}",
                )
            )
    for key, header, _variant in _injected_headers(ctx):
        if key == front(ctx.hop1):
            reasons.append(Evidence("header", f"{header} sits below every Received header"))
    return reasons


def rule_identity(ctx: Context) -> list[Placed]:
    """Products at hop 1 from banner, EHLO and replies; masking and STARTTLS tampering."""
    conv = hop1_conversation(ctx)
    if conv is None:
        return []
    placed: list[Placed] = []
    traced = _trace_products(ctx)
    box = bool(front_box_reasons(ctx))
    matches = _hop1_matches(ctx)
    named = {m.product for m in matches if not m.alternatives}
    for match in matches:
        if match.alternatives and named & {match.product, *match.alternatives}:
            continue  # a product already named on its own evidence covers this shared set
        key = front(ctx.hop1) if box and _speaks_for_box(match, traced) else ctx.hop1
        placed.append(
            Placed(key, products=(_label(match),), product_evidence=_product_evidence(match))
        )
    banner = conv.banner.text if conv.banner else ""
    caps = conv.capabilities
    masked_caps = [c for c in caps if re.fullmatch(r"X{2,}[A-Z]", c)]
    if conv.banner is not None and "*" in banner and re.fullmatch(r"[*\s\d]+", banner):
        placed.append(
            Placed(
                front(ctx.hop1),
                HopAction(
                    Action.MASKS,
                    "masks the SMTP banner with '*'",
                    condition="always",
                    evidence=(Evidence("transcript", f"< 220 {banner}"),),
                    confidence=Confidence.HIGH,
                    rule="banner-masked",
                    check="banner-masked",
                ),
            )
        )
    if masked_caps:
        placed.append(
            Placed(
                front(ctx.hop1),
                HopAction(
                    Action.STRIPS_TLS,
                    f"replaces STARTTLS by {masked_caps[0]} in the EHLO reply, so no TLS is "
                    "possible",
                    condition="always",
                    evidence=tuple(Evidence("transcript", f"< 250 {c}") for c in masked_caps),
                    confidence=Confidence.HIGH,
                    rule="starttls-masked",
                    check="starttls-stripped",
                ),
            )
        )
    return placed


# --------------------------------------------------------------------------- rejections


def _condition(rejected: list[VariantSend], passed: list[VariantSend], ctx: Context) -> str:
    """What the rejected variants share that the passed ones lack."""
    thr = ctx.run.threshold
    if thr is not None and thr.search.threshold is not None:
        return f"messages of {_human(thr.search.threshold)} bytes and more"
    r_sizes = [s.size for s in rejected if s.size]
    p_sizes = [s.size for s in passed if s.size]
    if r_sizes and len(r_sizes) == len(rejected) and (not p_sizes or min(r_sizes) > max(p_sizes)):
        if p_sizes:
            return (
                f"messages larger than {_human(max(p_sizes))} bytes "
                f"(rejected from {_human(min(r_sizes))} bytes)"
            )
        return f"messages of {_human(min(r_sizes))} bytes and more"
    kinds = [_kinds(ctx, s.variant) for s in rejected]
    common = set.intersection(*kinds) if kinds else set()
    passed_kinds = set().union(*(_kinds(ctx, s.variant) for s in passed)) if passed else set()
    only = sorted(common - passed_kinds)
    if only:
        return f"messages with {', '.join(only)} attachments"
    return "variants " + ", ".join(s.variant for s in rejected)


def _kinds(ctx: Context, variant: str) -> set[str]:
    spec = ctx.specs.get(variant)
    return {str(a.kind) for a in spec.attachments} if spec else set()


def _expected_rejection(ctx: Context, send: VariantSend) -> bool:
    spec = ctx.specs.get(send.variant)
    return spec is not None and spec.expect is Expect.REJECT_OK


def _rejection_host(ctx: Context, reply_texts: list[str]) -> tuple[str, str]:
    """Where an in-protocol rejection comes from: the front box or hop 1's MTA."""
    for key, header, _ in _injected_headers(ctx):
        value = header.partition(":")[2].strip()
        for text in reply_texts:
            fmt = fingerprint.same_id_format(text, value)
            if fmt:
                return (
                    key,
                    f"the reply's id and the injected {header.split(':')[0]} header "
                    f"share one format ({fmt})",
                )
    if front_box_reasons(ctx):
        return front(ctx.hop1), "hop 1 is not the MTA the trace names"
    return ctx.hop1, ""


def rule_rejections(ctx: Context) -> list[Placed]:
    """In-protocol rejections, grouped by stage and code, with their condition."""
    rejected = [s for s in ctx.sends if s.outcome is Outcome.REJECTED]
    passed = [s for s in ctx.sends if s.outcome is Outcome.ACCEPTED]
    groups: dict[tuple[str, int | None], list[VariantSend]] = {}
    for send in rejected:
        groups.setdefault((send.stage, send.reply.code if send.reply else None), []).append(send)
    placed: list[Placed] = []
    for (_stage, code), sends in groups.items():
        eicar = [s for s in sends if (spec := ctx.specs.get(s.variant)) and spec.eicar]
        if eicar and len(eicar) == len(sends):
            continue  # rule_av speaks of these
        texts = [s.reply.text for s in sends if s.reply]
        key, why = _rejection_host(ctx, texts)
        reply = sends[0].reply
        evidence = [Evidence("transcript", _line(s.reply, s.stage), s.variant) for s in sends[:4]]
        if why:
            evidence.append(Evidence("fingerprint", why))
        expected = all(_expected_rejection(ctx, s) for s in sends)
        condition = _condition(sends, passed, ctx)
        text = _first_sentence(reply.text) if reply else ""
        summary, check = _size_judgement(ctx, sends, f"rejects {condition} with `{code} {text}`")
        if _VIRUS.search(text):
            placed.append(
                Placed(
                    key,
                    HopAction(
                        Action.SCANS,
                        f"scans content: its rejection says `{text}`",
                        condition=condition,
                        evidence=tuple(evidence[:1]),
                        confidence=Confidence.HIGH,
                        rule="scan-rejection",
                        variants=tuple(s.variant for s in sends),
                    ),
                )
            )
        if expected:
            continue  # a rejection the profile allows (SIZE+1, 101 recipients, ...)
        placed.append(
            Placed(
                key,
                HopAction(
                    Action.REJECTS,
                    summary,
                    condition=condition,
                    evidence=tuple(evidence),
                    confidence=Confidence.HIGH,
                    rule="in-protocol-rejection",
                    check=check,
                    variants=tuple(s.variant for s in sends),
                ),
            )
        )
    return placed


def _size_judgement(ctx: Context, sends: list[VariantSend], summary: str) -> tuple[str, str]:
    """Set a size rejection beside the SIZE hop 1 advertises: above it is the hop keeping its
    word (check `size-above-advertised`), below it breaks its word (`size-below-advertised`)."""
    advertised = ctx.run.advertised_size
    sizes = [s.size for s in sends if s.size]
    if not advertised or len(sizes) != len(sends):
        return summary, ""
    threshold = ctx.run.threshold.search.threshold if ctx.run.threshold else None
    smallest = threshold or min(sizes)
    if smallest > advertised:
        return f"{summary}: it enforces its advertised SIZE {advertised:,}", "size-above-advertised"
    return f"{summary}, below its advertised SIZE {advertised:,}", "size-below-advertised"


def rule_bounces(ctx: Context) -> list[Placed]:
    """Post-acceptance rejections from DSNs: Reporting-MTA and Remote-MTA."""
    placed = []
    for analysis in ctx.analyses.values():
        for bounce in analysis.bounces:
            reporter = (bounce.reporting_mta or "").split(";")[-1].strip().lower().rstrip(".")
            key = reporter if reporter in ctx.path else (f"after:{ctx.hop1}")
            evidence = [Evidence("bounce", f"Reporting-MTA: {bounce.reporting_mta}")]
            for rcpt in bounce.recipients:
                if rcpt.remote_mta:
                    evidence.append(Evidence("bounce", f"Remote-MTA: {rcpt.remote_mta}"))
                if rcpt.diagnostic_code:
                    evidence.append(Evidence("bounce", f"Diagnostic-Code: {rcpt.diagnostic_code}"))
                if rcpt.status:
                    evidence.append(Evidence("bounce", f"Status: {rcpt.status}"))
            summary = f"accepts, then bounces {analysis.variant}: {bounce.diagnostic or 'see DSN'}"
            placed.append(
                Placed(
                    key,
                    HopAction(
                        Action.BOUNCES,
                        summary,
                        condition=f"variant {analysis.variant}",
                        evidence=tuple(evidence),
                        confidence=Confidence.HIGH,
                        rule="dsn",
                        variants=(analysis.variant,),
                    ),
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
    missing = [
        s
        for s in ctx.sends
        if s.outcome is Outcome.ACCEPTED
        and (a := ctx.arrivals.get(s.probe_id)) is not None
        and a.status is Arrival.MISSING
    ]
    if missing and control_ok:
        placed.append(
            Placed(
                f"after:{ctx.hop1}",
                HopAction(
                    Action.DROPS,
                    "accepted but neither delivered nor bounced: "
                    + ", ".join(s.variant for s in missing),
                    condition=_condition(missing, [control] if control else [], ctx),
                    evidence=tuple(
                        Evidence(
                            "delivery", f"{_line(s.reply, 'data-end')}; no copy, no DSN", s.variant
                        )
                        for s in missing[:4]
                    ),
                    confidence=Confidence.MEDIUM,
                    rule="silent-drop",
                    variants=tuple(s.variant for s in missing),
                ),
                ambiguous="dropped or quarantined somewhere after hop 1 accepted it",
            )
        )
    junk = [a for a in ctx.arrivals.values() if a.junk]
    if junk:
        last = ctx.path[-1] if ctx.path else ctx.hop1
        placed.append(
            Placed(
                last,
                HopAction(
                    Action.JUNKS,
                    "files probes as spam: " + ", ".join(a.variant for a in junk),
                    condition="variants " + ", ".join(a.variant for a in junk),
                    evidence=tuple(
                        Evidence("delivery", f"copy in folder {', '.join(a.folders)}", a.variant)
                        for a in junk[:4]
                    ),
                    confidence=Confidence.MEDIUM,
                    rule="junk-folder",
                    variants=tuple(a.variant for a in junk),
                ),
            )
        )
    return placed


# --------------------------------------------------------------------------- content


def _injected_headers(ctx: Context) -> list[tuple[str, str, str]]:
    """(hop key, 'Name: value', variant) for every non-trace header a hop added."""
    out = []
    for analysis in ctx.analyses.values():
        if analysis.diff is None:
            continue
        for change in analysis.diff.findings:
            if change.kind is ChangeKind.HEADER_ADDED and change.placement is not None:
                out.append(
                    (
                        _header_hop(ctx, change, analysis.probe_id),
                        f"{change.where}: {change.after}",
                        analysis.variant,
                    )
                )
    return out


def _header_hop(ctx: Context, change: Change, probe_id: str) -> str:
    """Headers are prepended: one below the Received of hop k was added by hop k or a box.

    A header inserted among the original headers (Postfix `header_checks` PREPEND, Exchange
    transport rules) was not prepended, so its position names no hop: it goes to the first
    visible MTA, with the ambiguity stated by the rewrite rules.
    """
    place = change.placement
    assert place is not None
    if _inserted_in_place(ctx, probe_id, place.index):
        return ctx.path[0] if ctx.path else ctx.hop1
    below = (place.received_below_by or "").rstrip(".").lower()
    above = (place.received_above_by or "").rstrip(".").lower()
    if not below:
        return front(above or ctx.hop1)
    if _added_by_middlebox(change):
        return link(below, above) if above else f"after:{below}"
    return below


def _inserted_in_place(ctx: Context, probe_id: str, index: int) -> bool:
    """Whether an original header of the sent message sits between this one and the nearest
    Received header above it."""
    copy = ctx.copies.get(probe_id)
    send = next((s for s in ctx.sends if s.probe_id == probe_id), None)
    if copy is None or send is None or send.manifest is None:
        return False
    original = {n.lower() for n in send.manifest.header_names} - {"received"}
    fields = header_fields(copy.raw)
    for name, _value in reversed(fields[:index]):
        low = name.lower()
        if low == "received":
            return False
        if low in original:
            return True
    return False


def _added_by_middlebox(change: Change) -> bool:
    matches = fingerprint.identify(
        fingerprint.evidence_from_headers(((change.where, change.after),))
    )
    return any(_is_middlebox(m) for m in matches)


def rule_injected_headers(ctx: Context) -> list[Placed]:
    by_hop: dict[str, dict[str, list[str]]] = {}
    for key, header, variant in _injected_headers(ctx):
        by_hop.setdefault(key, {}).setdefault(header.split(":", 1)[0], []).append(
            f"{variant}|{header}"
        )
    placed = []
    for key, names in by_hop.items():
        evidence = []
        products: list[str] = []
        scanner_headers: list[Evidence] = []
        for entries in names.values():
            variant, _, header = entries[0].partition("|")
            evidence.append(Evidence("header", header, variant))
            name, _, value = header.partition(": ")
            matches = fingerprint.identify(fingerprint.evidence_from_headers(((name, value),)))
            products.extend(_label(m) for m in matches)
            if _VIRUS.search(name) or any(m.role is fingerprint.Role.SCANNER for m in matches):
                scanner_headers.append(Evidence("header", header, variant))
        variants = sorted({e.split("|")[0] for entries in names.values() for e in entries})
        placed.append(
            Placed(
                key,
                HopAction(
                    Action.INJECTS,
                    "adds "
                    + ", ".join(names)
                    + (" to every message it passes" if len(variants) > 1 else ""),
                    condition="every message it passes"
                    if len(variants) > 1
                    else f"variant {variants[0]}",
                    evidence=tuple(evidence),
                    confidence=Confidence.HIGH if key.startswith("front:") else Confidence.MEDIUM,
                    rule="header-injection",
                    variants=tuple(variants),
                ),
                products=tuple(dict.fromkeys(products)),
            )
        )
        if scanner_headers:
            placed.append(
                Placed(
                    key,
                    HopAction(
                        Action.SCANS,
                        "scans content: it stamps "
                        + ", ".join(dict.fromkeys(e.text.split(":")[0] for e in scanner_headers)),
                        condition="every message it passes",
                        evidence=tuple(scanner_headers[:2]),
                        confidence=Confidence.MEDIUM,
                        rule="scanner-header",
                        variants=tuple(variants),
                    ),
                )
            )
    return placed


def rule_rewrites(ctx: Context) -> list[Placed]:
    """Body, subject and attachment changes, attributed to the hop that leaves other marks."""
    marks: dict[str, set[str]] = {}
    for key, _header, variant in _injected_headers(ctx):
        marks.setdefault(variant, set()).add(key)
    kinds: dict[str, dict[ChangeKind, list[tuple[str, Change]]]] = {}
    marked: set[str] = set()  # hops named by a mark, not by default
    for analysis in ctx.analyses.values():
        if analysis.diff is None:
            continue
        for change in analysis.diff.findings:
            if change.kind not in _REWRITES:
                continue
            if change.kind is ChangeKind.HEADER_MODIFIED and change.where.lower() == "subject":
                continue
            candidates = sorted(marks.get(analysis.variant, set()))
            key = candidates[0] if len(candidates) == 1 else _rewrite_default(ctx)
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
            if key not in marked and len(ctx.path) > 1:
                ambiguous = "no mark separates the hops: it may be any of " + ", ".join(ctx.path)
            summary = _REWRITES[kind]
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
                Placed(
                    key,
                    HopAction(
                        Action.REWRITES,
                        summary,
                        condition=condition,
                        evidence=evidence,
                        confidence=Confidence.MEDIUM if not ambiguous else Confidence.LOW,
                        rule=f"rewrite-{kind}",
                        variants=variants,
                    ),
                    ambiguous=ambiguous,
                )
            )
    return placed


def _rewrite_default(ctx: Context) -> str:
    return ctx.path[0] if ctx.path else ctx.hop1


def rule_av(ctx: Context) -> list[Placed]:
    """EICAR rejected or executable stripped: the hop scans content."""
    placed = []
    for send in ctx.sends:
        spec = ctx.specs.get(send.variant)
        if spec is None or not spec.eicar:
            continue
        if send.outcome is Outcome.REJECTED:
            texts = [send.reply.text] if send.reply else []
            key, _ = _rejection_host(ctx, texts)
            placed.append(
                Placed(
                    key,
                    HopAction(
                        Action.SCANS,
                        f"scans for malware: rejects the EICAR test file with "
                        f"`{send.reply.code if send.reply else ''} "
                        f"{send.reply.text if send.reply else ''}`",
                        condition="messages carrying malware",
                        evidence=(
                            Evidence("transcript", _line(send.reply, send.stage), send.variant),
                        ),
                        confidence=Confidence.HIGH
                        if _VIRUS.search(" ".join(texts))
                        else Confidence.MEDIUM,
                        rule="eicar-rejected",
                        variants=(send.variant,),
                    ),
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
            candidates = {k for k, _h, v in _injected_headers(ctx) if v == analysis.variant}
            key = sorted(candidates)[0] if len(candidates) == 1 else _rewrite_default(ctx)
            placed.append(
                Placed(
                    key,
                    HopAction(
                        Action.SCANS,
                        "scans attachments: strips executables",
                        condition="messages with executable attachments",
                        evidence=tuple(
                            Evidence(
                                "diff", f"part {c.where}: {c.detail or c.kind}", analysis.variant
                            )
                            for c in stripped[:3]
                        ),
                        confidence=Confidence.HIGH,
                        rule="exe-stripped",
                        variants=(analysis.variant,),
                    ),
                )
            )
    return placed


def rule_scan_timing(ctx: Context) -> list[Placed]:
    """Final-reply latency that grows with size beyond the upload: inline scanning."""
    points = []
    for send in ctx.sends:
        for conv in send.attempts:
            if conv.final_reply_ms is not None and conv.final_reply is not None and send.size:
                points.append((send.size, conv.final_reply_ms, send.variant))
    if len({p[0] for p in points}) < 3:
        return []
    sizes = [p[0] / _MB for p in points]
    if max(sizes) - min(sizes) < 0.5:
        return []
    slope, intercept = statistics.linear_regression(sizes, [p[1] for p in points])
    corr = statistics.correlation(sizes, [p[1] for p in points])
    if slope < SCAN_MS_PER_MB or corr < 0.9:
        return []
    biggest = max(points)
    smallest = min(points)
    key = front(ctx.hop1) if front_box_reasons(ctx) else ctx.hop1
    return [
        Placed(
            key,
            HopAction(
                Action.SCANS,
                f"scans inline: its final reply takes {slope:.0f} ms more per MB (r = {corr:.2f})",
                condition="every message; time grows with size",
                evidence=(
                    Evidence(
                        "timing",
                        f"{_human(smallest[0])} bytes: final reply after {smallest[1]:.0f} ms",
                        smallest[2],
                    ),
                    Evidence(
                        "timing",
                        f"{_human(biggest[0])} bytes: final reply after {biggest[1]:.0f} ms",
                        biggest[2],
                    ),
                ),
                confidence=Confidence.MEDIUM,
                rule="scan-timing",
                variants=tuple(sorted({p[2] for p in points})),
            ),
        )
    ]


def rule_greylisting(ctx: Context) -> list[Placed]:
    evidence = []
    for send in ctx.sends:
        temp = [a for a in send.attempts if a.outcome is Outcome.TEMP_FAILED]
        if temp and send.outcome is Outcome.ACCEPTED:
            reply = _last_reply(temp[0])
            evidence.append(
                Evidence(
                    "transcript",
                    f"{_line(reply, temp[0].stage)}; accepted on attempt {len(send.attempts)}",
                    send.variant,
                )
            )
    if not evidence:
        return []
    texts = " ".join(e.text for e in evidence)
    return [
        Placed(
            ctx.hop1,
            HopAction(
                Action.GREYLISTS,
                "greylists: defers the first attempt, accepts a retry",
                condition="first attempt per sender and recipient",
                evidence=tuple(evidence[:3]),
                confidence=Confidence.HIGH if _GREYLIST.search(texts) else Confidence.MEDIUM,
                rule="greylisting",
                variants=tuple(e.variant for e in evidence),
            ),
        )
    ]


def _last_reply(conv: Conversation) -> Reply | None:
    for step in reversed(conv.steps):
        if step.reply is not None and step.name != "quit":
            return step.reply
    rcpts = [r.reply for r in conv.rcpt_results if r.reply is not None]
    by_stage = {
        "data-end": conv.final_reply,
        "data": conv.data_reply,
        "mail": conv.mail_reply,
        "rcpt": rcpts[-1] if rcpts else None,
        "banner": conv.banner,
    }
    return by_stage.get(conv.stage)


def rule_tls_lost(ctx: Context) -> list[Placed]:
    placed = []
    for analysis in ctx.analyses.values():
        if analysis.trace is None:
            continue
        hops = analysis.trace.hops
        for link_ in analysis.trace.links:
            if link_.tls_change == "stops" and 0 < link_.index < len(hops):
                prev = (hops[link_.index - 1].by_host or "").lower().rstrip(".")
                cur = hops[link_.index]
                placed.append(
                    Placed(
                        prev or ctx.hop1,
                        HopAction(
                            Action.LOSES_TLS,
                            "relays in plaintext what reached it over TLS",
                            condition="always",
                            evidence=(
                                Evidence("header", f"Received: {cur.raw[:160]}", analysis.variant),
                            ),
                            confidence=Confidence.MEDIUM,
                            rule="tls-lost",
                            variants=(analysis.variant,),
                        ),
                    )
                )
                break
        if placed:
            break
    return placed


def _joined(items: Iterable[str]) -> str:
    return ", ".join(items)


_BROKEN = {
    Outcome.TIMEOUT,
    Outcome.DISCONNECTED,
    Outcome.RESET,
    Outcome.GARBAGE,
    Outcome.TLS_FAILED,
    Outcome.REFUSED,
    Outcome.UNREACHABLE,
}


def rule_failures(ctx: Context) -> list[Placed]:
    """Variants that broke the conversation (cut, hang, garbage) or stayed deferred, while
    others got through: the condition is what they share."""
    passed = [s for s in ctx.sends if s.outcome is Outcome.ACCEPTED]
    if not passed:
        return []  # nothing to compare with: `decide` reports it as not measured
    key = front(ctx.hop1) if front_box_reasons(ctx) else ctx.hop1
    placed = []
    broken = [s for s in ctx.sends if s.outcome in _BROKEN]
    groups: dict[tuple[Outcome, str], list[VariantSend]] = {}
    for send in broken:
        groups.setdefault((send.outcome, send.stage), []).append(send)
    for (outcome, stage), sends in groups.items():
        condition = _condition(sends, passed, ctx)
        placed.append(
            Placed(
                key,
                HopAction(
                    Action.REJECTS,
                    f"breaks off the conversation ({outcome} at {stage}) for {condition}",
                    condition=condition,
                    evidence=tuple(
                        Evidence("transcript", f"{s.outcome} at {s.stage}: {s.reason}", s.variant)
                        for s in sends[:4]
                    ),
                    confidence=Confidence.MEDIUM,
                    rule="conversation-broken",
                    variants=tuple(s.variant for s in sends),
                ),
            )
        )
    deferred = [s for s in ctx.sends if s.outcome is Outcome.TEMP_FAILED]
    if deferred:
        reply = deferred[0].reply
        placed.append(
            Placed(
                key,
                HopAction(
                    Action.DELAYS,
                    f"keeps deferring {_condition(deferred, passed, ctx)} "
                    f"with `{reply.code if reply else ''} {reply.text if reply else ''}`".strip(),
                    condition=_condition(deferred, passed, ctx),
                    evidence=tuple(
                        Evidence(
                            "transcript",
                            _line(s.reply, s.stage) + f" after {len(s.attempts)} attempts",
                            s.variant,
                        )
                        for s in deferred[:4]
                    ),
                    confidence=Confidence.MEDIUM,
                    rule="deferred",
                    variants=tuple(s.variant for s in deferred),
                ),
            )
        )
    return placed


RULES: tuple[Rule, ...] = (
    rule_identity,
    rule_rejections,
    rule_failures,
    rule_bounces,
    rule_drops_and_junk,
    rule_injected_headers,
    rule_rewrites,
    rule_av,
    rule_scan_timing,
    rule_greylisting,
    rule_tls_lost,
)
