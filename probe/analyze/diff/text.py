"""The text diff of one text part: URL rewrites, insertions quoted exactly, or a content change.

URLs rewritten by a hop (link protection) are paired with their originals and put back before
the text itself is compared, so a rewritten link is named as such and not as changed text. An
insertion (footer, banner, disclaimer) is quoted exactly and placed: appended or prepended when
nothing a reader sees follows or precedes it (in HTML: tags and the head do not count).
"""

from __future__ import annotations

import difflib
import html
import re
from typing import Final

from probe.model.diff import EXACT, Change, ChangeKind, excerpt

_URL: Final = re.compile(r"""https?://[^\s"'<>]+""", re.IGNORECASE)
_URL_TRAIL: Final = ".,;:!?)]}"
_TOKEN: Final = re.compile(r"<[^>]*>|[^<\n]*\n|[^<\n]+|<")
_INVISIBLE: Final = re.compile(r"(?is)<(head|style|script|title)\b.*?</\1\s*>|<[^>]*>|&nbsp;")


def text_changes(old: str, new: str, where: str, *, html: bool = False) -> list[Change]:
    """URL rewrites, then insertions (quoted exactly) or a content change, of one text part."""
    changes, restored = _url_changes(old, new, where)
    if restored.rstrip() == old.rstrip():
        return changes
    inserted = _insertions(old, restored, html)
    if inserted is None:
        changes.append(_content_changed(old, restored, where))
        return changes
    for position, text in inserted:
        if not text.strip():
            continue
        kind = _placement(old[:position], old[position:], html)
        changes.append(
            Change(
                kind,
                where,
                after=excerpt(text, EXACT),
                detail=f"{len(text)} characters {_VERB[kind]} at offset {position}",
                inserted=text,
            )
        )
    return changes


_VERB: Final = {
    ChangeKind.BODY_APPENDED: "appended",
    ChangeKind.BODY_PREPENDED: "prepended",
    ChangeKind.BODY_INSERTED: "inserted",
}


def _urls(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _URL.finditer(text):
        url = match.group().rstrip(_URL_TRAIL)
        found.append((match.start(), match.start() + len(url), url))
    return found


def _url_changes(old: str, new: str, where: str) -> tuple[list[Change], str]:
    """URL rewrites, and `new` with each rewritten URL put back to the original."""
    old_urls, new_urls = _urls(old), _urls(new)
    matcher = difflib.SequenceMatcher(
        None, [u for _, _, u in old_urls], [u for _, _, u in new_urls], autojunk=False
    )
    replace: list[tuple[int, int, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
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


def _insertions(old: str, new: str, markup: bool) -> list[tuple[int, str]] | None:
    """(offset in old, inserted text) when `new` is `old` plus insertions only, else None."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    ops = matcher.get_opcodes()
    if all(op in ("equal", "insert") for op, *_ in ops):
        return [
            (len("".join(a[:i1])), "".join(b[j1:j2])) for op, i1, _, j1, j2 in ops if op == "insert"
        ]
    return _single_insertion(old, new, markup)


def _single_insertion(old: str, new: str, markup: bool) -> list[tuple[int, str]] | None:
    """One insertion found by common prefix and suffix, shifted to a line or tag boundary."""
    limit = min(len(old), len(new))
    p = 0
    while p < limit and old[p] == new[p]:
        p += 1
    q = 0
    while q < limit - p and old[-1 - q] == new[-1 - q]:
        q += 1
    if p + q != len(old):
        return None
    text = new[p : len(new) - q]
    while p > 0 and text and old[p - 1] == text[-1] and not _boundary(old, p, text, markup):
        text = old[p - 1] + text[:-1]
        p -= 1
    return [(p, text)]


def _boundary(old: str, p: int, text: str, markup: bool) -> bool:
    return text.startswith("<") if markup else old[p - 1] == "\n"


def _placement(head: str, tail: str, markup: bool) -> ChangeKind:
    if _invisible(tail, markup):
        return ChangeKind.BODY_APPENDED
    if _invisible(head, markup):
        return ChangeKind.BODY_PREPENDED
    return ChangeKind.BODY_INSERTED


def _invisible(text: str, markup: bool) -> bool:
    """Nothing a reader sees: whitespace, and in HTML also tags and the head."""
    return not (_INVISIBLE.sub("", text) if markup else text).strip()


def _content_changed(old: str, new: str, where: str) -> Change:
    p = 0
    while p < min(len(old), len(new)) and old[p] == new[p]:
        p += 1
    start = max(0, p - 40)
    return Change(
        ChangeKind.BODY_CHANGED,
        where,
        excerpt(old[start:]),
        excerpt(new[start:]),
        f"text differs from offset {p} ({len(old)} -> {len(new)} characters)",
    )
