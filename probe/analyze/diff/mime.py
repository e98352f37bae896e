"""Sent vs delivered, part by part: the body and MIME half of `probe.analyze.diff.compare` (pure).

The leaves of both messages (`probe.analyze.diff.parts`) are aligned, then each pair is compared
aspect by aspect: a part removed, added or replaced, renamed, retyped, its charset, its transfer
encoding or line wrapping, and its content (text parts by `probe.analyze.diff.text`, so a charset
or transfer-encoding change is named as such and not as "content changed"). Whatever still goes
wrong inside a part becomes a `malformed` change, never an exception.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Final

from probe.analyze.diff.parts import PART_ERRORS, Part, align, trees
from probe.analyze.diff.text import text_changes
from probe.model.diff import EXACT, Change, ChangeKind, excerpt
from probe.model.message import Manifest

MAX_LISTED: Final = 32  # MIME defects named in a malformed change


def part_changes(
    sent: bytes, delivered: bytes, manifest: Manifest | None = None
) -> tuple[Change, ...]:
    """Bounds reached, defects, structure, then every aligned pair of leaves in delivered order."""
    old, new = trees(sent, delivered, manifest)
    changes = [Change(ChangeKind.NOT_COMPARED, "0", detail=note) for note in new.limits]
    changes += [
        Change(ChangeKind.NOT_COMPARED, "0", detail=f"sent message: {note}")
        for note in old.limits
        if note not in new.limits
    ]
    new_defects = _minus(new.defects, old.defects)
    if new_defects:
        changes.append(
            Change(
                ChangeKind.MALFORMED,
                "0",
                detail="delivered copy has MIME defects: " + _listed(new_defects),
            )
        )
    if old.shape != new.shape and old.leaves and not old.from_manifest:
        changes.append(_structure(old.skeleton, new.skeleton))
    pairs, aligned = align(old.leaves, new.leaves)
    if not aligned:
        changes.append(
            Change(
                ChangeKind.NOT_COMPARED,
                "0",
                detail=f"{len(old.leaves)} -> {len(new.leaves)} parts not aligned by content: "
                "paired by position and type",
            )
        )
    for before, after in pairs:
        try:
            changes.extend(_pair(before, after))
        except PART_ERRORS as exc:
            either = after or before
            where = either.path if either is not None else "0"
            changes.append(
                Change(ChangeKind.MALFORMED, where, detail=f"part not comparable: {exc!r}"[:200])
            )
    return tuple(changes)


def _minus(items: tuple[str, ...], remove: tuple[str, ...]) -> list[str]:
    """`items` without one of each in `remove` (a multiset difference, in order)."""
    rest = Counter(remove)
    out = []
    for item in items:
        if rest[item] > 0:
            rest[item] -= 1
        else:
            out.append(item)
    return out


def _listed(names: list[str]) -> str:
    """The names, comma-separated; after `MAX_LISTED`, how many more."""
    shown = ", ".join(names[:MAX_LISTED])
    return shown if len(names) <= MAX_LISTED else f"{shown} and {len(names) - MAX_LISTED} more"


def _structure(before: str, after: str) -> Change:
    root_before = before.split("[", 1)[0]
    root_after = after.split("[", 1)[0]
    detail = "MIME structure changed"
    if root_after.startswith("multipart/") and before in after and root_before != root_after:
        detail = f"original {root_before} wrapped in a new {root_after}"
    return Change(ChangeKind.STRUCTURE_CHANGED, "0", excerpt(before), excerpt(after), detail)


# --------------------------------------------------------------------------- one pair


def _pair(old: Part | None, new: Part | None) -> list[Change]:
    """A removed or added part; else a replacement, or every aspect that changed."""
    if new is None:
        return [_removed(old)] if old is not None else []
    if old is None:
        return [_added(new)]
    where = old.path if old.path == new.path else f"{old.path}->{new.path}"
    if _replaced(old, new):
        return [_replacement(old, new, where)]
    changes = [c for aspect in _ASPECTS if (c := aspect(old, new, where)) is not None]
    if old.key != new.key:
        changes.extend(_content(old, new, where))
    return changes


def _removed(old: Part) -> Change:
    return Change(ChangeKind.PART_REMOVED, old.path, before=old.label, detail="part removed")


def _added(new: Part) -> Change:
    shown = excerpt(new.text, EXACT) if new.text is not None else new.label
    return Change(
        ChangeKind.PART_ADDED,
        new.path,
        after=shown,
        detail=f"new part {new.label}",
        inserted=new.text or "",
    )


def _replaced(old: Part, new: Part) -> bool:
    """Other content of another type, or an attachment of another name: not the same part."""
    return old.key != new.key and (
        old.content_type != new.content_type
        or (old.attachment and not old.is_text and old.filename != new.filename)
    )


def _replacement(old: Part, new: Part, where: str) -> Change:
    shown = excerpt(new.text) if new.text is not None else new.label
    return Change(
        ChangeKind.ATTACHMENT_REPLACED,
        where,
        old.label,
        shown,
        f"{old.label} replaced by {new.label}",
        inserted=new.text or "",
    )


def _renamed(old: Part, new: Part, where: str) -> Change | None:
    if old.filename == new.filename:
        return None
    return Change(
        ChangeKind.ATTACHMENT_RENAMED,
        where,
        old.filename or "",
        new.filename or "",
        f"renamed {old.filename!r} -> {new.filename!r}",
    )


def _retyped(old: Part, new: Part, where: str) -> Change | None:
    if old.content_type == new.content_type:
        return None
    return Change(
        ChangeKind.CONTENT_TYPE_CHANGED,
        where,
        old.content_type,
        new.content_type,
        "content type changed, content kept",
    )


def _charset(old: Part, new: Part, where: str) -> Change | None:
    if not old.is_text or (old.charset or "us-ascii") == (new.charset or "us-ascii"):
        return None
    return Change(
        ChangeKind.CHARSET_CHANGED,
        where,
        old.charset or "",
        new.charset or "",
        f"charset {old.charset or '(none)'} -> {new.charset or '(none)'}",
    )


def _encoding(old: Part, new: Part, where: str) -> Change | None:
    """Another transfer encoding; with the same one, base64/QP lines wrapped at another width."""
    if old.encoding != new.encoding:
        return Change(
            ChangeKind.ENCODING_CHANGED,
            where,
            old.encoding,
            new.encoding,
            f"transfer encoding {old.encoding} -> {new.encoding}",
        )
    if old.line_length is None or new.line_length is None or old.line_length == new.line_length:
        return None
    return Change(
        ChangeKind.LINE_REWRAPPED,
        where,
        str(old.line_length),
        str(new.line_length),
        f"{new.encoding} re-wrapped from {old.line_length} to {new.line_length} columns",
    )


_ASPECTS: Final[tuple[Callable[[Part, Part, str], Change | None], ...]] = (
    _renamed,
    _retyped,
    _charset,
    _encoding,
)


def _content(old: Part, new: Part, where: str) -> list[Change]:
    """Text parts by the text diff; other parts by size and hash."""
    if old.text is not None and new.text is not None:
        return text_changes(old.text, new.text, where, html=new.content_type == "text/html")
    return [
        Change(
            ChangeKind.BODY_CHANGED,
            where,
            f"{old.size} bytes sha256 {old.sha256[:12]}",
            f"{new.size} bytes sha256 {new.sha256[:12]}",
            f"content changed ({old.label} -> {new.label})",
        )
    ]
