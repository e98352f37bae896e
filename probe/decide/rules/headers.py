"""Who added a header field: the product that writes it, the host it names, the queue id it
carries, the hop whose Received shows its product, and only then its position (pure).

Position narrows but does not decide. A field between the Received of hop b (below, older) and
hop a (above) can come from b (prepended after its own Received), from a (written below its own
Received: milters, qpsmtpd, OpenDKIM, content filters) or from a box between them; one below
every Received from the first hop or a box in front of it; one among the message's own fields
(a milter's, appended at the end) from any hop. What the evidence cannot decide is a
`HeaderPlace` with alternatives and the reason. A box is inferred only from what the MTA beside
it cannot have written: a middlebox product's field (X-CheckPoint is Check Point's wherever it
sits), never a field MTAs write themselves (`analyze.authorship.self_written`).
"""

from __future__ import annotations

import dataclasses
import re

from probe.analyze import authorship, fingerprint
from probe.decide.context import Context
from probe.decide.rules.common import is_middlebox
from probe.model.diff import Change, ChangeKind
from probe.model.trace import Hop
from probe.model.trace import HopKind as TraceKind
from probe.model.verdict import HopKey

MIN_QUEUE_ID = 6  # characters of a Received id that count when a field repeats it
MIN_PRODUCT = 4  # characters of a Received's product comment that count when a field names it


@dataclasses.dataclass(frozen=True)
class HeaderPlace:
    """The likeliest writer of a field, the others the evidence leaves open, and why."""

    hop: HopKey
    alternatives: tuple[HopKey, ...] = ()
    reason: str = ""
    box: bool = False  # written by a middlebox product

    @property
    def certain(self) -> bool:
        return not self.alternatives


@dataclasses.dataclass(frozen=True)
class Injected:
    """A non-trace field a hop added to one variant's copy, with its writer."""

    place: HeaderPlace
    name: str
    value: str
    variant: str

    @property
    def header(self) -> str:
        return f"{self.name}: {self.value}"


def attributed_headers(ctx: Context) -> list[Injected]:
    """Every non-trace field a hop added, in variant and header order, with its writer."""
    out = []
    for analysis in ctx.analyses.values():
        if analysis.diff is None:
            continue
        stamps = analysis.trace.hops if analysis.trace is not None else ()
        added = [
            c
            for c in analysis.diff.findings
            if c.kind is ChangeKind.HEADER_ADDED and c.placement is not None
        ]
        places = [header_place(ctx, c, analysis.probe_id, stamps) for c in added]
        for change, place in zip(added, _with_companions(added, places), strict=True):
            out.append(Injected(place, change.where, change.after, analysis.variant))
    return out


def _with_companions(added: list[Change], places: list[HeaderPlace]) -> list[HeaderPlace]:
    """An undecided field takes the writer of a decided field its product writes with it
    between the same two Received (clamav-milter's X-Virus-Status beside X-Virus-Scanned)."""
    out = []
    for change, place in zip(added, places, strict=True):
        if not place.certain:
            for other, decided in zip(added, places, strict=True):
                if (
                    decided.certain
                    and _between(other) == _between(change)
                    and authorship.companions(change.where, other.where)
                ):
                    place = dataclasses.replace(
                        decided, reason=f"written with {other.where} ({decided.reason})"
                    )
                    break
        out.append(place)
    return out


def _between(change: Change) -> tuple[str, str]:
    place = change.placement
    return (_host(place.received_below_by), _host(place.received_above_by)) if place else ("", "")


def _neighbours(change: Change, stamps: tuple[Hop, ...]) -> tuple[str, str]:
    """The hosts of the Received directly below and above a field ("" where there is none). A
    content filter's `by localhost` stamp is the host it runs on (`_via`, else the host of the
    stamp before it): amavis between two Received of one MTA is that MTA's."""
    below, above = _between(change)
    place = change.placement
    if place is None or len(stamps) != place.received_total:
        return below, above
    under = place.received_total - 1 - place.received_above  # origin-first index of `below`
    if below in authorship.NOT_A_HOST:
        below = _real_host(stamps, under)
    if above in authorship.NOT_A_HOST:
        above = _real_host(stamps, under + 1)
    return below, above


def _real_host(stamps: tuple[Hop, ...], index: int) -> str:
    """The host stamp `index` (origin first) runs on: its own name, its `by localhost (host)`
    name, else that of the nearest stamp before it."""
    for stamp in reversed(stamps[: index + 1]):
        name = _host(stamp.by_host)
        if name and name not in authorship.NOT_A_HOST:
            return name
        if _via(stamp):
            return _via(stamp)
    return ""


