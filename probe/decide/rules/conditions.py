"""What separates the variants a hop refused from those it passed: the condition a verdict
states (pure).

A condition is only a condition when it separates: a property every refused variant has and no
passed one has (`traits`), else two such properties together ("with an attachment sent to
several recipients at once"). A property all variants share is never one: when nothing passed,
the condition is "every message"; when no property separates, the condition says so. When
several properties separate equally (the variants sent cannot tell them apart), the first in
`Trait` order is named and the others are listed as also consistent.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Sequence

from probe.decide.context import Context
from probe.decide.rules.common import human
from probe.decide.rules.traits import Facts, Predicate, Trait, facts_of, shared_predicates
from probe.model.send import VariantSend
from probe.model.variant import Expect
from probe.model.verdict import Confidence

_NEAR = 1.05  # a size limit between variants closer than this is incidental to another property
_ALSO = 3  # alternatives named at most

EVERY = "every message"


@dataclasses.dataclass(frozen=True)
class Condition:
    """The condition of a verdict: `phrase` goes into its sentence ("rejects <phrase> with ..."),
    `text` is the whole statement, with the alternatives or why nothing separates."""

    phrase: str
    text: str
    traits: tuple[Trait, ...] = ()  # the separating properties (empty: none, or every message)
    every: bool = False  # nothing passed
    also: tuple[str, ...] = ()  # other conditions the variants fit equally

    @property
    def separates(self) -> bool:
        return bool(self.traits) or self.every

    def confidence(self, given: Confidence) -> Confidence:
        """A verdict whose condition nothing separates is one step less sure."""
        if self.separates:
            return given
        return Confidence.MEDIUM if given is Confidence.HIGH else Confidence.LOW


def separate(
    failed: Sequence[VariantSend],
    passed: Sequence[VariantSend],
    ctx: Context,
    named: Trait | None = None,
) -> Condition:
    """The condition that separates `failed` from `passed` (order-independent); with nothing
    passed, from the variants that failed in another way; "every message" when there are none.
    `named`: the property the refusal's own reply names (loop protection: the Received count),
    chosen without alternatives when it separates."""
    failed = sorted(failed, key=lambda s: s.variant)
    names = {s.variant for s in failed}
    passed = sorted((s for s in passed if s.variant not in names), key=lambda s: s.variant)
    if not passed:  # nothing passed: the others are those that failed otherwise
        passed = [s for s in ctx.sends if s.measured and s.variant not in names]
        passed.sort(key=lambda s: s.variant)
    if not passed:
        return Condition(EVERY, EVERY, every=True)
    f_facts = [facts_of(s, ctx.specs.get(s.variant)) for s in failed]
    p_facts = [facts_of(s, ctx.specs.get(s.variant)) for s in passed]
    candidates = shared_predicates(f_facts, p_facts)
    found = _separating(candidates, p_facts)
    if not found:
        return Condition(
            "some messages",
            "no property of the variants separates them: "
            f"{', '.join(names_of(failed))} refused; {', '.join(names_of(passed))} passed",
        )
    said = [e for e in found if len(e) == 1 and e[0].trait is named]
    best, *rest = said or found
    rest = [] if said else rest
    phrase = _phrase(best, ctx)
    also = tuple(_phrase(p, ctx) for p in rest[:_ALSO])
    if also:
        others = "; or ".join(a.removeprefix("messages ") for a in also)
        phrase = f"{phrase} (or {others}: the variants sent do not tell which)"
    return Condition(phrase, phrase, tuple(p.trait for p in best), also=also)


def condition_of(failed: list[VariantSend], passed: list[VariantSend], ctx: Context) -> str:
    """The condition's whole statement (for rules that need only the words)."""
    return separate(failed, passed, ctx).text


def names_of(sends: Iterable[VariantSend]) -> list[str]:
    return sorted(s.variant for s in sends)


def _separating(candidates: list[Predicate], passed: list[Facts]) -> list[tuple[Predicate, ...]]:
    """The explanations no passed variant fits, best first: a property other than size, else
    two of them together, else size (alone, then with another). A size limit between variants
    less than `_NEAR` apart is named only when nothing else separates them: a variant with more
    in it is a little bigger. A kind list is no other explanation where any attachment is."""
    alone = [p for p in candidates if not any(p.holds(f) for f in passed)]
    if any(p.trait is Trait.ATTACHMENT for p in alone):
        alone = [p for p in alone if p.trait is not Trait.ATTACHMENT_KIND]
    singles: list[tuple[Predicate, ...]] = [(p,) for p in alone]
    pairs: list[tuple[Predicate, ...]] = [
        (a, b)
        for a, b in itertools.combinations(candidates, 2)
        if a.trait is not b.trait and not any(a.holds(f) and b.holds(f) for f in passed)
    ]
    tiers: list[list[tuple[Predicate, ...]]] = [
        [e for e in singles if not _sized(e)],
        [e for e in pairs if not _sized(e)],
        [e for e in singles if _sized(e)],
        [e for e in pairs if _sized(e)],
    ]
    found = next((list(tier) for tier in tiers if tier), [])
    if found and not _sized(found[0]):
        found += [e for e in tiers[2] if _clear_gap(e[0], passed)]
    return found


def _sized(explanation: tuple[Predicate, ...]) -> bool:
    return any(p.trait is Trait.SIZE for p in explanation)


def _clear_gap(size: Predicate, passed: list[Facts]) -> bool:
    low = size.figure or 0
    below = [f.size for f in passed if f.size is not None and f.size < low]
    return not below or low >= max(below) * _NEAR


def _phrase(predicates: tuple[Predicate, ...], ctx: Context) -> str:
    words = " ".join(_words(p, ctx) for p in predicates)
    limits = " ".join(p.limit for p in predicates if p.limit and not _searched(p, ctx))
    return f"messages {words}" + (f" {limits}" if limits else "")


def _words(predicate: Predicate, ctx: Context) -> str:
    found = _searched(predicate, ctx)
    return f"of {human(found)} bytes and more" if found else predicate.words


def _searched(predicate: Predicate, ctx: Context) -> int | None:
    """The threshold search's exact limit, for a size condition it does not contradict."""
    thr = ctx.run.threshold
    if predicate.trait is not Trait.SIZE or thr is None or thr.search.threshold is None:
        return None
    limit = thr.search.threshold
    return limit if predicate.figure is None or limit <= predicate.figure else None


def expected_rejection(ctx: Context, send: VariantSend) -> bool:
    spec = ctx.specs.get(send.variant)
    return spec is not None and spec.expect is Expect.REJECT_OK
