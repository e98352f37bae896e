"""What a path looked like at one measurement: the part of a result that drift compares.

A snapshot is derived from a result (`analyze.snapshot`), never stored apart: the history keeps
the whole document and any two stored results can be compared later. A field is None when that
measurement did not measure it (the `capabilities` profile sends no message, so it has no hop
chain), and drift compares only what both sides measured.
"""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class AddressSnapshot:
    """One MX address as hop 1 presented itself."""

    exchange: str
    address: str
    reached: bool
    banner: str | None = None
    capabilities: tuple[str, ...] = ()
    starttls_offered: bool = False
    certificate_sha256: str | None = None
    certificate_issuer: str | None = None
    certificate_not_after: dt.datetime | None = None
    certificate_valid_for_host: bool | None = None


@dataclasses.dataclass(frozen=True)
class HopSnapshot:
    """One hop of the delivered copies' Received chain, origin first."""

    by_host: str
    product: str | None = None
    delay_p50_s: float | None = None
    delay_p95_s: float | None = None


@dataclasses.dataclass(frozen=True)
class PathSnapshot:
    target: str
    mx_hosts: tuple[str, ...] = ()  # exchanges in preference order
    addresses: tuple[AddressSnapshot, ...] = ()
    hops: tuple[HopSnapshot, ...] | None = None
    injected_headers: tuple[str, ...] | None = None  # header names added on the way, sorted
    size_limit: int | None = None  # the first size rejected (threshold search)
    verdicts: tuple[str, ...] | None = None  # "<hop> <action>", sorted
    delivery_seconds: float | None = None  # the control's time from accepted to found
