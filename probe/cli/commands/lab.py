"""`probe lab`: run the embedded lab in the foreground, or check that every scenario answers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Annotated

import typer
from tabulate import tabulate

from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish, say
from probe.errors import ProbeError
from probe.lab.runtime import LabInfo, LabThread, ScenarioInfo
from probe.model.status import Status

BANNER_TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True)
class EntryCheck:
    scenario: str
    domain: str
    entry: str
    hops: tuple[str, ...]
    ok: bool
    banner: str
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class LabCheck:
    directory: str
    dns: str
    shared_port: int | None
    ca_file: str
    entries: tuple[EntryCheck, ...]
    ok: bool


async def _banner(info: ScenarioInfo) -> EntryCheck:
    def result(ok: bool, banner: str, detail: str = "") -> EntryCheck:
        return EntryCheck(info.name, info.domain, info.entry, info.hops, ok, banner, detail)

    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(info.address, info.port), BANNER_TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        return result(False, "", f"connect failed: {exc or type(exc).__name__}")
    try:
        line = await asyncio.wait_for(reader.readline(), BANNER_TIMEOUT)
        writer.write(b"QUIT\r\n")
        await writer.drain()
    except (OSError, TimeoutError) as exc:
        return result(False, "", f"no banner: {exc or type(exc).__name__}")
    finally:
        writer.close()
    banner = line.decode("utf-8", "replace").rstrip("\r\n")
    return result(banner.startswith("220"), banner, "" if banner else "empty banner")


async def check_entries(info: LabInfo) -> tuple[EntryCheck, ...]:
    return tuple(await asyncio.gather(*(_banner(s) for s in info.scenarios)))


def _table(info: LabInfo) -> str:
    rows = [
        (s.name, s.domain, s.entry, " -> ".join(s.hops), str(s.maildir)) for s in info.scenarios
    ]
    return tabulate(rows, headers=("scenario", "domain", "entry", "hops", "maildir"))


def _examples(info: LabInfo) -> str:
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


@app.command()
def lab(
    check: Annotated[
        bool, typer.Option("--check", help="Start, check every entry answers, stop.")
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Work directory (Maildirs, CA). Default: a temp dir."),
    ] = None,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Entry port P (0: a free one).")
    ] = 0,
    dns_port: Annotated[
        int, typer.Option("--dns-port", min=0, max=65535, help="DNS responder port.")
    ] = 0,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0, help="Stop after this many seconds.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the embedded lab (simulated delivery paths on loopback) until Ctrl-C.

    With --check: start it, verify every scenario's entry answers with a 220 banner, print a
    table (or --json), stop; exit 0 if all answered, else 2. No root needed (high ports).
    """
    runner = LabThread(directory=directory, port=port, dns_port=dns_port)
    try:
        info = runner.start()
    except OSError as exc:
        raise ProbeError(f"cannot start the lab: {exc}") from exc
    try:
        if check:
            _check(info, json_out)
        emit_text(_table(info))
        say(_examples(info))
        if directory is None:
            say("The work directory is removed on exit; use --dir to keep it.")
        say("Lab running; Ctrl-C stops it.")
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            say("stopping")
    finally:
        runner.stop()


def _check(info: LabInfo, json_out: bool) -> None:
    entries = asyncio.run(check_entries(info))
    ok = all(e.ok for e in entries)
    result = LabCheck(
        directory=str(info.directory),
        dns=f"{info.dns_host}:{info.dns_port}",
        shared_port=info.shared_port,
        ca_file=str(info.ca_file),
        entries=entries,
        ok=ok,
    )
    if json_out:
        emit_json("probe.lab-check/1", result)
    else:
        rows = [
            (
                e.scenario,
                e.entry,
                " -> ".join(e.hops),
                "ok" if e.ok else "FAILED",
                e.banner or e.detail,
            )
            for e in entries
        ]
        emit_text(tabulate(rows, headers=("scenario", "entry", "hops", "check", "banner")))
        say(f"DNS {result.dns}; {sum(e.ok for e in entries)}/{len(entries)} entries answer")
    finish(Status.OK if ok else Status.CRITICAL)
