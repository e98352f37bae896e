"""Shared pieces of the decide rules: hop-1 identity, conditions across variants, where an
added header places its hop (pure).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from probe.analyze import fingerprint
from probe.decide.context import Context, Placed, SeenProduct
from probe.model.diff import Change, ChangeKind
from probe.model.send import VariantSend
from probe.model.smtp import Conversation, Outcome, Reply
from probe.model.variant import Expect
from probe.model.verdict import Action, Confidence, Evidence, HopAction, HopKey

Rule = Callable[[Context], list[Placed]]


def place(
    hop: HopKey,
    action: Action,
    summary: str,
    *,
    condition: str,
    evidence: Iterable[Evidence],
    confidence: Confidence,
    rule: str,
    variants: Iterable[str] = (),
    check: str = "",
    ambiguous: str = "",
    products: Iterable[SeenProduct] = (),
) -> Placed:
    """A rule's conclusion that `hop` takes `action`, on the evidence given (the one way the
    rules build a placed action)."""
    found = HopAction(
        action,
        summary,
        condition=condition,
        evidence=tuple(evidence),
        confidence=confidence,
        rule=rule,
        check=check,
        variants=tuple(variants),
    )
    return Placed(hop, found, tuple(products), ambiguous=ambiguous)


REWRITE_WORDS = {
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


# probe's own marker headers, which plan.craft writes: a change to one is no hop's rewrite (a run
# re-analysed by another probe version re-crafts another X-Probe, and with it another padding).
MARKER_HEADERS = frozenset({"x-probe", "x-probe-id", "x-probe-padding"})


GREYLIST = re.compile(r"grey|gray|try again later|temporar", re.I)


VIRUS = re.compile(r"virus|malware|infect|eicar|scan", re.I)


MB = 1024 * 1024


# Final-reply growth that means content inspection rather than writing to a queue: 500 ms per
# MB is slower than any MTA stores mail, even the embedded lab's Python servers (~75 ms/MB).
SCAN_MS_PER_MB = 500.0


BROKEN = {
    Outcome.TIMEOUT,
    Outcome.DISCONNECTED,
    Outcome.RESET,
    Outcome.GARBAGE,
    Outcome.TLS_FAILED,
    Outcome.REFUSED,
    Outcome.UNREACHABLE,
}


def reply_line(reply: Reply | None, stage: str) -> str:
    if reply is None:
        return f"{stage}: (no reply)"
    return f"{stage}: {reply.code} {reply.text}".strip()


def first_sentence(text: str) -> str:
    """`Permanent scan failure. Email Session ID: {...}` -> `Permanent scan failure`."""
    head = re.split(r"\.\s", text, maxsplit=1)[0]
    return head.rstrip(".") if head else text


def human(n: int) -> str:
    return f"{n:,}"


# --------------------------------------------------------------------------- hop 1 identity


def hop1_conversation(ctx: Context) -> Conversation | None:
    if ctx.run.hop1 is not None:
        return ctx.run.hop1
    for send in ctx.sends:
        if send.attempts:
            return send.attempts[-1]
    return None


def hop1_key(ctx: Context, *, in_front: bool) -> HopKey:
    """Hop 1: the box in front of the first MTA the trace names, or that MTA."""
    return HopKey.front(ctx.hop1) if in_front else HopKey.at(ctx.hop1)


def hop1_conversations(ctx: Context) -> list[Conversation]:
    """The capability probe plus the control's and every rejected variant's last attempt, so
    banner, EHLO, the MAIL/RCPT/354 texts and the rejection texts are all seen."""
    convs = [ctx.run.hop1] if ctx.run.hop1 is not None else []
    for send in ctx.sends:
        if send.attempts and (send.variant == "control" or send.outcome is Outcome.REJECTED):
            convs.append(send.attempts[-1])
    return convs


def hop1_matches(ctx: Context) -> list[fingerprint.ProductMatch]:
    parts = [fingerprint.observe_conversation(c) for c in hop1_conversations(ctx)]
    known = fingerprint.shipped_knowledge()
    return list(fingerprint.match_products(known, fingerprint.combine(*parts))) if parts else []


def trace_products(ctx: Context) -> set[str]:
    """Products the first Received header (written by the MTA behind hop 1) names."""
    if not ctx.first_received:
        return set()
    observed = fingerprint.Observations(received=(ctx.first_received,))
    matches = fingerprint.match_products(fingerprint.shipped_knowledge(), observed)
    return {m.product for m in matches} | {alt for m in matches for alt in m.alternatives}


def is_middlebox(match: fingerprint.ProductMatch) -> bool:
    return match.role is fingerprint.Role.MIDDLEBOX


def label(match: fingerprint.ProductMatch) -> str:
    return match.summary or match.name


def seen(match: fingerprint.ProductMatch) -> SeenProduct:
    """The match as a hop's product; its brand is the first candidate's own name, without the
    qualifier some names carry ("Sophos (Central Email / UTM)")."""
    return SeenProduct(label(match), match.name.partition(" (")[0])


def speaks_for_box(match: fingerprint.ProductMatch, traced: set[str]) -> bool:
    """A product seen at hop 1 that is not the MTA the trace names: the box in front speaks."""
    if is_middlebox(match):
        return True
    if not traced:
        return False
    return not ({match.product, *match.alternatives} & traced)


def product_evidence(match: fingerprint.ProductMatch) -> tuple[Evidence, ...]:
    return tuple(
        Evidence("fingerprint", f"{e.kind}: {e.observed} -> {match.name} ({e.signature})")
        for e in match.evidence
    )


def front_box_reasons(ctx: Context) -> list[Evidence]:
    """Why hop 1 is a box in front of the first MTA the trace names (empty: it is not)."""
    reasons: list[Evidence] = []
    traced = trace_products(ctx)
    for match in hop1_matches(ctx):
        if is_middlebox(match):
            reasons.extend(product_evidence(match))
        elif speaks_for_box(match, traced):
            reasons.append(
                Evidence(
                    "fingerprint",
                    f"hop 1 answers like {label(match)}, but the Received header of "
                    f"{ctx.hop1} names {', '.join(sorted(traced))}",
                )
            )
    for key, header, _variant in injected_headers(ctx):
        if key == HopKey.front(ctx.hop1):
            reasons.append(Evidence("header", f"{header} sits below every Received header"))
    return reasons


# --------------------------------------------------------------------------- rejections


def condition_of(rejected: list[VariantSend], passed: list[VariantSend], ctx: Context) -> str:
    """What the rejected variants share that the passed ones lack."""
    thr = ctx.run.threshold
    if thr is not None and thr.search.threshold is not None:
        return f"messages of {human(thr.search.threshold)} bytes and more"
    r_sizes = [s.size for s in rejected if s.size]
    p_sizes = [s.size for s in passed if s.size]
    if r_sizes and len(r_sizes) == len(rejected) and (not p_sizes or min(r_sizes) > max(p_sizes)):
        if p_sizes:
            return (
                f"messages of {human(min(r_sizes))} bytes and more (the limit lies between "
                f"{human(max(p_sizes))} and {human(min(r_sizes))} bytes)"
            )
        return f"messages of {human(min(r_sizes))} bytes and more"
    kinds = [attachment_kinds(ctx, s.variant) for s in rejected]
    common = set.intersection(*kinds) if kinds else set()
    passed_kinds = (
        set().union(*(attachment_kinds(ctx, s.variant) for s in passed)) if passed else set()
    )
    only = sorted(common - passed_kinds)
    if only:
        return f"messages with {', '.join(only)} attachments"
    return "variants " + ", ".join(s.variant for s in rejected)


def attachment_kinds(ctx: Context, variant: str) -> set[str]:
    spec = ctx.specs.get(variant)
    return {str(a.kind) for a in spec.attachments} if spec else set()


def expected_rejection(ctx: Context, send: VariantSend) -> bool:
    spec = ctx.specs.get(send.variant)
    return spec is not None and spec.expect is Expect.REJECT_OK


def rejection_host(ctx: Context, reply_texts: list[str]) -> tuple[HopKey, str]:
    """Where an in-protocol rejection comes from: the front box or hop 1's MTA."""
    for key, header, _ in injected_headers(ctx):
        value = header.partition(":")[2].strip()
        for text in reply_texts:
            fmt = fingerprint.same_id_format(fingerprint.shipped_knowledge(), text, value)
            if fmt:
                return (
                    key,
                    f"the reply's id and the injected {header.split(':')[0]} header "
                    f"share one format ({fmt})",
                )
    if front_box_reasons(ctx):
        return HopKey.front(ctx.hop1), "hop 1 is not the MTA the trace names"
    return HopKey.at(ctx.hop1), ""


