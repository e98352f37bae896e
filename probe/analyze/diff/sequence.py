"""difflib's opcodes within a budget of work linear in the input (pure).

`difflib.SequenceMatcher` (with autojunk off, as the diff needs: a repeated line is no junk) is
quadratic or worse on long runs of equal items and on many scattered changes: 8,000 equal lines
took 17 s. Here each of its searches is charged, before it runs, what it can cost at most (its
range of `a` plus every position in `b` of each item there), and the matcher stops when the
budget is spent. Then the common prefix and suffix are taken off and the rest is tried once
more, which finds an insertion into a long run; when that too runs out, the caller says so.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Final

WORK_PER_ITEM: Final = 12  # comparisons allowed per item of a and b (about 1 us each)
WORK_BASE: Final = 10_000  # so that short sequences are always matched in full

Opcode = tuple[str, int, int, int, int]


def budget(len_a: int, len_b: int) -> int:
    """The comparisons `opcodes` may spend on sequences of these lengths."""
    return WORK_BASE + WORK_PER_ITEM * (len_a + len_b)


def opcodes(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[Opcode] | None:
    """difflib's opcodes turning `a` into `b`, or None when they would cost more than `budget`."""
    work = budget(len(a), len(b))
    try:
        return list(_Budgeted(a, b, work).get_opcodes())
    except _OverBudget:
        pass
    p = common_prefix(a, b)
    s = common_prefix(a[p:][::-1], b[p:][::-1])
    if not p and not s:
        return None
    try:
        inner = _Budgeted(a[p : len(a) - s], b[p : len(b) - s], work).get_opcodes()
    except _OverBudget:
        return None
    ops: list[Opcode] = [("equal", 0, p, 0, p)] if p else []
    ops += [(op, i1 + p, i2 + p, j1 + p, j2 + p) for op, i1, i2, j1, j2 in inner]
    if s:
        ops.append(("equal", len(a) - s, len(a), len(b) - s, len(b)))
    return ops


def common_prefix(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """How many leading items a and b share (binary search on slices: fast on long strings)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _OverBudget(Exception):
    pass


class _Budgeted(difflib.SequenceMatcher[Hashable]):
    def __init__(self, a: Sequence[Hashable], b: Sequence[Hashable], work: int) -> None:
        super().__init__(None, a, b, autojunk=False)
        self._left = work
        in_b = Counter(b)
        cost = [0]  # cost[i]: positions in b of the items a[:i], summed
        for item in a:
            cost.append(cost[-1] + in_b[item])
        self._cost = cost

    def find_longest_match(
        self, alo: int = 0, ahi: int | None = None, blo: int = 0, bhi: int | None = None
    ) -> difflib.Match:
        top = len(self._cost) - 1 if ahi is None else ahi
        self._left -= self._cost[top] - self._cost[alo] + (top - alo) + 1
        if self._left < 0:
            raise _OverBudget
        return super().find_longest_match(alo, ahi, blo, bhi)
