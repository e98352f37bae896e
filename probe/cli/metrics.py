"""The node_exporter textfile: written atomically by prometheus_client (temp file + rename)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import write_to_textfile

from probe.errors import UsageError
from probe.model.check import CheckResult
from probe.report.prometheus import registry_of


def write_textfile(path: Path, result: CheckResult) -> None:
    try:
        write_to_textfile(str(path), registry_of(result))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
