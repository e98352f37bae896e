"""The rules of `decide`, in the order they run; each takes the run's context and returns
placed findings (pure). One function per way a hop shows itself (a reply, a header it adds, a
change to the content, a bounce, a timing); product names come only from
`probe.analyze.fingerprint`."""

from __future__ import annotations

from probe.decide.rules.common import Rule
from probe.decide.rules.content import rule_av, rule_injected_headers, rule_rewrites
from probe.decide.rules.delivery import rule_bounces, rule_drops_and_junk, rule_tls_lost
from probe.decide.rules.protocol import rule_failures, rule_greylisting, rule_identity
from probe.decide.rules.refusals import rule_rejections
from probe.decide.rules.timing import rule_scan_timing

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
