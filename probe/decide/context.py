"""What the decide rules read: a run's observations indexed per variant, the path of visible hops
from the reference copy's Received trace (pure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from probe.analyze.received.path import header_fields, parse_received
from probe.model.collect import Arrival, ArrivalStatus
from probe.model.message import DeliveredCopy
from probe.model.run import RunResult, VariantAnalysis
from probe.model.send import VariantSend
from probe.model.variant import VariantSpec
from probe.model.verdict import Evidence, HopAction, HopKey
from probe.smtp.hosts import is_ip_literal


@dataclasses.dataclass(frozen=True)
class SeenProduct:
    """A product a rule recognised at a hop: how the report shows it, and what a box is called
    after ("a Cisco IronPort/ESA-style SMTP proxy")."""

    label: str  # "Cisco IronPort/ESA (AsyncOS) or Check Point (shared evidence)"
    brand: str  # the likeliest candidate's name without its qualifier: "Cisco IronPort/ESA"


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
    path: tuple[str, ...]  # visible hops (Received `by` names), origin first
    mx_host: str
    first_received: str = ""  # the oldest Received value of the reference copy

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


def build_context(run: RunResult) -> Context:
    sends = tuple(s for s in run.variants if not s.interrupted or s.attempts)
    analyses = {a.probe_id: a for a in run.analyses}
    arrivals = {s.probe_id: s for s in run.collect.statuses} if run.collect else {}
    copies: dict[str, DeliveredCopy] = {}
    for copy in run.collect.delivered if run.collect else ():
        copies.setdefault(copy.probe_id, copy)
    mx_host = _answering_host(run)
    return Context(
        run=run,
        sends=sends,
        specs={s.id: s for s in run.specs},
        analyses=analyses,
        arrivals=arrivals,
        copies=copies,
        path=_reference_path(sends, copies),
        mx_host=mx_host,
        first_received=_first_received(sends, copies),
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


def _reference_path(
    sends: Iterable[VariantSend], copies: Mapping[str, DeliveredCopy]
) -> tuple[str, ...]:
    """Visible hops from the control's copy (else the first copy), origin first."""
    ordered = sorted(sends, key=lambda s: s.variant != "control")
    for send in ordered:
        copy = copies.get(send.probe_id)
        if copy is not None:
            return received_path(copy.raw)
    return ()


def _first_received(sends: Iterable[VariantSend], copies: Mapping[str, DeliveredCopy]) -> str:
    for send in sorted(sends, key=lambda s: s.variant != "control"):
        copy = copies.get(send.probe_id)
        if copy is not None:
            values = [v for n, v in header_fields(copy.raw) if n.lower() == "received"]
            return values[-1] if values else ""
    return ""


def received_path(raw: bytes) -> tuple[str, ...]:
    """The `by` hosts of a message's Received headers, origin first, repeats folded."""
    names: list[str] = []
    for name, value in reversed(header_fields(raw)):
        if name.lower() != "received":
            continue
        by = parse_received(value).by_host
        if by:
            by = by.rstrip(".").lower()
            if not names or names[-1] != by:
                names.append(by)
    return tuple(names)
