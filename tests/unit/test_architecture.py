"""Architecture as a test: the layering of docs/architecture.md, one rule per package.

Every module under `probe/` is read (function-level imports included). Each package may import
only the packages below it; the pure packages import no I/O at all, so they stay testable with
data; and no two modules import each other, directly or round a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "probe"

# package -> the probe packages it may import (besides itself). The order is the flow:
# profile -> plan -> send -> collect -> analyze -> decide -> report, with model at the bottom.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "files": set(),
    "data": set(),
    "model": {"errors"},
    "smtp": {"model", "errors", "data"},
    "plan": {"model", "smtp", "errors", "files"},
    "analyze": {"model", "smtp", "plan", "errors", "data"},
    "decide": {"model", "smtp", "plan", "analyze", "errors"},
    "report": {"model", "smtp", "plan", "analyze", "decide", "errors"},
    "send": {"model", "smtp", "plan", "errors"},
    "collect": {"model", "smtp", "analyze", "errors", "files"},
    "server": {"model", "smtp", "errors"},
    "history": {"model", "errors"},
    "lab": {"model", "smtp", "plan", "server", "errors"},
    "pipeline": {"model", "smtp", "plan", "send", "collect", "analyze", "decide", "report",
                 "server", "lab", "history", "errors"},
    "cli": {"model", "smtp", "plan", "send", "collect", "analyze", "decide", "report",
            "server", "lab", "history", "pipeline", "errors", "files"},
}
PURE_PACKAGES = ("model", "smtp", "plan", "analyze", "decide", "report")
PURE_MODULES = ("probe.collect.urls", "probe.collect.match", "probe.collect.imap_parse")
IO_MODULES = (
    "socket", "asyncio", "ssl", "selectors", "subprocess", "sqlite3", "imaplib", "smtplib",
    "http", "urllib.request", "threading", "signal", "aiosmtplib", "aiosmtpd", "psycopg",
    "dns.resolver", "dns.asyncresolver", "dns.query",
)
IO_PACKAGES = ("send", "collect", "server", "lab", "history", "pipeline", "cli")

# Being removed by the layout work (issue 9); each entry must go, none may be added.
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_CYCLES: list[list[str]] = []


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module this file imports, resolved to full names (`from probe.x import y` gives
    `probe.x.y` when y is a module, else `probe.x`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                names.add(candidate if candidate in MODULES else node.module)
    return names


FILES = sorted(ROOT.rglob("*.py"))
MODULES = {_module_name(p): p for p in FILES}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "probe" else None


def _probe_imports(module: str) -> set[str]:
    return {m for m in GRAPH[module] if m in MODULES and m != module}


def test_every_package_has_a_rule() -> None:
    packages = {_package(m) for m in MODULES} - {None, "__main__"}
    assert packages <= set(ALLOWED), sorted(packages - set(ALLOWED))


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _package(m) in ALLOWED))
def test_imports_point_down(module: str) -> None:
    own = _package(module)
    assert own is not None
    bad = sorted(
        target
        for target in _probe_imports(module)
        if (pkg := _package(target)) not in (None, own) and pkg not in ALLOWED[own]
        and (module, target) not in KNOWN_UPWARD
    )
    assert not bad, f"{module} ({own}) imports {bad}, which it may not"


def _is_pure(module: str) -> bool:
    return _package(module) in PURE_PACKAGES or module in PURE_MODULES


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _is_pure(m)))
def test_pure_modules_do_no_io(module: str) -> None:
    bad = sorted(
        name
        for name in GRAPH[module]
        if any(name == f or name.startswith(f + ".") for f in IO_MODULES)
        or (name in MODULES and _package(name) in IO_PACKAGES and not _is_pure(name))
    )
    assert not bad, f"{module} is pure but imports {bad}"


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(_probe_imports(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    return found


def test_no_import_circles() -> None:
    assert [c for c in _cycles() if c not in KNOWN_CYCLES] == []


def test_known_exceptions_still_exist() -> None:
    """An exception that was fixed is taken off the list, so it cannot come back unseen."""
    gone = sorted(
        (m, t) for m, t in KNOWN_UPWARD if m not in MODULES or t not in _probe_imports(m)
    )
    assert gone == []
    assert [c for c in KNOWN_CYCLES if c not in _cycles()] == []


def _closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen or current not in MODULES:
            continue
        seen.add(current)
        todo.extend(GRAPH[current])
    return seen | {n for m in seen for n in GRAPH[m]}


def test_offline_analysis_imports_no_io() -> None:
    """`probe analyze RUN.json` re-decides a stored run: nothing it loads may talk to a network."""
    loaded = _closure("probe.cli.commands.analyze")
    bad = sorted(
        name
        for name in loaded
        if any(name == f or name.startswith(f + ".") for f in IO_MODULES)
        or (name in MODULES and _package(name) in ("send", "server", "lab"))
    )
    assert not bad, bad


def test_the_architecture_test_sees_the_whole_tree() -> None:
    assert len(MODULES) > 50
    assert "probe.model.json" in MODULES and "probe.cli" in MODULES
