"""`probe lab --check`: connect to every scenario's entry and read its banner."""

from __future__ import annotations

import asyncio

from probe.lab.runtime import LabInfo, ScenarioInfo
from probe.model.lab import EntryCheck, LabCheck

BANNER_TIMEOUT = 5.0


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


def check_lab(info: LabInfo) -> LabCheck:
    """Every entry's banner, at once; ok when all answered 220."""
    entries = asyncio.run(check_entries(info))
    return LabCheck(
        directory=str(info.directory),
        dns=f"{info.dns_host}:{info.dns_port}",
        shared_port=info.shared_port,
        ca_file=str(info.ca_file),
        entries=entries,
        ok=all(e.ok for e in entries),
    )
