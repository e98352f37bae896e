"""Which hop made a body change: the one that left marks of the same change in the same copy
(a field naming the removed attachment, a scanner's field for a stripped part, the fields added
with it), with the marks' own ambiguity; with no mark, any visible hop (pure)."""

from __future__ import annotations

import re

from probe.analyze import authorship, fingerprint
from probe.decide.context import Context
from probe.decide.rules.common import VIRUS
from probe.decide.rules.headers import HeaderPlace, Injected, latest_first, stamps_of
from probe.model.diff import Change, ChangeKind
from probe.model.trace import Hop
from probe.model.verdict import HopKey

STRIPPED = frozenset({ChangeKind.PART_REMOVED, ChangeKind.ATTACHMENT_REPLACED})
_FILENAME = re.compile(r"'([^']{1,255})'")


def change_place(
    ctx: Context, variant: str, change: Change, injected: list[Injected]
) -> HeaderPlace:
    """The hop the marks of this change point at, and how sure that is."""
    mine = [i for i in injected if i.variant == variant and authorship.content_mark(i.name)]
    found = _FILENAME.search(change.before)
    filename = found.group(1).lower() if found else ""
    naming = [i for i in mine if filename and filename in i.value.lower()]
    scanners = [i for i in mine if is_scanner_header(i)] if change.kind in STRIPPED else []
    for marks, what in (
        (naming, f"which names {filename}"),
        (scanners, "a scanner's header"),
        (mine, "added to the same copy"),
    ):
        if marks:
            return joint(marks, what)
    return unmarked(ctx, stamps_of(ctx, variant))


def joint(marks: list[Injected], what: str) -> HeaderPlace:
    """One place for several marks: a hop every certain mark names, else the first mark's
    likeliest hop with every other candidate as an alternative."""
    certain = list(dict.fromkeys(m.place.hop for m in marks if m.place.certain))
    names = ", ".join(dict.fromkeys(m.name for m in marks))
    if len(certain) == 1:
        return HeaderPlace(certain[0], reason=f"the change goes with {names}, {what}")
    ordered = list(dict.fromkeys(k for m in marks for k in (m.place.hop, *m.place.alternatives)))
    reasons = "; ".join(dict.fromkeys(m.place.reason for m in marks if m.place.reason))
    return HeaderPlace(
        ordered[0], tuple(ordered[1:]), f"the change goes with {names}, {what}; {reasons}"
    )


def unmarked(ctx: Context, stamps: tuple[Hop, ...]) -> HeaderPlace:
    """No mark: the only visible hop, else each of them (`headers.latest_first`)."""
    hosts = list(dict.fromkeys(ctx.path)) or [ctx.hop1]
    keys = [HopKey.at(h) for h in latest_first(hosts, stamps)]
    return HeaderPlace(
        keys[0], tuple(keys[1:]), "no header or other mark of the same change names the hop"
    )


def is_scanner_header(item: Injected) -> bool:
    if VIRUS.search(item.name):
        return True
    matches = fingerprint.match_products(
        fingerprint.shipped_knowledge(), fingerprint.observe_headers(((item.name, item.value),))
    )
    return any(m.role is fingerprint.Role.SCANNER for m in matches)
