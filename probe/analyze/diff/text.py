"""The text diff of one text part: URL rewrites, insertions quoted exactly, or a content change.

URLs rewritten by a hop (link protection) are paired with their originals and put back before
the text itself is compared, so a rewritten link is named as such and not as changed text. An
insertion (footer, banner, disclaimer) is quoted exactly and placed: appended or prepended when
nothing a reader sees follows or precedes it (in HTML: tags and the head do not count).

Linear in the text: lines (and tags) are aligned within the work budget of
`probe.analyze.diff.sequence`, at most `MAX_INSERTIONS` insertions are placed, and the scans of
tags and invisible HTML never look for the same closing `>` or `</head>` twice. When a bound is
reached, a `not-compared` change says which.
"""

from __future__ import annotations

import html
import re
from typing import Final

from probe.analyze.diff.sequence import budget, common_prefix, opcodes
from probe.model.diff import EXACT, Change, ChangeKind, excerpt

MAX_INSERTIONS: Final = 32  # insertions placed and listed per part

_URL: Final = re.compile(r"""https?://[^\s"'<>]+""", re.IGNORECASE)
_URL_TRAIL: Final = ".,;:!?)]}"
_TOKEN: Final = re.compile(r"<[^>]*>|[^<\n]*\n|[^<\n]+|<")
_UNCLOSED_TOKEN: Final = re.compile(r"[^<\n]*\n|[^<\n]+|<")  # _TOKEN where no `>` follows
_VISIBLE: Final = re.compile(r"\S")
_BLOCK_OPEN: Final = re.compile(r"(?i)<(head|style|script|title)\b")
_BLOCK_CLOSE: Final = {
    name: re.compile(rf"(?i)</{name}\s*>") for name in ("head", "style", "script", "title")
}

_VERB: Final = {
    ChangeKind.BODY_APPENDED: "appended",
    ChangeKind.BODY_PREPENDED: "prepended",
    ChangeKind.BODY_INSERTED: "inserted",
}


def text_changes(old: str, new: str, where: str, *, html: bool = False) -> list[Change]:
    """URL rewrites, then insertions (quoted exactly) or a content change, of one text part."""
    changes, restored = _url_changes(old, new, where)
    if restored.rstrip() == old.rstrip():
        return changes
    a, b = _tokens(old), _tokens(restored)
    inserted, aligned = _insertions(old, restored, a, b, html)
    if inserted is None:
        changes.append(_content_changed(old, restored, where))
        if not aligned:
            changes.append(_not_aligned(where, "lines and tags", len(a), len(b)))
        return changes
    shown = [(position, text) for position, text in inserted if text.strip()]
    for position, text in shown[:MAX_INSERTIONS]:
        kind = _placement(old, position, html)
        changes.append(
            Change(
                kind,
                where,
                after=excerpt(text, EXACT),
                detail=f"{len(text)} characters {_VERB[kind]} at offset {position}",
                inserted=text,
            )
        )
    if len(shown) > MAX_INSERTIONS:
        changes.append(
            Change(
                ChangeKind.NOT_COMPARED,
                where,
                detail=f"{len(shown)} insertions: not listed beyond the first {MAX_INSERTIONS}",
            )
        )
    return changes


def _not_aligned(where: str, what: str, before: int, after: int) -> Change:
    return Change(
        ChangeKind.NOT_COMPARED,
        where,
        detail=(
            f"{before} -> {after} {what} not aligned: more than "
            f"{budget(before, after):,} comparisons; compared by common prefix "
            "and suffix only"
        ),
    )


# --------------------------------------------------------------------------- URLs


