"""Lexer and lenient date parser for Received header values (pure).

Real stamps break the RFC 5321 grammar (see docs/research/received.md): keywords appear inside
comments (`with cipher`, `(from user@localhost)`), semicolons inside comments
(`(ORCPT <rfc822;x@y>)`), dates with fractional seconds, Go time format or no `;` at all. So the
value is tokenized once into top-level words, comments and semicolons; only top-level words can be
keywords, and the date is what follows the last top-level `;`.

The fast path is one precompiled regex (comments nested up to three levels, possessive
quantifiers, so no backtracking blow-up); anything it cannot take (deeper nesting, an unclosed
comment, a stray backslash) goes through a character loop that accepts every input.
"""

from __future__ import annotations

import re
from typing import Final

# Token kinds. A token is (kind, text); comment text is the inner content without the outer
# parentheses, nested comments kept as written.
WORD: Final = "w"
COMMENT: Final = "c"
SEMI: Final = ";"

Token = tuple[str, str]

MAX_VALUE: Final = 16_384  # longer values are parsed up to here; the raw value is kept whole
# With a backslash, a failed comment match (`\(` escapes its own parenthesis) is retried from
# every later parenthesis: quadratic in the length, so such values are parsed up to here.
MAX_ESCAPED_VALUE: Final = 2_048


def parsed_length(value: str) -> int:
    """How much of a value the lexer reads (the parser flags a value cut there)."""
    if len(value) <= MAX_ESCAPED_VALUE:
        return len(value)
    limit = MAX_ESCAPED_VALUE if "\\" in value[:MAX_VALUE] else MAX_VALUE
    return min(len(value), limit)


_Q = r'"(?:[^"\\]++|\\.)*+"'
_C1 = r"\((?:[^()\\]++|\\.)*+\)"
_C2 = rf'\((?:[^()\\"]++|\\.|{_Q}|"|{_C1})*+\)'
_C3 = rf'\((?:[^()\\"]++|\\.|{_Q}|"|{_C2})*+\)'
_ANGLE = r"<(?:[^<>;()]++|<[^<>;()]*+>)*+>"
_TOKEN_RE = re.compile(
    rf'[ \t\r\n]*+(?:({_C3})|(;)|((?:{_Q}|{_ANGLE}|[^\s();"<]++|["<])++)|([()]))',
    re.S,
)


Clause = tuple[list[str], list[str]]  # words, comments (inner text)

KEYWORDS: Final = frozenset(
    ("from", "by", "via", "with", "id", "for", "tls", "envelope-from", "envelope-sender")
)
_NEEDS_VALUE: Final = frozenset(("from", "by", "id", "for"))
_SPLIT_RE = re.compile(f"({_C3})", re.S)


def segment(value: str) -> tuple[dict[str, Clause], list[Token] | None, int, bool, list[str]]:
    """Clauses of a Received value, keyed by keyword ("" for text before any keyword).

    Returns (clauses, tokens after the last top-level `;` or None without one, number of
    top-level `;`, whether a comment was unclosed, repeated keywords). Keywords count only as
    whole words outside comments; the first occurrence wins and a repeated one opens a clause
    keyed `<keyword>#` (IBM's `for <x> from <y>`), except `with` inside `with` (free text).

    The common case is one C-level split on comments plus one keyword scan per text piece;
    quoted strings, deep nesting or unclosed comments go through `tokenize` instead.
    """
    value = value[: parsed_length(value)]
    pieces = _SPLIT_RE.split(value)
    unclosed = False
    text = "".join(pieces[::2])  # outside comments
    if '"' in value or "(" in text:
        pieces, unclosed = _pieces_from_tokens(value)
        text = "".join(pieces[::2])
    semis = text.count(";")
    tail: list[Token] | None = None
    if semis:
        i = len(pieces) - 1 if len(pieces) % 2 else len(pieces) - 2
        while ";" not in pieces[i]:
            i -= 2
        cut = pieces[i].rfind(";")
        tail = [(WORD, w) for w in pieces[i][cut + 1 :].split()]
        for j in range(i + 1, len(pieces)):
            if j % 2:
                tail.append((COMMENT, pieces[j][1:-1]))
            else:
                tail.extend((WORD, w) for w in pieces[j].split())
        pieces = pieces[:i] + [pieces[i][:cut]]
        if semis > 1:
            pieces = [p if j % 2 else p.replace(";", " ") for j, p in enumerate(pieces)]
    clauses, repeated = _clauses(pieces)
    return clauses, tail, semis, unclosed, repeated


