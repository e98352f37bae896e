"""TOML text (a profile, a check config) into data, within bounds: whatever the text, the
result is the data or a ConfigError naming the file, in time linear in the text (pure).

tomllib takes time quadratic in the parts of a dotted key (`a.a.a ... = 1` of 50,000 parts:
77 s), recurses once per level of nested arrays and inline tables (RecursionError past a few
hundred) and refuses an integer of more than 4,300 digits with a bare ValueError. So the text is
measured first, in one pass over its tokens (its length, the parts of every dotted key, the
nesting of brackets and braces), and whatever tomllib still raises becomes a ConfigError.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from probe.errors import ConfigError

MAX_TOML_CHARS = 1 << 20  # a profile is a few kB; a megabyte is a mistake, not a profile
MAX_KEY_PARTS = 64  # configs use three (defaults.timeouts.connect)
MAX_NESTING = 32  # brackets and braces open at once; configs use three

# What the screen looks at: quotes, comments, dots, brackets, line ends, and runs of anything
# that cannot be part of a dotted key (which end the key: '=', ',', ':', ...).
_TOKEN = re.compile(r"\"\"\"|'''|[\"'#.\[\]{}\n]|[^A-Za-z0-9_\- \t\"'#.\[\]{}\n]+")
_BASIC = re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*"?')  # the rest of a "string" (escapes)
_LITERAL = re.compile(r"[^'\n]*'?")  # the rest of a 'string'
_ML_BASIC = re.compile(r'(?:[^"\\]|\\.|"(?!""))*(?:""")?', re.S)  # the rest of a """string"""
_ML_LITERAL = re.compile(r"(?:[^']|'(?!''))*(?:''')?")  # the rest of a '''string'''
_STRINGS = {'"': _BASIC, "'": _LITERAL, '"""': _ML_BASIC, "'''": _ML_LITERAL}


def read_toml(text: str, source: str, *, limit: int = MAX_TOML_CHARS) -> dict[str, Any]:
    """The data of a TOML text; ConfigError (naming `source`) for anything else."""
    if len(text) > limit:
        raise ConfigError(f"larger than {limit:,} characters", path=source)
    problem = screen(text)
    if problem:
        raise ConfigError(f"invalid TOML: {problem}", path=source)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=source) from None
    except ValueError as exc:  # int(): "Exceeds the limit (4300 digits) ...; use sys.set_..."
        reason = str(exc).split(";")[0][:120]
        raise ConfigError(f"invalid TOML: {reason}", path=source) from None
    except RecursionError:  # the screen bounds nesting; this is the backstop
        raise ConfigError("invalid TOML: nested too deeply", path=source) from None


def screen(text: str) -> str | None:
    """Why tomllib should not be given this text (a dotted key of too many parts, nesting too
    deep), or None. An upper bound: a run of key characters, quoted parts and dots counts as
    one key, even where TOML would read it otherwise."""
    parts = depth = 0
    line = 1
    pos = 0
    while match := _TOKEN.search(text, pos):
        token = match[0]
        pos = match.end()
        if token in _STRINGS:
            end = _STRINGS[token].match(text, pos)
            assert end is not None  # every pattern matches the empty string
            if len(token) == 3:  # a multi-line string is a value: it ends any key
                line += text.count("\n", pos, end.end())
                parts = 0
            pos = end.end()
        elif token == "#":
            newline = text.find("\n", pos)
            pos = len(text) if newline < 0 else newline
        elif token == ".":
            parts += 1
            if parts >= MAX_KEY_PARTS:
                return f"line {line}: a dotted key of more than {MAX_KEY_PARTS} parts"
        else:
            parts = 0
            if token in "[{":
                depth += 1
                if depth > MAX_NESTING:
                    return f"line {line}: nested more than {MAX_NESTING} deep"
            elif token in "]}":
                depth = max(0, depth - 1)
            elif token == "\n":
                line += 1
    return None