def injected_headers(ctx: Context) -> list[tuple[HopKey, str, str]]:
    """(likeliest writer, 'Name: value', variant) for every non-trace field a hop added."""
    return [(i.place.hop, i.header, i.variant) for i in attributed_headers(ctx)]


def header_place(
    ctx: Context, change: Change, probe_id: str, stamps: tuple[Hop, ...] = ()
) -> HeaderPlace:
    """Who wrote an added field, from the strongest evidence there is (see the module)."""
    place = change.placement
    assert place is not None
    below, above = _neighbours(change, stamps)
    in_place = inserted_in_place(ctx, probe_id, place.index)
    hosts = _hosts(stamps) or list(ctx.path)
    name, value = change.where, change.after
    box = middlebox_product(name, value)
    if box:
        return HeaderPlace(
            _box_key(ctx, below, above, in_place), reason=f"{name} is {box}'s", box=True
        )
    claim = authorship.named_host(name, value)
    named = authorship.names_hop(claim, hosts) if claim is not None else ()
    if claim is not None and named:
        keys = [HopKey.at(h) for h in _nearest_first(named, below, above)]
        return HeaderPlace(keys[0], tuple(keys[1:]), f"{name} names {claim.host}")
    by_id = _queue_id_host(stamps, value)
    if by_id:
        return HeaderPlace(HopKey.at(by_id), reason=f"{name} carries {by_id}'s queue id")
    candidates, reason = _by_position(ctx, name, (below, above, in_place), hosts, stamps)
    if claim is not None:
        reason += f"; it names {claim.host}, which wrote no Received"
    visible = [k for k in candidates if k.visible]
    own = _product_hops(name, value, [k.host for k in visible], stamps)
    if len(own) == 1:
        return HeaderPlace(HopKey.at(own[0]), reason=f"only {own[0]}'s Received shows its product")
    return HeaderPlace(candidates[0], tuple(candidates[1:]), reason)


def _by_position(
    ctx: Context,
    name: str,
    where: tuple[str, str, bool],
    hosts: list[str],
    stamps: tuple[Hop, ...],
) -> tuple[list[HopKey], str]:
    """The candidate writers by position alone, likeliest first, and why they are candidates."""
    below, above, in_place = where
    mta_field = authorship.self_written(name)
    if in_place and hosts:
        keys = [HopKey.at(h) for h in latest_first(hosts, stamps)]
        return keys, (
            f"{name} sits among the message's own fields, where milters and header rules of "
            "any hop put theirs"
        )
    if not below:
        first = above or ctx.hop1
        if mta_field:
            return [HopKey.at(first)], f"{first} writes {name} below its own Received"
        return [HopKey.at(first), HopKey.front(first)], (
            f"{name} sits below every Received: written by {first} below its own, or by a box "
            "in front of it"
        )
    if not above:
        if mta_field:
            return [HopKey.at(below)], f"{below} writes {name} above its own Received"
        return [HopKey.at(below), HopKey.after(below)], (
            f"{name} sits above every Received: written by {below} after its own, or on delivery"
        )
    if below == above:
        return [HopKey.at(below)], f"{name} sits between two Received of {below}"
    if above in _stores(stamps):  # a store's filters (Sieve) write above its own Received
        if mta_field:
            return [HopKey.at(below)], f"{below} writes {name} above its own Received"
        return [HopKey.at(below), HopKey.link(below, above)], (
            f"{name} sits between the Received of {below} and the store {above}: written by "
            f"{below} above its own, or by a box between them"
        )
    keys = [HopKey.at(below), HopKey.at(above)] + ([] if mta_field else [HopKey.link(below, above)])
    return keys, (
        f"{name} sits between the Received of {below} and {above}: written by {below} above "
        f"its own, by {above} below its own" + ("" if mta_field else ", or by a box between them")
    )


def _box_key(ctx: Context, below: str, above: str, in_place: bool) -> HopKey:
    """Where a middlebox's field puts the box: in front of the hop whose Received is above it."""
    if in_place or (not below and not above):
        return HopKey.front(ctx.hop1)
    if not below:
        return HopKey.front(above)
    if not above:
        return HopKey.after(below)
    if below == above:
        return HopKey.after(below)
    return HopKey.link(below, above)


def middlebox_product(name: str, value: str) -> str:
    """The middlebox product that writes this field ("" when none does)."""
    matches = fingerprint.match_products(
        fingerprint.shipped_knowledge(), fingerprint.observe_headers(((name, value),))
    )
    return next((m.summary or m.name for m in matches if is_middlebox(m)), "")