# --------------------------------------------------------------------------- content


def injected_headers(ctx: Context) -> list[tuple[HopKey, str, str]]:
    """(hop key, 'Name: value', variant) for every non-trace header a hop added."""
    out = []
    for analysis in ctx.analyses.values():
        if analysis.diff is None:
            continue
        for change in analysis.diff.findings:
            if change.kind is ChangeKind.HEADER_ADDED and change.placement is not None:
                out.append(
                    (
                        header_hop(ctx, change, analysis.probe_id),
                        f"{change.where}: {change.after}",
                        analysis.variant,
                    )
                )
    return out


def header_hop(ctx: Context, change: Change, probe_id: str) -> HopKey:
    """Headers are prepended: one below the Received of hop k was added by hop k or a box.

    A header inserted among the original headers (Postfix `header_checks` PREPEND, Exchange
    transport rules) was not prepended, so its position names no hop: it goes to the first
    visible MTA, with the ambiguity stated by the rewrite rules.
    """
    place = change.placement
    assert place is not None
    if inserted_in_place(ctx, probe_id, place.index):
        return first_hop(ctx)
    below = (place.received_below_by or "").rstrip(".").lower()
    above = (place.received_above_by or "").rstrip(".").lower()
    if not below:
        return HopKey.front(above or ctx.hop1)
    if added_by_middlebox(change):
        return HopKey.link(below, above) if above else HopKey.after(below)
    return HopKey.at(below)


def inserted_in_place(ctx: Context, probe_id: str, index: int) -> bool:
    """Whether an original header of the sent message sits between this one and the nearest
    Received header above it."""
    copy = ctx.copies.get(probe_id)
    send = next((s for s in ctx.sends if s.probe_id == probe_id), None)
    if copy is None or send is None or send.manifest is None:
        return False
    original = {n.lower() for n in send.manifest.header_names} - {"received"}
    fields = ctx.fields.get(probe_id, ())
    for name, _value in reversed(fields[:index]):
        low = name.lower()
        if low == "received":
            return False
        if low in original:
            return True
    return False


def added_by_middlebox(change: Change) -> bool:
    matches = fingerprint.match_products(
        fingerprint.shipped_knowledge(),
        fingerprint.observe_headers(((change.where, change.after),)),
    )
    return any(is_middlebox(m) for m in matches)


def first_hop(ctx: Context) -> HopKey:
    """The first visible MTA (hop 1 by its trace name)."""
    return HopKey.at(ctx.hop1)
