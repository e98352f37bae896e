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
    "plan/craft.py",
    "plan/attachments.py",
    "smtp/envelope.py",
    "plan/profiles.py",
    "smtp/replies.py",
    "analyze/received/path.py",
    "analyze/received/parser.py",
    "analyze/received/fast.py",
    "analyze/received/types.py",
    "analyze/received/fields.py",
    "analyze/received/lexer.py",
    "analyze/diff/compare.py",
    "analyze/diff/mime.py",
    "analyze/bounce/dsn.py",
    "analyze/fingerprint/match.py",
    "analyze/codes.py",
    "analyze/mx.py",
    "plan/threshold.py",
    "model/send.py",
    "model/run.py",
    "analyze/run.py",
    "model/verdict.py",
    "decide/decision.py",
    "decide/rules/registry.py",
    "decide/context.py",
    "decide/rules/common.py",
    "decide/rules/protocol.py",
    "decide/rules/delivery.py",
    "decide/rules/content.py",
    "collect/urls.py",
    "collect/match.py",
    "model/collect.py",
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
    "probe.send.converse",
    "probe.send.resolve",
    "probe.send.matrix",
    "probe.collect.imap",
    "probe.collect.maildir",
    "probe.server.listener",
    "probe.history",
    "probe.lab",
    "probe.cli",
    "probe.cli.base",
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
