"""In-protocol rejections: which refusal, on what condition, for what cause, and what its reply
means (pure).

Refusals are grouped by stage, code and the shape of the text (ids and addresses left out), in
variant order, so the same run gives the same verdict whatever order its variants came in. A
refusal whose cause is known (`causes`) says it ("requires TLS", "protects against mail loops");
one every variant got is "every message", with the reply's reason; a TLS requirement that
STARTTLS never reached is stated as the consequence of what withheld it.
"""

from __future__ import annotations

import re

from probe.analyze.code_tables import words
from probe.decide.context import Context, Placed
from probe.decide.rules.causes import Cause, CauseKind, cause_of
from probe.decide.rules.common import VIRUS, first_sentence, place, reply_line
from probe.decide.rules.conditions import Condition, expected_rejection, separate
from probe.decide.rules.identity import rejection_host, starttls_withheld
from probe.decide.rules.known_cases import known_case
from probe.decide.rules.meaning import reply_meaning
from probe.decide.rules.traits import Trait
from probe.model.send import VariantSend
from probe.model.smtp import Outcome
from probe.model.verdict import Action, Confidence, Evidence, HopKey

_VARYING = re.compile(r"<[^>]*>|\{[^}]*\}|\[[^\]]*\]|\([^)]*\)")  # addresses, ids, hosts

_STAGE_WORDS = {"mail": "MAIL FROM", "rcpt": "RCPT TO", "data": "DATA", "data-end": "end of data"}


def refusal_groups(sends: list[VariantSend]) -> list[list[VariantSend]]:
    """Refused variants grouped by stage, code and text shape, in a stable order."""
    groups: dict[tuple[str, int | None, str], list[VariantSend]] = {}
    for send in sorted(sends, key=lambda s: s.variant):
        reply = send.reply
        shape = words(_VARYING.sub(" ", first_sentence(reply.text))) if reply else ""
        groups.setdefault((str(send.stage), reply.code if reply else None, shape), []).append(send)
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1] or 0, k[2]))]


def rule_rejections(ctx: Context) -> list[Placed]:
    """In-protocol rejections with their condition, cause and meaning."""
    rejected = [s for s in ctx.sends if s.outcome is Outcome.REJECTED]
    passed = [s for s in ctx.sends if s.outcome is Outcome.ACCEPTED]
    placed: list[Placed] = []
    for sends in refusal_groups(rejected):
        eicar = [s for s in sends if (spec := ctx.specs.get(s.variant)) and spec.eicar]
        if len(eicar) == len(sends):
            continue  # rule_av speaks of these
        reply = sends[0].reply
        cause = cause_of(reply)
        condition = separate(sends, passed, ctx, cause.trait if cause else None)
        key, why = _refuser(ctx, sends, cause)
        evidence = [
            Evidence("transcript", reply_line(s.reply, s.stage), s.variant) for s in sends[:4]
        ]
        if why:
            evidence.append(Evidence("fingerprint", why))
        text = first_sentence(reply.text) if reply else ""
        code = reply.code if reply else ""
        meaning = reply_meaning(reply.code, reply.text) if reply else None
        if VIRUS.search(text):
            placed.append(
                place(
                    key,
                    Action.SCANS,
                    f"scans content: its rejection says `{text}`",
                    condition=condition.text,
                    evidence=evidence[:1],
                    confidence=Confidence.HIGH,
                    rule="scan-rejection",
                    variants=(s.variant for s in sends),
                )
            )
        loop = cause is not None and cause.kind is CauseKind.LOOP
        if all(expected_rejection(ctx, s) for s in sends) and not loop:
            continue  # a rejection the profile allows (SIZE+1, 101 recipients, ...)
        said = f"`{code} {text}`"
        summary = f"rejects {_at(condition, sends)} with {said}"
        check = ""
        if cause is not None and cause.kind is not CauseKind.SIZE:
            summary = f"{cause.names}: {summary}" + _consequence(ctx, cause)
            check = "loop-protection" if loop else ""
        elif condition.every and meaning is not None:
            summary += f": {meaning.meaning}"
        if not check:
            summary, check = size_judgement(ctx, sends, condition, summary)
        case = known_case(Action.REJECTS, condition)
        if case is not None:
            summary += case.clause()
            evidence.append(case.evidence())
        placed.append(
            place(
                key,
                Action.REJECTS,
                summary,
                condition=condition.text,
                evidence=evidence,
                confidence=condition.confidence(Confidence.HIGH),
                rule="loop-protection" if loop else "in-protocol-rejection",
                check=check,
                variants=(s.variant for s in sends),
                reply=meaning,
            )
        )
    return placed


def _at(condition: Condition, sends: list[VariantSend]) -> str:
    """`every message at MAIL FROM` when nothing passed: where it stops matters then."""
    stage = _STAGE_WORDS.get(str(sends[0].stage), "")
    return f"{condition.phrase} at {stage}" if condition.every and stage else condition.phrase


def _refuser(ctx: Context, sends: list[VariantSend], cause: Cause | None) -> tuple[HopKey, str]:
    """Who refused: a demand for the TLS that something in front withheld comes from behind it;
    else as `identity.rejection_host` finds."""
    if cause is not None and cause.kind is CauseKind.TLS_REQUIRED and starttls_withheld(ctx):
        return HopKey.at(ctx.hop1), (
            "the reply demands STARTTLS, which hop 1's EHLO reply did not offer: it comes from "
            "the MTA behind whatever withheld it"
        )
    return rejection_host(ctx, sends)


def _consequence(ctx: Context, cause: Cause) -> str:
    """The chain: what explains this refusal, where another finding does."""
    if cause.kind is CauseKind.TLS_REQUIRED:
        withheld = starttls_withheld(ctx)
        if withheld:
            return f", because STARTTLS never reaches it: {withheld}"
    return f" ({cause.because})"


def size_judgement(
    ctx: Context, sends: list[VariantSend], condition: Condition, summary: str
) -> tuple[str, str]:
    """Set a size rejection beside the SIZE hop 1 advertises: above it is the hop keeping its
    word (check `size-above-advertised`), below it breaks its word (`size-below-advertised`).
    Only a rejection whose condition is size is a size rejection."""
    advertised = ctx.run.advertised_size
    sizes = [s.size for s in sends if s.size]
    if not advertised or len(sizes) != len(sends) or Trait.SIZE not in condition.traits:
        return summary, ""
    threshold = ctx.run.threshold.search.threshold if ctx.run.threshold else None
    smallest = threshold or min(sizes)
    if smallest > advertised:
        return f"{summary}: it enforces its advertised SIZE {advertised:,}", "size-above-advertised"
    return f"{summary}, below its advertised SIZE {advertised:,}", "size-below-advertised"
