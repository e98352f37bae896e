"""Architecture as a test: the pure modules import no I/O, so they stay testable with data."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "probe"
PURE = [
    "model.py",
    "errors.py",
    "craft.py",
    "profiles.py",
    "received.py",
    "diff.py",
    "fingerprint.py",
    "codes.py",
    "decide.py",
    "mxcheck.py",
    "dsn.py",
    "collect/dsn.py",
    "report/table.py",
    "report/transcript.py",
    "report/verdicts.py",
]
FORBIDDEN = (
    "socket",
    "asyncio",
    "ssl",
    "aiosmtplib",
    "aiosmtpd",
    "imaplib",
    "sqlite3",
    "subprocess",
    "dns.resolver",
    "dns.asyncresolver",
    "dns.query",
    "probe.converse",
    "probe.resolve",
    "probe.run",
    "probe.collect.imap",
    "probe.collect.maildir",
    "probe.collect.listener",
    "probe.history",
    "probe.lab",
    "probe.cli",
    "probe.cliapp",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", [m for m in PURE if (ROOT / m).exists()])
def test_pure_module_imports_no_io(module: str) -> None:
    bad = sorted(
        name
        for name in _imports(ROOT / module)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    )
    assert not bad, f"{module} is pure but imports {bad}"
