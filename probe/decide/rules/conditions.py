"""What separates the variants a hop refused from those it passed: the condition a verdict
states (pure)."""

from __future__ import annotations

from probe.decide.context import Context
from probe.decide.rules.common import human
from probe.model.send import VariantSend
from probe.model.variant import Expect


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
