"""`probe threshold` for humans: what was searched, every probe per round, the limit (pure)."""

from __future__ import annotations

from tabulate import tabulate

from probe.decide.threshold import ThresholdResult
from probe.model.threshold import ProbePoint
from probe.report.run import human_size


def render_threshold(result: ThresholdResult) -> str:
    adv = result.advertised_size
    out = [
        f"probe threshold: {result.domain}, to {result.to}, at {result.target}",
        "hop 1 advertises "
        + (f"SIZE {adv:,} ({human_size(adv)})" if adv is not None else "no SIZE"),
        f"searched ({result.low:,}, {result.high:,}] bytes, {result.k} probes per round, "
        f"precision {result.precision:,} byte{'s' if result.precision > 1 else ''}",
        "",
    ]
    rows: list[list[object]] = []
    if result.lower_bound is not None:
        rows.append(_row("lower bound", result.lower_bound))
    if result.report is not None:
        for rnd in result.report.search.rounds:
            rows.extend(_row(str(rnd.number), p) for p in rnd.points)
    if rows:
        out += [tabulate(rows, headers=["round", "bytes", "outcome", "reply"]), ""]
    if result.threshold is not None:
        out.append(
            f"threshold: {result.threshold:,} bytes ({human_size(result.threshold)}) and more "
            f"fail; largest passing size {result.largest_pass:,} bytes; {_rounds(result.rounds)}"
        )
        boundary = result.report.boundary_reply if result.report else ""
        out.append(f"reply at the boundary: {boundary or '-'}")
        out.append(
            "advertised SIZE: "
            + (f"{adv:,}" if adv is not None else "none")
            + f" -> {result.meaning}"
        )
    else:
        if result.largest_pass is not None and result.rounds:
            out.append(
                f"largest passing size {result.largest_pass:,} bytes; {_rounds(result.rounds)}"
            )
        out.append(result.meaning)
    out.append(f"status: {result.status.name}")
    return "\n".join(out)


def _rounds(n: int) -> str:
    return f"{n} round{'s' if n != 1 else ''}"


def _row(label: str, point: ProbePoint) -> list[object]:
    detail = point.detail if len(point.detail) <= 80 else point.detail[:77] + "..."
    return [label, f"{point.value:,}", str(point.verdict), detail]