def _clauses(pieces: list[str]) -> tuple[dict[str, Clause], list[str]]:
    current: Clause = ([], [])
    clauses: dict[str, Clause] = {"": current}
    repeated: list[str] = []
    name = ""
    for j, piece in enumerate(pieces):
        if j % 2:
            current[1].append(piece[1:-1])
            continue
        words = current[0]
        for word in piece.split():
            low = word.lower()
            if low not in KEYWORDS or (name in _NEEDS_VALUE and not words and not current[1]):
                words.append(word)  # `by id.example`: right after a keyword, a value
            elif low not in clauses:
                name = low
                current = ([], [])
                words = current[0]
                clauses[name] = current
            elif low == name == "with":
                words.append(word)
            else:
                repeated.append(low)
                name = low + "#"
                current = clauses.setdefault(name, ([], []))
                words = current[0]
                words.append(word)
    return clauses, repeated


def _pieces_from_tokens(value: str) -> tuple[list[str], bool]:
    """The slow path: tokens regrouped as alternating text and "(comment)" pieces."""
    tokens, unclosed = tokenize(value)
    pieces: list[str] = []
    text: list[str] = []
    for kind, token in tokens:
        if kind == COMMENT:
            pieces.append(" ".join(text))
            pieces.append(f"({token})")
            text = []
        else:
            text.append(token)
    pieces.append(" ".join(text))
    return pieces, unclosed


def tokenize(value: str) -> tuple[list[Token], bool]:
    """Top-level tokens of a (folded or unfolded) header value, and whether a comment was unclosed.

    Never raises; every character of the input ends up in some token (whitespace aside).
    """
    value = value[: parsed_length(value)]
    tokens: list[Token] = []
    append = tokens.append
    for match in _TOKEN_RE.finditer(value):  # lazily: a stray parenthesis ends the scan
        comment, semi, word, _stray = match.groups()
        if comment:
            append((COMMENT, comment[1:-1]))
        elif word:
            append((WORD, word))
        elif semi:
            append((SEMI, ";"))
        else:
            return _tokenize_slow(value)
    return tokens, False


def _tokenize_slow(value: str) -> tuple[list[Token], bool]:
    """Character loop for what the regex cannot take: any nesting depth, unclosed comments."""
    tokens: list[Token] = []
    buf: list[str] = []
    i, n = 0, len(value)

    def flush() -> None:
        if buf:
            tokens.append((WORD, "".join(buf)))
            buf.clear()

    while i < n:
        ch = value[i]
        if ch in " \t\r\n":
            flush()
            i += 1
        elif ch == ";":
            flush()
            tokens.append((SEMI, ";"))
            i += 1
        elif ch == "(":
            flush()
            depth, j = 1, i + 1
            while j < n and depth:
                cj = value[j]
                if cj == "\\":
                    j += 1
                elif cj == "(":
                    depth += 1
                elif cj == ")":
                    depth -= 1
                j += 1
            if depth:  # unclosed: the rest is the comment, and the caller flags it
                tokens.append((COMMENT, value[i + 1 :]))
                return tokens, True
            tokens.append((COMMENT, value[i + 1 : j - 1]))
            i = j
        elif ch == '"':
            end = _closing_quote(value, i)
            buf.append(value[i:end])
            i = end
        else:  # a stray ")" is kept as (part of) a word
            buf.append(ch)
            i += 1
    flush()
    return tokens, False


def _closing_quote(value: str, start: int) -> int:
    """Index after the quoted string opening at `start`, or start+1 when it never closes."""
    j, n = start + 1, len(value)
    while j < n:
        if value[j] == "\\":
            j += 2
            continue
        if value[j] == '"':
            return j + 1
        j += 1
    return start + 1
