"""Hop kinds: how a scenario's `{kind = ..., params}` becomes a listening server.

Every SMTP hop is probe's own SMTP engine (`probe.server.engine`) with a personality, behaviours
and a delivery: the Maildir for the last hop, `Forward` (probe.lab.forward) to the next hop for
the others. The faces of the MTAs other than Postfix (banner, EHLO keywords, reply texts) are
data, in `personalities.toml`. The `asa` kind is a TCP proxy instead (probe.lab.asa), as the
real box is. A scenario may end in a `backend`: a real server on a loopback port that the lab
does not run (probe.lab.backend), and a box in front of it may pass its banner through
(`pass_banner = true`). A hop is bounded (probe.server.limits) only where its scenario says so, e.g.
`{kind = "final", max_recipients = 10, idle_timeout = 5}`; otherwise it behaves as aiosmtpd does.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from probe.errors import ConfigError
from probe.lab import asa, behaviours
from probe.lab.backend import Backend, BannerPassingHop, is_loopback
from probe.lab.certs import LabCA
from probe.lab.forward import Forward
from probe.server.engine import Behaviour, Delivery, HopHandler, SmtpHop
from probe.server.limits import NO_LIMITS, Limits
from probe.server.maildir import MaildirDelivery
from probe.server.records import POSTFIX_KEYWORDS, ListenerRecord, Personality


class Hop(Protocol):
    host: str
    port: int

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, sock: Any = None) -> None: ...

    async def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class HopContext:
    """Where a hop sits: its scenario, its address, the next hop, the mailbox, the lab CA."""

    scenario: str
    domain: str  # <scenario>.lab.probe.test
    address: str
    next_hop: tuple[str, int] | None
    maildir: Path
    ca: LabCA
    next_name: str | None = None  # the next hop's host name, as a DSN names it
    mailbox: MaildirDelivery | None = None  # the sender's mailbox: where DSNs go


class Params:
    """A hop's parameters with typed getters; unknown keys are an error naming the hop."""

    def __init__(self, where: str, values: dict[str, Any]) -> None:
        self.where = where
        self.values = dict(values)
        self.used: set[str] = set()

    def get(self, key: str, default: Any, kind: type | tuple[type, ...]) -> Any:
        self.used.add(key)
        value = self.values.get(key, default)
        if isinstance(value, bool) and kind in (int, float):
            raise ConfigError(f"expected a number, got {value!r}", path=self.where, key=key)
        if not isinstance(value, kind):
            name = getattr(kind, "__name__", str(kind))
            raise ConfigError(f"expected {name}, got {value!r}", path=self.where, key=key)
        return value

    def number(self, key: str, default: float) -> float:
        return float(self.get(key, default, (int, float)))

    def integer(self, key: str, default: int) -> int:
        value = int(self.get(key, default, int))
        if value < 0:
            raise ConfigError(f"must not be negative, got {value}", path=self.where, key=key)
        return value

    def text(self, key: str, default: str) -> str:
        return str(self.get(key, default, str))

    def flag(self, key: str, default: bool) -> bool:
        return bool(self.get(key, default, bool))

    def check(self) -> None:
        unknown = sorted(set(self.values) - self.used)
        if unknown:
            raise ConfigError(f"unknown parameter(s) {', '.join(unknown)}", path=self.where)


def with_size(keywords: tuple[str, ...], size: int) -> tuple[str, ...]:
    return tuple(f"SIZE {size}" if k.split()[0] == "SIZE" else k for k in keywords)


# --------------------------------------------------------------------------- the kinds

Builder = Callable[[HopContext, Params], Hop]


@dataclasses.dataclass(frozen=True)
class Kind:
    build: Builder
    prefix: str  # default host name: <prefix>.<scenario>.lab.probe.test
    terminal: bool = False  # delivers into the Maildir: the last hop, and only there
    summary: str = ""


def _hostname(ctx: HopContext, params: Params, prefix: str) -> str:
    return params.text("host", prefix) + "." + ctx.domain


def _smtp_hop(
    ctx: HopContext,
    personality: Personality,
    hop_behaviours: list[Behaviour],
    *,
    tls: bool = False,
    transparent: bool = False,
    on_record: Callable[[ListenerRecord], None] | None = None,
) -> SmtpHop:
    delivery: Delivery
    if ctx.next_hop is None:
        delivery = MaildirDelivery(ctx.maildir, personality, on_record=on_record)
    else:
        delivery = Forward(
            ctx.next_hop,
            personality,
            transparent=transparent,
            target_name=ctx.next_name,
            mailbox=ctx.mailbox,
        )
    context = ctx.ca.server_context(personality.hostname) if tls else None
    return SmtpHop(HopHandler(personality, delivery, hop_behaviours), context)


@functools.cache
def _faces() -> dict[str, dict[str, Any]]:
    text = resources.files("probe.lab").joinpath("personalities.toml").read_text("utf-8")
    return tomllib.loads(text)


