"""`probe lab --check` as data: did every scenario's entry answer with a 220 banner?"""

from __future__ import annotations

import dataclasses


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
