"""Architecture as a test: the pure modules import no I/O, so they stay testable with data."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "probe"
PURE = [
    "model/status.py",
    "model/mx.py",
    "model/smtp.py",
    "model/message.py",
    "model/json.py",
    "errors.py",
    "craft.py",
    "attachments.py",
    "envelope.py",
    "profiles.py",
    "replies.py",
    "received.py",
    "received_hop.py",
    "received_fast.py",
    "received_types.py",
    "received_fields.py",
    "received_tokens.py",
    "diff.py",
    "mimediff.py",
    "dsn.py",
    "fingerprint.py",
    "codes.py",
    "mxcheck.py",
    "threshold.py",
    "sendresult.py",
    "runresult.py",
    "analyze.py",
    "verdict.py",
    "decide.py",
    "decide_rules.py",
    "decide_context.py",
    "rules_base.py",
    "rules_protocol.py",
    "rules_delivery.py",
    "rules_content.py",
    "collect/urls.py",
    "collect/match.py",
    "arrivals.py",
    "report/mx.py",
    "report/trace.py",
    "report/transcript.py",
    "report/diff.py",
    "report/run.py",
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


def test_every_listed_pure_module_exists() -> None:
    assert [m for m in PURE if not (ROOT / m).exists()] == []


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io(module: str) -> None:
    bad = sorted(
        name
        for name in _imports(ROOT / module)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    )
    assert not bad, f"{module} is pure but imports {bad}"