def _personality(mta: str, hostname: str, size: int = 0) -> Personality:
    """The face of `mta` from personalities.toml, for the hop `hostname` advertising `size`."""
    fields = dict(_faces()[mta])
    fields["keywords"] = tuple(k.replace("{size}", str(size)) for k in fields["keywords"])
    fields["stamp"] = fields.get("stamp") or None
    return Personality(hostname=hostname, **fields)


def _postfix(ctx: HopContext, params: Params, prefix: str, size: int = 10240000) -> Personality:
    hostname = _hostname(ctx, params, prefix)
    return Personality(hostname=hostname, keywords=with_size(POSTFIX_KEYWORDS, size))


def _final(ctx: HopContext, params: Params, default_tls: bool) -> Hop:
    size = params.integer("size", 10240000)
    personality = _postfix(ctx, params, "mx", size)
    limit = params.integer("limit", 0)  # Postfix message_size_limit; 0: not enforced
    tls = params.flag("tls", default_tls)
    hops = params.integer("hopcount_limit", 0)  # Postfix hopcount_limit; 0: not enforced
    shared = params.flag("fails_shared_attachment", False)  # the Exchange 5.5 VSAPI case
    params.check()
    checks: list[Behaviour] = [behaviours.SizeLimit(size, limit)] if limit else []
    checks += [behaviours.HopCount(hops)] if hops else []
    checks += [behaviours.SharedAttachmentFailure()] if shared else []
    return _smtp_hop(ctx, personality, checks, tls=tls)


def build_final(ctx: HopContext, params: Params) -> Hop:
    return _final(ctx, params, False)


def build_tls(ctx: HopContext, params: Params) -> Hop:
    return _final(ctx, params, True)


def build_relay(ctx: HopContext, params: Params) -> Hop:
    """A relay: Exim by default, or Postfix (`mta = "postfix"`, which offers DSN)."""
    hostname = _hostname(ctx, params, "relay")
    headers = params.get("headers", {"X-Relay-Scanned": "yes"}, dict)
    mta = params.text("mta", "exim")
    if mta not in ("exim", "postfix"):
        raise ConfigError(f"expected exim or postfix, got {mta!r}", path=params.where, key="mta")
    personality = (
        _postfix(ctx, params, "relay") if mta == "postfix" else _personality("exim", hostname)
    )
    params.check()
    pairs = tuple((str(k), str(v)) for k, v in headers.items())
    return _smtp_hop(ctx, personality, [behaviours.InjectHeaders(pairs)])


def build_checkpoint(ctx: HopContext, params: Params) -> Hop:
    hostname = _hostname(ctx, params, "mx")
    threshold = params.integer("threshold", 1_048_577)
    size = params.integer("size", 10485760)
    header = params.text("header", "X-CheckPoint")
    pass_banner = params.flag("pass_banner", False)
    params.check()
    personality = _personality("checkpoint", hostname, size)
    reply = "554 Permanent scan failure. Email Session ID: {id}"
    hop_behaviours: list[Behaviour] = [
        behaviours.SizeLimit(size, None, "552 #5.3.4 message size limit exceeded"),
        behaviours.ScanFailure(threshold, ctx.address, reply),
        behaviours.SessionHeader(header, ctx.address),
    ]
    hop = _smtp_hop(ctx, personality, hop_behaviours, tls=True, transparent=True)
    return _banner_passing(ctx, hop, pass_banner)


def _banner_passing(ctx: HopContext, hop: SmtpHop, wanted: bool) -> Hop:
    """`hop` greeting with the next hop's banner when `wanted` (an inline box's option)."""
    if not wanted:
        return hop
    if ctx.next_hop is None:
        raise ConfigError("pass_banner needs a hop behind it", path=ctx.scenario)
    return BannerPassingHop(hop, ctx.next_hop)


def build_asa(ctx: HopContext, params: Params) -> Hop:
    max_rcpt = params.integer("max_rcpt", 100)
    params.check()
    if ctx.next_hop is None:
        raise ConfigError("an asa hop needs a hop behind it", path=ctx.scenario)
    return asa.AsaProxy(ctx.next_hop, max_rcpt=max_rcpt)


def build_greylist(ctx: HopContext, params: Params) -> Hop:
    personality = _postfix(ctx, params, "mx")
    delay = params.number("delay", 1.0)
    params.check()
    return _smtp_hop(ctx, personality, [behaviours.Greylist(delay)])


def build_slow_scan(ctx: HopContext, params: Params) -> Hop:
    """A Postfix-faced scanner; `inline = true` makes it a box that writes no Received and
    holds the client's final reply until the next hop has answered (and passes that answer);
    `tls = true` offers STARTTLS (the lab CA's certificate)."""
    personality = _postfix(ctx, params, "scan")
    scan = behaviours.SlowScan(params.number("base", 0.05), params.number("per_mb", 0.1))
    inline = params.flag("inline", False)
    pass_banner = params.flag("pass_banner", False)
    tls = params.flag("tls", False)
    params.check()
    if inline:
        personality = dataclasses.replace(personality, stamp=None)
    hop = _smtp_hop(ctx, personality, [scan], tls=tls, transparent=inline)
    return _banner_passing(ctx, hop, pass_banner)


