"""Where a header a hop added places that hop: position in the header block, the Received
headers around it, products that write it (pure)."""

from __future__ import annotations

from probe.analyze import fingerprint
from probe.decide.context import Context
from probe.decide.rules.common import is_middlebox
from probe.model.diff import Change, ChangeKind
from probe.model.verdict import HopKey


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
