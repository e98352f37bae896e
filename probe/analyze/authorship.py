"""Who wrote a header field: the host its value names, and whether an MTA writes it itself (pure).

The knowledge is `probe/data/header_authors.toml` (see its comment), validated when first loaded:
a bad regex, a `value` without a `host` group or an entry whose own sample does not give a host is
a `ConfigError` naming the entry. `named_host` reads the host a field names; `names_hop` says
which of the trace's hosts that is; `self_written` whether a field is one an MTA writes beside
its own Received (and so never the evidence of a box).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
from collections.abc import Sequence
from importlib import resources
from typing import Any, Final

from probe.errors import ConfigError

DATA_FILE: Final = "header_authors.toml"
MAX_VALUE: Final = 2_000  # characters of a value searched for a host (regexes stay linear)
NOT_A_HOST: Final = frozenset({"localhost", "localhost.localdomain", "unknown", "<unknown>"})


@dataclasses.dataclass(frozen=True)
class HostSign:
    """One way a header field names the host that wrote it."""

    id: str
    product: str
    name: re.Pattern[str]
    value: re.Pattern[str]
    exact: bool  # only a hop named exactly by its Received counts
    source: str


@dataclasses.dataclass(frozen=True)
class HostClaim:
    """The host a header field names, and by which sign."""

    host: str  # lower case, no trailing dot
    sign: str  # the HostSign id
    product: str
    exact: bool


@dataclasses.dataclass(frozen=True)
class Authorship:
    signs: tuple[HostSign, ...]
    self_written: tuple[re.Pattern[str], ...]
    not_content: tuple[re.Pattern[str], ...] = ()
    companions: tuple[tuple[re.Pattern[str], ...], ...] = ()
    bookkeeping: tuple[re.Pattern[str], ...] = ()


@functools.cache
def shipped_authorship() -> Authorship:
    """probe/data/header_authors.toml, validated; loaded once per process."""
    text = resources.files("probe.data").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return parse_authorship(text, f"probe/data/{DATA_FILE}")


def parse_authorship(text: str, where: str) -> Authorship:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=where) from None
    signs = tuple(_sign(item, where) for item in doc.get("names_host", []))
    groups = doc.get("companions", {}).get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, list) and g for g in groups):
        raise ConfigError("expected lists of field-name regexes", path=where, key="companions")
    return Authorship(
        signs,
        _names(doc, "self_written", where),
        _names(doc, "not_content_marks", where),
        tuple(tuple(_regex(n, where, "companions", re.I) for n in g) for g in groups),
        _names(doc, "delivery_bookkeeping", where),
    )


def _names(doc: dict[str, Any], table: str, where: str) -> tuple[re.Pattern[str], ...]:
    names = doc.get(table, {}).get("names", [])
    if not isinstance(names, list) or not names:
        raise ConfigError("expected a list of field-name regexes", path=where, key=table)
    return tuple(_regex(n, where, table, re.I) for n in names)


def _sign(item: dict[str, Any], where: str) -> HostSign:
    sid = str(item.get("id", ""))
    key = f"names_host {sid or '?'}"
    for field in ("id", "name", "value", "source"):
        if not isinstance(item.get(field), str) or not item[field]:
            raise ConfigError(f"missing {field}", path=where, key=key)
    value = _regex(item["value"], where, key, re.I)
    if "host" not in value.groupindex:
        raise ConfigError("value has no (?P<host>...) group", path=where, key=key)
    sign = HostSign(
        sid,
        str(item.get("product", "")),
        _regex(item["name"], where, key, re.I),
        value,
        bool(item.get("exact", False)),
        item["source"],
    )
    samples = item.get("samples", [])
    if not samples:
        raise ConfigError("no samples", path=where, key=key)
    for sample in samples:
        if not _host_in(sign, str(sample)):
            raise ConfigError(f"sample names no host: {sample!r}", path=where, key=key)
    return sign


def _regex(text: Any, where: str, key: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(str(text), flags)
    except re.error as exc:
        raise ConfigError(f"bad regex {text!r}: {exc}", path=where, key=key) from None


def _host_in(sign: HostSign, value: str) -> str:
    found = sign.value.search(value[:MAX_VALUE])
    host = found.group("host").rstrip(".").lower() if found else ""
    return "" if host in NOT_A_HOST or not host.strip(".-") else host


def named_host(name: str, value: str, known: Authorship | None = None) -> HostClaim | None:
    """The host a header field names as its writer, by the first sign that fits (None: none)."""
    for sign in (known or shipped_authorship()).signs:
        if not sign.name.fullmatch(name):
            continue
        host = _host_in(sign, " ".join(value.split()))
        if host:
            return HostClaim(host, sign.id, sign.product, sign.exact)
    return None


def names_hop(claim: HostClaim, hosts: Sequence[str]) -> tuple[str, ...]:
    """The trace hosts the claim names: the exact name if a Received has it; else, unless the
    sign demands the exact name, the hosts whose first label it is ("gabe") or that lie in the
    domain it names ("pp.htv.fi"), in trace order."""
    clean = [h.rstrip(".").lower() for h in hosts]
    if claim.host in clean:
        return (hosts[clean.index(claim.host)],)
    if claim.exact:
        return ()
    fits = [
        hosts[i]
        for i, h in enumerate(clean)
        if (
            ("." not in claim.host and h.split(".")[0] == claim.host)
            or h.endswith("." + claim.host)
        )
    ]
    return tuple(dict.fromkeys(fits))


def delivery_bookkeeping(name: str, known: Authorship | None = None) -> bool:
    """Whether a delivery agent or mailbox store writes this field into the stored copy
    (Return-Path, Delivered-To, an mbox's Content-Length, Status, X-UID ...)."""
    return any(p.fullmatch(name) for p in (known or shipped_authorship()).bookkeeping)


def content_mark(name: str, known: Authorship | None = None) -> bool:
    """Whether a field added beside a body change can be the mark of who changed the body (an
    authentication or routing field cannot)."""
    return not any(p.fullmatch(name) for p in (known or shipped_authorship()).not_content)


def companions(a: str, b: str, known: Authorship | None = None) -> bool:
    """Whether one product writes both fields together (`[companions]`)."""
    for group in (known or shipped_authorship()).companions:
        if any(p.fullmatch(a) for p in group) and any(p.fullmatch(b) for p in group):
            return True
    return False


def self_written(name: str, known: Authorship | None = None) -> bool:
    """Whether an MTA (or a filter inside it) writes this field itself, beside its own Received."""
    return any(p.fullmatch(name) for p in (known or shipped_authorship()).self_written)