def _urls(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _URL.finditer(text):
        url = match.group().rstrip(_URL_TRAIL)
        found.append((match.start(), match.start() + len(url), url))
    return found


def _url_changes(old: str, new: str, where: str) -> tuple[list[Change], str]:
    """URL rewrites, and `new` with each rewritten URL put back to the original."""
    old_urls, new_urls = _urls(old), _urls(new)
    ops = opcodes([u for _, _, u in old_urls], [u for _, _, u in new_urls])
    if ops is None:
        return [_not_aligned(where, "URLs", len(old_urls), len(new_urls))], new
    replace: list[tuple[int, int, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for op, i1, i2, j1, j2 in ops:
        if op != "replace":
            continue
        for (_, _, before), (start, end, after) in zip(
            old_urls[i1:i2], new_urls[j1:j2], strict=False
        ):
            replace.append((start, end, before))
            pair = (html.unescape(before), html.unescape(after))
            seen[pair] = seen.get(pair, 0) + 1
    changes = [
        Change(
            ChangeKind.URL_REWRITTEN,
            where,
            excerpt(before, EXACT),
            excerpt(after, EXACT),
            f"URL rewritten ({count}x)",
        )
        for (before, after), count in seen.items()
    ]
    pieces: list[str] = []
    last = 0
    for start, end, before in replace:
        pieces.extend((new[last:start], before))
        last = end
    pieces.append(new[last:])
    return changes, "".join(pieces)


# --------------------------------------------------------------------------- insertions


def _tokens(text: str) -> list[str]:
    """Lines and tags. After the last `>` no tag can close, so no `<` there looks for one."""
    cut = text.find("<", text.rfind(">") + 1)
    if cut < 0:
        return _TOKEN.findall(text)
    return _TOKEN.findall(text, 0, cut) + _UNCLOSED_TOKEN.findall(text, cut)


def _insertions(
    old: str, new: str, a: list[str], b: list[str], markup: bool
) -> tuple[list[tuple[int, str]] | None, bool]:
    """(offset in old, inserted text) when `new` is `old` plus insertions only, else None;
    and whether the tokens `a` and `b` of old and new could be aligned within the budget."""
    ops = opcodes(a, b)
    if ops is not None and all(op in ("equal", "insert") for op, *_ in ops):
        offsets = [0]
        for token in a:
            offsets.append(offsets[-1] + len(token))
        found = [(offsets[i1], "".join(b[j1:j2])) for op, i1, _, j1, j2 in ops if op == "insert"]
        return found, True
    return _single_insertion(old, new, markup), ops is not None


def _single_insertion(old: str, new: str, markup: bool) -> list[tuple[int, str]] | None:
    """One insertion found by common prefix and suffix, shifted to a line or tag boundary."""
    p = common_prefix(old, new)
    q = common_prefix(old[p:][::-1], new[p:][::-1])
    if p + q != len(old):
        return None
    size = len(new) - len(old)  # the insertion is new[p : p + size]
    # shifting it left by one keeps `new` the same when the character before it ends it too
    while p > 0 and size and new[p - 1] == new[p + size - 1] and not _boundary(new, p, markup):
        p -= 1
    return [(p, new[p : p + size])]


def _boundary(new: str, p: int, markup: bool) -> bool:
    """Whether an insertion at p starts at a tag (HTML) or a line (text): it stays there."""
    return new[p] == "<" if markup else new[p - 1] == "\n"


def _placement(old: str, position: int, markup: bool) -> ChangeKind:
    if _invisible(old, position, len(old), markup):
        return ChangeKind.BODY_APPENDED
    if _invisible(old, 0, position, markup):
        return ChangeKind.BODY_PREPENDED
    return ChangeKind.BODY_INSERTED


def _invisible(text: str, start: int, end: int, markup: bool) -> bool:
    """Nothing a reader sees in text[start:end]: whitespace, and in HTML also tags, `&nbsp;`
    and the head, style, script and title blocks."""
    closes: dict[str, tuple[int, int, int]] = {}
    i = start
    while (visible := _VISIBLE.search(text, i, end)) is not None:
        i = visible.start()
        if text[i : min(i + 6, end)].lower() == "&nbsp;" and markup:
            i += 6
            continue
        if not markup or text[i] != "<":
            return False
        block = _BLOCK_OPEN.match(text, i, end)
        if block is not None:
            close = _close(text, block.group(1).lower(), block.end(), end, closes)
            if close >= 0:
                i = close
                continue
        gt = text.find(">", i, end)
        if gt < 0:
            return False
        i = gt + 1
    return True


def _close(
    text: str, name: str, start: int, end: int, seen: dict[str, tuple[int, int, int]]
) -> int:
    """End of the first `</name>` in text[start:end], or -1. `seen` keeps, per name, the last
    search (from, start and end of what it found, or -1), so no stretch is searched twice."""
    searched, found, after = seen.get(name, (end + 1, -1, -1))
    if searched <= start and (found < 0 or found >= start):
        return after
    match = _BLOCK_CLOSE[name].search(text, start, end)
    seen[name] = (start, -1, -1) if match is None else (start, match.start(), match.end())
    return seen[name][2]


def _content_changed(old: str, new: str, where: str) -> Change:
    p = common_prefix(old, new)
    start = max(0, p - 40)
    return Change(
        ChangeKind.BODY_CHANGED,
        where,
        excerpt(old[start:]),
        excerpt(new[start:]),
        f"text differs from offset {p} ({len(old)} -> {len(new)} characters)",
    )
