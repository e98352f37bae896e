"""The embedded lab for humans: its scenarios, how to try them, the entry check (pure).

The renderers read a running lab through `LabView` (the shape of `lab.runtime.LabInfo`), so
this module needs nothing from the lab package.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tabulate import tabulate

from probe.model.lab import LabCheck


class ScenarioView(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def entry(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def hops(self) -> tuple[str, ...]: ...
    @property
    def maildir(self) -> Path: ...


class LabView(Protocol):
    @property
    def scenarios(self) -> Sequence[ScenarioView]: ...
    @property
    def dns_host(self) -> str: ...
    @property
    def dns_port(self) -> int: ...
    @property
    def shared_port(self) -> int | None: ...
    @property
    def ca_file(self) -> Path: ...


def scenario_table(info: LabView) -> str:
    rows = [
        (s.name, s.domain, s.entry, " -> ".join(s.hops), str(s.maildir)) for s in info.scenarios
    ]
    return tabulate(rows, headers=("scenario", "domain", "entry", "hops", "maildir"))


def examples(info: LabView) -> str:
    ns = f"{info.dns_host}:{info.dns_port}"
    port = info.shared_port or (info.scenarios[0].port if info.scenarios else 0)
    lines = [
        f"DNS: {ns} (zone lab.probe.test)   CA: {info.ca_file}",
        "Try:",
        f"  probe mx checkpoint.lab.probe.test --nameserver {ns}",
        f"  probe connect checkpoint.lab.probe.test --port {port} --nameserver {ns}",
        f"  probe connect tls.lab.probe.test --port {info.shared_port or '<port>'} "
        f"--nameserver {ns} --ca-file {info.ca_file}",
    ]
    if info.shared_port is None:
        lines.append("Note: no distinct 127.0.0.x addresses here; each entry has its own port.")
    return "\n".join(lines)


def check_table(result: LabCheck) -> str:
    rows = [
        (
            e.scenario,
            e.entry,
            " -> ".join(e.hops),
            "ok" if e.ok else "FAILED",
            e.banner or e.detail,
        )
        for e in result.entries
    ]
    return tabulate(rows, headers=("scenario", "entry", "hops", "check", "banner"))


def check_summary(result: LabCheck) -> str:
    answered = sum(e.ok for e in result.entries)
    return f"DNS {result.dns}; {answered}/{len(result.entries)} entries answer"
