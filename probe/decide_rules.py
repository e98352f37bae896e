"""The rules of `decide`, in the order they run; each takes the run's context and returns
placed findings (pure). One function per way a hop shows itself (DESIGN.md, "How a hop is
pinpointed"); product names come only from `probe.fingerprint`."""

from __future__ import annotations

from probe.rules_base import Rule
from probe.rules_content import rule_av, rule_injected_headers, rule_rewrites
from probe.rules_delivery import rule_bounces, rule_drops_and_junk, rule_tls_lost
from probe.rules_protocol import (
    rule_failures,
    rule_greylisting,
    rule_identity,
    rule_rejections,
    rule_scan_timing,
)

RULES: tuple[Rule, ...] = (
    rule_identity,
    rule_rejections,
    rule_failures,
    rule_bounces,
    rule_drops_and_junk,
    rule_injected_headers,
    rule_rewrites,
    rule_av,
    rule_scan_timing,
    rule_greylisting,
    rule_tls_lost,
)
