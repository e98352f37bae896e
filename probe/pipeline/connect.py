"""`probe connect`: resolve TARGET (unless it is an address) and talk to every address of it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from probe.analyze.mx import with_anomalies
from probe.model.mx import MxResult
from probe.model.smtp import Conversation, endpoint
from probe.send.converse import converse
from probe.send.options import ConverseOptions
from probe.smtp.hosts import ip_literal

if TYPE_CHECKING:
    from probe.send.resolve import DnsCache


@dataclasses.dataclass(frozen=True)
class Connected:
    resolution: MxResult | None  # None when TARGET was an IP address
    conversations: tuple[Conversation, ...] = ()

    @property
    def unresolved(self) -> bool:
        """TARGET is a name that gave no address to connect to."""
        return self.resolution is not None and not self.conversations


async def _addresses(
    name: str,
    *,
    as_host: bool,
    nameservers: tuple[tuple[str, int], ...],
    timeout: float,
    cache: DnsCache | None,
) -> tuple[MxResult | None, list[tuple[str, str]]]:
    from probe.send import resolve  # lazily: the DNS stack is only needed for names

    literal = ip_literal(name)
    if literal is not None:
        return None, [(literal, literal)]
    result = await resolve.resolve_target(
        name, nameservers=nameservers, timeout=timeout, as_host=as_host, cache=cache
    )
    result = with_anomalies(result)
    return result, [(mx.exchange, address) for mx, address in resolve.delivery_order(result)]


Observer = Callable[[MxResult | None, tuple[Conversation, ...]], None]


def _ignore(_resolution: MxResult | None, _conversations: tuple[Conversation, ...]) -> None:
    pass


async def connect_target(
    name: str,
    options: ConverseOptions,
    *,
    as_host: bool,
    nameservers: tuple[tuple[str, int], ...],
    dns_timeout: float,
    gate: Callable[[str], asyncio.Semaphore],
    progress: Callable[[str], None],
    observe: Observer = _ignore,
    dns_cache: DnsCache | None = None,
) -> Connected:
    """Every address of `name`, each conversation under `gate(address)`; `observe` hears what is
    known after each step, so a caller cut short keeps the conversations that finished."""
    resolution, pairs = await _addresses(
        name, as_host=as_host, nameservers=nameservers, timeout=dns_timeout, cache=dns_cache
    )
    observe(resolution, ())
    if resolution is not None and not pairs:
        return Connected(resolution)
    progress(f"probe: connecting to {len(pairs)} address(es) of {name} on port {options.port}")
    done: list[Conversation] = []

    async def one(host: str, address: str) -> Conversation:
        async with gate(address):
            conv = await converse(host, address, options)
        where = endpoint(conv) if host == address else f"{host} {endpoint(conv)}"
        progress(f"probe: {where}: {conv.outcome.value} at {conv.stage}")
        done.append(conv)
        observe(resolution, tuple(done))
        return conv

    conversations = tuple(await asyncio.gather(*(one(h, a) for h, a in pairs)))
    return Connected(resolution, conversations)


def connect_all(
    name: str,
    options: ConverseOptions,
    *,
    as_host: bool,
    nameservers: tuple[tuple[str, int], ...],
    dns_timeout: float,
    concurrency: int,
    progress: Callable[[str], None],
) -> Connected:
    """Every address of `name` (its MX, or the host itself with `as_host`), `concurrency` at
    once; no mail is sent."""

    shared = asyncio.Semaphore(concurrency)
    return asyncio.run(
        connect_target(
            name,
            options,
            as_host=as_host,
            nameservers=nameservers,
            dns_timeout=dns_timeout,
            gate=lambda _address: shared,
            progress=progress,
        )
    )
