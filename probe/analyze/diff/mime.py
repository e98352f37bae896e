"""Sent vs delivered, part by part: the body and MIME half of `probe.analyze.diff.compare` (pure).

Both messages are flattened into their leaf parts (paths like IMAP part numbers, "0" for the
root). Leaves are aligned by content first, so a removed or inserted part does not shift every
later comparison, then the remaining ones slot by slot. Text is compared decoded (charset
applied, line endings normalised), so a charset or transfer-encoding change is named as such and
not as "content changed"; an insertion is quoted exactly (footer, banner), and URLs rewritten by
a hop are paired with their originals before the text itself is compared.

Parsing uses `email.policy.compat32`, which accepts anything; whatever still goes wrong inside a
part becomes a `malformed` change, never an exception.
"""

from __future__ import annotations

import dataclasses
import difflib
import email.message
import email.parser
import email.policy
import hashlib
import html
import re
from collections.abc import Iterator
from typing import Final

from probe.analyze.diff.compare import EXACT, Change, ChangeKind, excerpt
from probe.model.message import Manifest, PartManifest

_PARSER: Final = email.parser.BytesParser(policy=email.policy.compat32)
_MAX_DEPTH: Final = 30
_REWRAPPABLE: Final = ("base64", "quoted-printable")
_URL: Final = re.compile(r"""https?://[^\s"'<>]+""", re.IGNORECASE)
_URL_TRAIL: Final = ".,;:!?)]}"
_TOKEN: Final = re.compile(r"<[^>]*>|[^<\n]*\n|[^<\n]+|<")
_INVISIBLE: Final = re.compile(r"(?is)<(head|style|script|title)\b.*?</\1\s*>|<[^>]*>|&nbsp;")
_ERRORS: Final = (ValueError, LookupError, TypeError, AttributeError, IndexError, UnicodeError)


@dataclasses.dataclass(frozen=True)
class Part:
    """One leaf part, reduced to what the comparison needs."""

    path: str
    content_type: str
    charset: str | None = None
    encoding: str = "7bit"
    filename: str | None = None
    attachment: bool = False
    text: str | None = None  # decoded text, LF line endings (text/* parts only)
    sha256: str = ""  # of the decoded bytes
    size: int = 0  # decoded bytes
    line_length: int | None = None  # longest encoded line (base64 / quoted-printable)
    key: str = ""  # alignment key: equal keys mean equal content

    @property
    def is_text(self) -> bool:
        return self.content_type.startswith("text/")

    @property
    def label(self) -> str:
        name = f" {self.filename!r}" if self.filename else ""
        return f"{self.content_type}{name}, {self.size} bytes"


@dataclasses.dataclass(frozen=True)
class Tree:
    leaves: tuple[Part, ...]
    skeleton: str  # "multipart/mixed[text/plain, application/pdf]"
    shape: str  # the containers alone: "multipart/mixed[]"; "*" for a single part
    defects: tuple[str, ...]


def part_changes(
    sent: bytes, delivered: bytes, manifest: Manifest | None = None
) -> tuple[Change, ...]:
    """Structure, then every aligned pair of leaves in delivered order."""
    old = _with_manifest(parse_tree(sent), manifest, empty=not sent.strip())
    new = parse_tree(delivered)
    if manifest is not None and not sent.strip():
        new = _keyed_by_manifest(new, manifest)
    changes: list[Change] = []
    new_defects = _minus(new.defects, old.defects)
    if new_defects:
        changes.append(
            Change(
                ChangeKind.MALFORMED,
                "0",
                detail="delivered copy has MIME defects: " + ", ".join(new_defects),
            )
        )
    if old.shape != new.shape and old.leaves and not _manifest_only(old):
        changes.append(_structure(old.skeleton, new.skeleton))
    for before, after in align(old.leaves, new.leaves):
        try:
            changes.extend(_pair(before, after))
        except _ERRORS as exc:
            either = after or before
            where = either.path if either is not None else "0"
            changes.append(
                Change(ChangeKind.MALFORMED, where, detail=f"part not comparable: {exc!r}"[:200])
            )
    return tuple(changes)


# --------------------------------------------------------------------------- parsing


def parse_tree(raw: bytes) -> Tree:
    """The leaves of a message; never raises."""
    try:
        msg = _PARSER.parsebytes(raw)
    except _ERRORS as exc:
        return Tree((), "", "", (f"unparsable: {type(exc).__name__}",))
    leaves: list[Part] = []
    defects: list[str] = []
    skeleton, shape = _walk(msg, "0", leaves, defects, 0)
    return Tree(tuple(leaves), skeleton, shape, tuple(defects))


