"""The prologue of every command that sends: resolve the targets, then talk to hop 1.

The capability conversation comes first: its SIZE sets the relative variants and the threshold
range, and its banner and EHLO fingerprint hop 1. `probe run` and `probe threshold` share it.
"""

from __future__ import annotations

import dataclasses

from probe.analyze.mx import with_anomalies
from probe.errors import DnsError, SafetyError
from probe.model.mx import MxSource
from probe.model.smtp import Conversation, Outcome
from probe.pipeline.request import RunRequest
from probe.pipeline.state import RunStage, RunState
from probe.send.converse import converse
from probe.send.matrix import Target
from probe.send.options import ProgressFn
from probe.smtp.hosts import ip_literal
from probe.smtp.replies import size_limit

_UNREACHABLE = {
    Outcome.REFUSED,
    Outcome.UNREACHABLE,
    Outcome.TIMEOUT,
    Outcome.RESET,
    Outcome.DISCONNECTED,
    Outcome.GARBAGE,
}


async def reach_hop1(req: RunRequest, state: RunState, progress: ProgressFn) -> None:
    """Resolve (stage resolve), then hold the capability conversation (stage hop1)."""
    state.stage = RunStage.RESOLVE
    progress(f"resolving {req.domain}" if req.via is None else f"sending via {req.via[0]}")
    state.targets = await resolve_targets(req, state)
    state.stage = RunStage.HOP1
    progress(f"talking to {state.targets[0].label}")
    await probe_hop1(req, state)


async def resolve_targets(req: RunRequest, state: RunState) -> list[Target]:
    if req.via is not None:
        host, port = req.via
        from probe.send.resolve import resolve_addresses

        literal = ip_literal(host)
        addresses = (
            (literal,)
            if literal
            else await resolve_addresses(host, nameservers=req.nameservers, timeout=req.dns_timeout)
        )
        return [Target(host, a, port) for a in addresses]
    from probe.send.resolve import delivery_order, resolve_mx

    mx = await resolve_mx(req.domain, nameservers=req.nameservers, timeout=req.dns_timeout)
    mx = with_anomalies(mx)
    state.mx = mx
    if mx.source is MxSource.NULL_MX:
        raise SafetyError(
            f"{req.domain} publishes a null MX (RFC 7505): it accepts no mail; nothing was sent"
        )
    if mx.source not in (MxSource.MX, MxSource.IMPLICIT):
        raise DnsError(f"{req.domain}: {mx.detail or mx.source}")
    targets = [Target(h.exchange, a, req.options.port, h.preference) for h, a in delivery_order(mx)]
    if not targets:
        raise DnsError(f"{req.domain}: no mail exchanger has an address")
    return targets


async def probe_hop1(req: RunRequest, state: RunState) -> None:
    """A capability conversation first: SIZE for relative variants, the hop-1 fingerprint."""

    def keep(conv: Conversation) -> None:  # also the one an interruption cuts short
        state.hop1 = conv
        state.advertised = size_limit(conv.capabilities_after_tls or conv.capabilities)

    for target in state.targets:
        options = dataclasses.replace(req.options, port=target.port)
        keep(await converse(target.host, target.address, options, on_interrupt=keep))
        if state.hop1 is not None and state.hop1.outcome is Outcome.OK:
            break


def unreachable(hop1: Conversation | None) -> bool:
    """Every address failed before a usable banner: sending the matrix would only wait more."""
    return hop1 is not None and hop1.outcome in _UNREACHABLE and hop1.stage in ("connect", "banner")


def target_of(targets: list[Target], label: str) -> Target:
    """The target a result names (by its label), else the first."""
    return next((t for t in targets if t.label == label), targets[0])