def build_backend(ctx: HopContext, params: Params) -> Hop:
    port = params.integer("port", 0)
    address = params.text("address", "127.0.0.1")
    params.check()
    if not 0 < port < 65536:
        raise ConfigError(f"needs a port, got {port}", path=params.where, key="port")
    if not is_loopback(address):
        raise ConfigError(f"must be a loopback address, got {address!r}", path=params.where)
    return Backend(address, port)


def build_size_enforce(ctx: HopContext, params: Params) -> Hop:
    size = params.integer("size", 2_000_000)
    personality = _postfix(ctx, params, "gw", size)
    params.check()
    return _smtp_hop(ctx, personality, [behaviours.SizeLimit(size, size)])


def build_size_limit(ctx: HopContext, params: Params) -> Hop:
    advertised = params.integer("size", 10485760)
    limit = params.integer("limit", 5_000_000)
    personality = _postfix(ctx, params, "gw", advertised)
    params.check()
    return _smtp_hop(ctx, personality, [behaviours.SizeLimit(advertised, limit)])


def build_disclaimer(ctx: HopContext, params: Params) -> Hop:
    personality = _postfix(ctx, params, "filter")
    footer = params.text(
        "footer",
        "CAUTION: This email originated from outside of the organization. Do not click links "
        "or open attachments unless you recognize the sender.",
    )
    tag = params.text("tag", "[EXTERNAL] ")
    mark = params.text("mark", "X-Disclaimer")
    params.check()
    disclaimer = behaviours.Disclaimer(footer, tag, mark, personality.hostname)
    return _smtp_hop(ctx, personality, [disclaimer])


def build_av(ctx: HopContext, params: Params) -> Hop:
    personality = _postfix(ctx, params, "scanner")
    suffixes = params.get("strip", [".exe"], list)
    params.check()
    av = behaviours.AntiVirus(
        personality.hostname,
        tuple(str(s).lower() for s in suffixes),
        "554 5.7.1 Virus found: Eicar-Test-Signature",
        "Attachment {name} removed by AV policy",
    )
    return _smtp_hop(ctx, personality, [av])


KINDS: dict[str, Kind] = {
    "final": Kind(build_final, "mx", terminal=True, summary="Postfix MX delivering to a Maildir"),
    "tls": Kind(build_tls, "mx", terminal=True, summary="final hop offering STARTTLS"),
    "relay": Kind(build_relay, "relay", summary="Exim relay injecting headers"),
    "checkpoint": Kind(build_checkpoint, "mx", summary="invisible Check Point scan proxy"),
    "asa": Kind(build_asa, "-", summary="Cisco ASA esmtp inspection (TCP proxy)"),
    "greylist": Kind(build_greylist, "mx", summary="postgrey greylisting"),
    "slow-scan": Kind(build_slow_scan, "scan", summary="scanner delaying the final reply"),
    "size-enforce": Kind(build_size_enforce, "gw", summary="enforces its advertised SIZE"),
    "size-limit": Kind(build_size_limit, "gw", summary="rejects below its advertised SIZE"),
    "disclaimer": Kind(build_disclaimer, "filter", summary="footer + subject tag, X-Disclaimer"),
    "av": Kind(build_av, "scanner", summary="clamav: strips .exe, rejects EICAR"),
    "backend": Kind(build_backend, "-", terminal=True, summary="a real server on loopback"),
}


# The bounds a scenario may set on any SMTP hop (size and disk are the kinds' own business).
_COUNT_LIMITS = ("max_recipients", "max_sessions", "max_sessions_per_client", "max_line_length")
_TIME_LIMITS = ("idle_timeout", "session_timeout")


def _limits(params: Params) -> Limits:
    values: dict[str, Any] = {k: params.integer(k, 0) for k in _COUNT_LIMITS if k in params.values}
    values.update((k, params.number(k, 0.0)) for k in _TIME_LIMITS if k in params.values)
    return Limits(**values)


def build(kind: str, ctx: HopContext, params: dict[str, Any], *, last: bool) -> Hop:
    """A hop of `kind` (not yet started); checks that only the last hop delivers."""
    where = f"scenario {ctx.scenario}, hop {kind}"
    spec = KINDS.get(kind)
    if spec is None:
        raise ConfigError(f"unknown hop kind {kind!r} (known: {', '.join(KINDS)})", path=where)
    if spec.terminal != last:
        problem = "must be the last hop" if spec.terminal else "cannot be the last hop"
        raise ConfigError(f"a {kind} hop {problem}", path=where)
    checked = Params(where, params)
    limits = _limits(checked)
    hop = spec.build(ctx, checked)
    if limits != NO_LIMITS:
        if not isinstance(hop, SmtpHop):
            raise ConfigError(f"a {kind} hop is not an SMTP server: it takes no limits", path=where)
        hop.limits = limits
    return hop