def _walk(
    msg: email.message.Message, path: str, leaves: list[Part], defects: list[str], depth: int
) -> tuple[str, str]:
    """(skeleton with leaf types, shape of the containers alone) of one subtree."""
    defects.extend(type(d).__name__ for d in msg.defects)
    ctype = msg.get_content_type()
    payload = msg.get_payload()
    if msg.is_multipart() and isinstance(payload, list) and depth < _MAX_DEPTH:
        inner = []
        for i, child in enumerate(payload, 1):
            if isinstance(child, email.message.Message):
                child_path = str(i) if path == "0" else f"{path}.{i}"
                inner.append(_walk(child, child_path, leaves, defects, depth + 1))
        skeleton = ", ".join(s for s, _ in inner)
        shape = ", ".join(s for _, s in inner if s != "*")
        return f"{ctype}[{skeleton}]", f"{ctype}[{shape}]"
    try:
        leaves.append(_leaf(msg, path, ctype))
    except _ERRORS as exc:
        defects.append(f"UnreadablePart({path}: {type(exc).__name__})")
        leaves.append(Part(path, ctype, key=f"unreadable:{path}"))
    return ctype, "*"


def _leaf(msg: email.message.Message, path: str, ctype: str) -> Part:
    data = msg.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = str(msg.get_payload()).encode("utf-8", "surrogateescape")
    charset = msg.get_content_charset()
    encoding = str(msg.get("Content-Transfer-Encoding", "7bit")).strip().lower() or "7bit"
    filename = msg.get_filename()
    disposition = str(msg.get("Content-Disposition", "")).split(";")[0].strip().lower()
    sha = hashlib.sha256(data).hexdigest()
    text = _decode(data, charset) if ctype.startswith("text/") else None
    key = "t:" + hashlib.sha256(text.rstrip().encode()).hexdigest() if text is not None else sha
    raw = msg.get_payload()
    line_length = None
    if encoding in _REWRAPPABLE and isinstance(raw, str):
        lengths = [len(line.rstrip()) for line in raw.splitlines() if line.strip()]
        line_length = max(lengths) if lengths else None
    return Part(
        path=path,
        content_type=ctype,
        charset=charset,
        encoding=encoding,
        filename=str(filename) if filename else None,
        attachment=disposition == "attachment" or bool(filename),
        text=text,
        sha256=sha,
        size=len(data),
        line_length=line_length,
        key=key,
    )


def _decode(data: bytes, charset: str | None) -> str:
    try:
        text = data.decode(charset or "utf-8", "replace")
    except (LookupError, ValueError):
        text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _minus(items: tuple[str, ...], remove: tuple[str, ...]) -> list[str]:
    rest = list(remove)
    out = []
    for item in items:
        if item in rest:
            rest.remove(item)
        else:
            out.append(item)
    return out


# --------------------------------------------------------------------------- manifest


def _with_manifest(tree: Tree, manifest: Manifest | None, *, empty: bool) -> Tree:
    """The sent leaves: parsed from the bytes, or from craft's manifest when there are none."""
    if manifest is None or not manifest.parts or not empty:
        return tree
    leaves = tuple(_from_manifest(p) for p in manifest.parts if not _container(p))
    return Tree(leaves, "", "", ())


def _from_manifest(part: PartManifest) -> Part:
    return Part(
        path=part.path,
        content_type=part.content_type,
        charset=part.charset,
        encoding=(part.transfer_encoding or "7bit").lower(),
        filename=part.filename,
        attachment=part.disposition == "attachment" or bool(part.filename),
        sha256=part.decoded_sha256,
        size=part.decoded_size,
        key="m:" + part.decoded_sha256,
    )


def _keyed_by_manifest(tree: Tree, manifest: Manifest) -> Tree:
    """Delivered leaves whose decoded hash is one craft recorded align with that part."""
    known = {p.decoded_sha256 for p in manifest.parts if p.decoded_sha256}
    leaves = tuple(
        dataclasses.replace(leaf, key="m:" + leaf.sha256) if leaf.sha256 in known else leaf
        for leaf in tree.leaves
    )
    return dataclasses.replace(tree, leaves=leaves)


def _container(part: PartManifest) -> bool:
    return part.content_type.startswith("multipart/")


def _manifest_only(tree: Tree) -> bool:
    return tree.skeleton == ""


# --------------------------------------------------------------------------- alignment


def align(
    old: tuple[Part, ...], new: tuple[Part, ...]
) -> Iterator[tuple[Part | None, Part | None]]:
    """Pairs (sent, delivered); None on one side for a removed or added part."""
    matcher = difflib.SequenceMatcher(
        None, [p.key for p in old], [p.key for p in new], autojunk=False
    )
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            yield from zip(old[i1:i2], new[j1:j2], strict=True)
        elif op == "delete":
            yield from ((p, None) for p in old[i1:i2])
        elif op == "insert":
            yield from ((None, p) for p in new[j1:j2])
        else:
            yield from _slot_pairs(old[i1:i2], new[j1:j2])


