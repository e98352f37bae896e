"""What the decide rules read: a run's observations indexed per variant, the path of visible hops
from the reference copy's Received trace (pure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping

from probe.analyze.authorship import NOT_A_HOST
from probe.analyze.run import PARSERS, Parsers, guarded
from probe.model.collect import Arrival, ArrivalStatus
from probe.model.message import DeliveredCopy
from probe.model.run import AnalysisPart, NotAnalysed, RunResult, VariantAnalysis
from probe.model.send import VariantSend
from probe.model.trace import Hop
from probe.model.variant import VariantSpec
from probe.model.verdict import Evidence, HopAction, HopKey
from probe.smtp.hosts import is_ip_literal


@dataclasses.dataclass(frozen=True)
class SeenProduct:
    """A product a rule recognised at a hop: how the report shows it, and what a box is called
    after ("a Check Point-style SMTP proxy"). Only a product named on its own evidence has a
    brand: shared evidence and a banner naming an unknown product name no one."""

    label: str  # "Check Point (also consistent with Cisco IronPort/ESA (AsyncOS))"
    brand: str  # the named product without its qualifier: "Check Point"; "" when none is named
    rank: int = 2  # how strongly it is named: 0 high, 1 medium, 2 low


def named_first(products: Iterable[SeenProduct]) -> tuple[SeenProduct, ...]:
    """A hop's products once each (a brand once), the most specifically named first: a specific
    marker outranks shared evidence, wherever the rules found it."""
    ordered = sorted(dict.fromkeys(products), key=lambda p: (not p.brand, p.rank))
    kept: dict[str, SeenProduct] = {}
    for product in ordered:  # a brand once, as its best-named finding has it
        kept.setdefault(product.brand or product.label, product)
    return tuple(kept.values())


@dataclasses.dataclass(frozen=True)
class Placed:
    """One rule's conclusion about one hop (`action` None: product evidence only)."""

    hop: HopKey
    action: HopAction | None = None
    products: tuple[SeenProduct, ...] = ()
    product_evidence: tuple[Evidence, ...] = ()
    ambiguous: str = ""


@dataclasses.dataclass(frozen=True)
class Context:
    """A run's observations, indexed for the rules."""

    run: RunResult
    sends: tuple[VariantSend, ...]
    specs: Mapping[str, VariantSpec]
    analyses: Mapping[str, VariantAnalysis]
    arrivals: Mapping[str, ArrivalStatus]
    copies: Mapping[str, DeliveredCopy]
    fields: Mapping[str, tuple[tuple[str, str], ...]]  # each copy's header fields, in order
    path: tuple[str, ...]  # visible hops (Received `by` names), origin first
    mx_host: str
    first_received: str = ""  # the oldest Received value of the reference copy
    unread: tuple[str, ...] = ()  # what of the copies could not be read here, and why

    @property
    def hop1(self) -> str:
        return self.path[0] if self.path else self.mx_host

    @property
    def control(self) -> VariantSend | None:
        return next((s for s in self.sends if s.variant == "control"), None)

    @property
    def collected(self) -> bool:
        return self.run.collect is not None

    def delivered(self, probe_id: str) -> bool:
        arrival = self.arrivals.get(probe_id)
        return arrival is not None and arrival.status is Arrival.DELIVERED


def build_context(run: RunResult, parsers: Parsers = PARSERS) -> Context:
    sends = tuple(s for s in run.variants if not s.interrupted or s.attempts)
    analyses = {a.probe_id: a for a in run.analyses}
    arrivals = {s.probe_id: s for s in run.collect.statuses} if run.collect else {}
    copies: dict[str, DeliveredCopy] = {}
    for copy in run.collect.delivered if run.collect else ():
        copies.setdefault(copy.probe_id, copy)
    variant = {s.probe_id: s.variant for s in run.variants}
    fields: dict[str, tuple[tuple[str, str], ...]] = {}
    unread: list[str] = []
    for probe_id, copy in copies.items():
        read = guarded(AnalysisPart.TRACE, parsers.header_fields, copy.raw)
        fields[probe_id] = () if isinstance(read, NotAnalysed) else read
        if isinstance(read, NotAnalysed):
            unread.append(f"{variant.get(probe_id, probe_id)}: header fields {read.reason}")
    reference = _reference(sends, copies)
    path: tuple[str, ...] = ()
    if reference is not None:
        traced = guarded(AnalysisPart.TRACE, received_path, fields[reference], parsers.received)
        path = () if isinstance(traced, NotAnalysed) else traced
        if isinstance(traced, NotAnalysed):
            unread.append(f"{variant.get(reference, reference)}: Received path {traced.reason}")
    received = [v for n, v in fields.get(reference or "", ()) if n.lower() == "received"]
    return Context(
        run=run,
        sends=sends,
        specs={s.id: s for s in run.specs},
        analyses=analyses,
        arrivals=arrivals,
        copies=copies,
        fields=fields,
        path=path,
        mx_host=_answering_host(run),
        first_received=received[-1] if received else "",
        unread=tuple(unread),
    )


def _answering_host(run: RunResult) -> str:
    """Hop 1's name: the MX host, or for an address (--via 192.0.2.1) the name its banner gives."""
    convs = [run.hop1] if run.hop1 is not None else []
    convs += [a for s in run.variants for a in s.attempts]
    for conv in convs:
        host = conv.host.rstrip(".").lower()
        if not is_ip_literal(host):
            return host
        words = conv.greeting.text.split() if conv.greeting is not None else []
        if words and "." in words[0] and not is_ip_literal(words[0]) and "*" not in words[0]:
            return words[0].rstrip(".").lower()
        return host
    return run.domain


def _reference(sends: Iterable[VariantSend], copies: Mapping[str, DeliveredCopy]) -> str | None:
    """The probe id of the copy the path is read from: the control's, else the first one's."""
    for send in sorted(sends, key=lambda s: s.variant != "control"):
        if send.probe_id in copies:
            return send.probe_id
    return None


def received_path(
    fields: Iterable[tuple[str, str]], parse: Callable[[str], Hop]
) -> tuple[str, ...]:
    """The `by` hosts of a message's Received header fields, origin first, repeats folded; a
    content filter's `by localhost` stamp is part of the hop it runs on, not a hop."""
    names: list[str] = []
    for name, value in reversed(tuple(fields)):
        if name.lower() != "received":
            continue
        by = parse(value).by_host
        if by and by.rstrip(".").lower() not in NOT_A_HOST:
            by = by.rstrip(".").lower()
            if not names or names[-1] != by:
                names.append(by)
    return tuple(names)
