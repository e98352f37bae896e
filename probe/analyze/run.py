"""Facts about each delivered copy and bounce: trace, sent-vs-delivered diff, parsed DSNs (pure).

The sent bytes are not stored in a run: `craft` is deterministic, so the exact message is made
again from the variant spec, the probe id and the run's Date when a copy needs comparing.
"""

from __future__ import annotations

from probe.analyze.bounce.dsn import parse_bounce
from probe.analyze.diff.compare import compare
from probe.analyze.received.path import trace
from probe.errors import ProbeError
from probe.model.bounce import Bounce
from probe.model.diff import DiffResult
from probe.model.message import DeliveredCopy
from probe.model.run import RunResult, VariantAnalysis
from probe.model.trace import Trace
from probe.plan.craft import craft
from probe.plan.variants import resolve_size


def sent_bytes(run: RunResult, variant: str, probe_id: str) -> bytes | None:
    spec = next((s for s in run.specs if s.id == variant), None)
    if spec is None or run.crafted_date is None:
        return None
    try:
        crafted = craft(
            resolve_size(spec, run.advertised_size),
            probe_id=probe_id,
            mail_from=run.mail_from,
            rcpt_to=(run.to,),
            date=run.crafted_date,
            allow_eicar=run.allow_eicar,
        )
    except ProbeError:
        return None
    return crafted.data


def analyze_run(run: RunResult) -> tuple[VariantAnalysis, ...]:
    if run.collect is None:
        return ()
    bounces: dict[str, list[Bounce]] = {}
    for collected in run.collect.bounces:
        parsed = parse_bounce(collected.message.raw)
        if parsed is None:
            continue
        for probe_id in collected.probe_ids:
            bounces.setdefault(probe_id, []).append(parsed)
    copies: dict[str, DeliveredCopy] = {}
    for delivered in run.collect.delivered:
        copies.setdefault(delivered.probe_id, delivered)
    out = []
    for send in run.variants:
        copy = copies.get(send.probe_id)
        found = tuple(bounces.get(send.probe_id, ()))
        if copy is None and not found:
            continue
        the_trace: Trace | None = None
        diff: DiffResult | None = None
        if copy is not None:
            the_trace = trace(copy.raw)
            sent = sent_bytes(run, send.variant, send.probe_id)
            if sent is not None:
                diff = compare(sent, copy.raw, send.manifest)
        out.append(VariantAnalysis(send.probe_id, send.variant, the_trace, diff, found))
    return tuple(out)