def _slot_pairs(
    old: tuple[Part, ...], new: tuple[Part, ...]
) -> Iterator[tuple[Part | None, Part | None]]:
    """Changed parts: same number -> slot by slot; otherwise by matching type, in order."""
    if len(old) == len(new):
        yield from zip(old, new, strict=True)
        return
    j = 0
    for part in old:
        hit = next(
            (k for k in range(j, len(new)) if _same_slot(part, new[k])),
            None,
        )
        if hit is None:
            yield part, None
            continue
        yield from ((None, p) for p in new[j:hit])
        yield part, new[hit]
        j = hit + 1
    yield from ((None, p) for p in new[j:])


def _same_slot(old: Part, new: Part) -> bool:
    if old.filename and old.filename == new.filename:
        return True
    return old.content_type == new.content_type and old.attachment == new.attachment


# --------------------------------------------------------------------------- comparison


def _structure(before: str, after: str) -> Change:
    root_before = before.split("[", 1)[0]
    root_after = after.split("[", 1)[0]
    detail = "MIME structure changed"
    if root_after.startswith("multipart/") and before in after and root_before != root_after:
        detail = f"original {root_before} wrapped in a new {root_after}"
    return Change(ChangeKind.STRUCTURE_CHANGED, "0", excerpt(before), excerpt(after), detail)


def _pair(old: Part | None, new: Part | None) -> list[Change]:
    if new is None and old is not None:
        return [Change(ChangeKind.PART_REMOVED, old.path, before=old.label, detail="part removed")]
    if old is None and new is not None:
        shown = excerpt(new.text, EXACT) if new.text is not None else new.label
        return [
            Change(
                ChangeKind.PART_ADDED,
                new.path,
                after=shown,
                detail=f"new part {new.label}",
                inserted=new.text or "",
            )
        ]
    assert old is not None and new is not None
    where = old.path if old.path == new.path else f"{old.path}->{new.path}"
    same = old.key == new.key
    changes: list[Change] = []
    replaced = not same and (
        old.content_type != new.content_type
        or (old.attachment and not old.is_text and old.filename != new.filename)
    )
    if replaced:
        shown = excerpt(new.text) if new.text is not None else new.label
        return [
            Change(
                ChangeKind.ATTACHMENT_REPLACED,
                where,
                old.label,
                shown,
                f"{old.label} replaced by {new.label}",
                inserted=new.text or "",
            )
        ]
    if old.filename != new.filename:
        changes.append(
            Change(
                ChangeKind.ATTACHMENT_RENAMED,
                where,
                old.filename or "",
                new.filename or "",
                f"renamed {old.filename!r} -> {new.filename!r}",
            )
        )
    if old.content_type != new.content_type:
        changes.append(
            Change(
                ChangeKind.CONTENT_TYPE_CHANGED,
                where,
                old.content_type,
                new.content_type,
                "content type changed, content kept",
            )
        )
    if old.is_text and (old.charset or "us-ascii") != (new.charset or "us-ascii"):
        changes.append(
            Change(
                ChangeKind.CHARSET_CHANGED,
                where,
                old.charset or "",
                new.charset or "",
                f"charset {old.charset or '(none)'} -> {new.charset or '(none)'}",
            )
        )
    if old.encoding != new.encoding:
        changes.append(
            Change(
                ChangeKind.ENCODING_CHANGED,
                where,
                old.encoding,
                new.encoding,
                f"transfer encoding {old.encoding} -> {new.encoding}",
            )
        )
    elif (
        old.line_length is not None
        and new.line_length is not None
        and old.line_length != new.line_length
    ):
        changes.append(
            Change(
                ChangeKind.LINE_REWRAPPED,
                where,
                str(old.line_length),
                str(new.line_length),
                f"{new.encoding} re-wrapped from {old.line_length} to {new.line_length} columns",
            )
        )
    if not same:
        if old.text is not None and new.text is not None:
            changes.extend(text_changes(old.text, new.text, where, html=_is_html(new)))
        else:
            changes.append(
                Change(
                    ChangeKind.BODY_CHANGED,
                    where,
                    f"{old.size} bytes sha256 {old.sha256[:12]}",
                    f"{new.size} bytes sha256 {new.sha256[:12]}",
                    f"content changed ({old.label} -> {new.label})",
                )
            )
    return changes


def _is_html(part: Part) -> bool:
    return part.content_type == "text/html"


# --------------------------------------------------------------------------- text


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