def added_by_middlebox(change: Change) -> bool:
    return bool(middlebox_product(change.where, change.after))


def _product_hops(name: str, value: str, hosts: list[str], stamps: tuple[Hop, ...]) -> list[str]:
    """The candidate hosts whose own Received names the product that writes this field: by the
    fingerprints of both, or by the field's value naming the product its Received names in its
    `by` comment (`X-Virus-Scanned: probe-test-scanner 1.0` below `by scan.example
    (probe-test-scanner 1.0)`)."""
    known = fingerprint.shipped_knowledge()
    field = fingerprint.match_products(known, fingerprint.observe_headers(((name, value),)))
    writers = {p for m in field for p in (m.product, *m.alternatives)}
    text = " ".join(value.lower().split())
    found = []
    for host in dict.fromkeys(hosts):
        own = [s for s in stamps if _host(s.by_host) == host or _via(s) == host]
        stamped = fingerprint.match_products(
            known, fingerprint.Observations(received=tuple(s.raw for s in own))
        )
        by_print = writers & {p for m in stamped for p in (m.product, *m.alternatives)}
        if by_print or any(_names_product(text, s.by_product) for s in own):
            found.append(host)
    return found


def _names_product(text: str, by_product: str | None) -> bool:
    """Whether a field's value names the product of a Received's `by` comment ("Exim 4.96",
    "amavisd-new", the first part before a comma), as a whole word of at least four letters."""
    product = " ".join((by_product or "").split(",")[0].lower().split())
    if len(product) < MIN_PRODUCT:
        return False
    return re.search(rf"(?<![\w.-]){re.escape(product)}(?![\w.-])", text) is not None


_VIA = re.compile(r"\bby localhost \(([\w.-]+)", re.I)


def _via(stamp: Hop) -> str:
    """The host a content filter's `by localhost (host [127.0.0.1])` stamp runs on."""
    found = _VIA.search(stamp.raw[:500])
    return _host(found.group(1)) if found else ""


def _queue_id_host(stamps: tuple[Hop, ...], value: str) -> str:
    """The host whose Received id the field repeats (OpenDKIM's DKIM-Filter does)."""
    words = set(re.split(r"[\s;,()\[\]<>]+", value))
    hosts = {
        _host(s.by_host)
        for s in stamps
        if s.id and len(s.id) >= MIN_QUEUE_ID and s.id in words and _host(s.by_host)
    }
    return next(iter(hosts)) if len(hosts) == 1 else ""


def _nearest_first(hosts: tuple[str, ...], below: str, above: str) -> list[str]:
    return sorted(hosts, key=lambda h: (h not in (above, below), h != above))


_DELIVERY = frozenset({TraceKind.LMTP, TraceKind.LOCAL, TraceKind.FETCH})


def latest_first(hosts: list[str], stamps: tuple[Hop, ...]) -> list[str]:
    """The hosts any of which may have written a field among the message's own or changed the
    body: the MTAs, the last first. A mailbox store that only stamps of delivery name (LMTP,
    local, fetch) is one only when no MTA is left: a store's filters (Sieve) write at the top
    of the header block and leave the body alone."""
    stores = _stores(stamps)
    ordered = [h for h in reversed(dict.fromkeys(hosts)) if h not in authorship.NOT_A_HOST]
    return [h for h in ordered if h not in stores] or ordered


def _stores(stamps: tuple[Hop, ...]) -> set[str]:
    """The mailbox stores: hosts only stamps of delivery (LMTP, local, fetch) name."""
    stores = {_host(s.by_host) for s in stamps if s.kind in _DELIVERY}
    return stores - {_host(s.by_host) for s in stamps if s.kind not in _DELIVERY}


def stamps_of(ctx: Context, variant: str) -> tuple[Hop, ...]:
    """A variant's Received stamps, origin first (none when its copy has no trace)."""
    for analysis in ctx.analyses.values():
        if analysis.variant == variant and analysis.trace is not None:
            return analysis.trace.hops
    return ()


def _hosts(stamps: tuple[Hop, ...]) -> list[str]:
    """The hosts of a copy's Received stamps, origin first, each once ("localhost" is none)."""
    names = dict.fromkeys(_host(s.by_host) for s in stamps)
    return [h for h in names if h and h not in authorship.NOT_A_HOST]


def _host(name: str | None) -> str:
    return (name or "").rstrip(".").lower()


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


def first_hop(ctx: Context) -> HopKey:
    """The first visible MTA (hop 1 by its trace name)."""
    return HopKey.at(ctx.hop1)
