"""A message as its leaf parts, and the sent and delivered leaves aligned (pure).

Both messages are flattened into their leaf parts (paths like IMAP part numbers, "0" for the
root), reduced to what the comparison needs: decoded text (charset applied, line endings
normalised), hashes, sizes, encoding and the longest encoded line. Leaves are aligned by content
first, so a removed or inserted part does not shift every later comparison, then the remaining
ones slot by slot. When the sent bytes are not at hand, craft's manifest stands in for them.

Parsing uses `email.policy.compat32`, which accepts anything; a part that still cannot be read
is a leaf keyed by its path and a defect, never an exception.
"""

from __future__ import annotations

import dataclasses
import email.message
import hashlib
from collections.abc import Iterator
from typing import Final

from probe.analyze.diff import mime_parser
from probe.analyze.diff.sequence import opcodes
from probe.model.message import Manifest, PartManifest

MAX_DEPTH: Final = 30  # nesting of MIME parts compared
MAX_PARTS: Final = 500  # leaf parts compared
_REWRAPPABLE: Final = ("base64", "quoted-printable")
# What reading a broken part can raise inside `email`.
PART_ERRORS: Final = (ValueError, LookupError, TypeError, AttributeError, IndexError, UnicodeError)


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
    limits: tuple[str, ...] = ()  # bounds reached while reading it, each named

    @property
    def from_manifest(self) -> bool:
        """Built from craft's manifest (no bytes parsed, so no skeleton)."""
        return self.skeleton == ""


def trees(sent: bytes, delivered: bytes, manifest: Manifest | None) -> tuple[Tree, Tree]:
    """The sent and delivered trees; the sent leaves from `manifest` when `sent` is empty."""
    empty = not sent.strip()
    old = _with_manifest(parse_tree(sent), manifest, empty=empty)
    new = parse_tree(delivered)
    if manifest is not None and empty:
        new = _keyed_by_manifest(new, manifest)
    return old, new


# --------------------------------------------------------------------------- parsing


def parse_tree(raw: bytes) -> Tree:
    """The leaves of a message; never raises."""
    try:
        msg, not_read = mime_parser.parse(raw)
    except (*PART_ERRORS, RecursionError) as exc:
        return Tree((), "", "", (f"unparsable: {type(exc).__name__}",))
    walk = _Walk([] if not_read is None else [not_read])
    try:
        skeleton, shape = walk.subtree(msg, "0", 0)
    except PART_ERRORS as exc:  # outside a leaf: the tree itself is unreadable
        return Tree((), "", "", (f"unparsable: {type(exc).__name__}",))
    return Tree(tuple(walk.leaves), skeleton, shape, tuple(walk.defects), tuple(walk.limits))


@dataclasses.dataclass
class _Walk:
    """The leaves, defects and bounds reached while walking one tree."""

    limits: list[str]
    leaves: list[Part] = dataclasses.field(default_factory=list)
    defects: list[str] = dataclasses.field(default_factory=list)

    def subtree(self, msg: email.message.Message, path: str, depth: int) -> tuple[str, str]:
        """(skeleton with leaf types, shape of the containers alone) of one subtree."""
        shapes = self._read(msg, path, depth)
        for note in getattr(msg, "not_read", ()):  # once its fields have been read
            self._limit(f"part {path}: {note}")
        return shapes

    def _read(self, msg: email.message.Message, path: str, depth: int) -> tuple[str, str]:
        self.defects.extend(type(d).__name__ for d in msg.defects)
        ctype = msg.get_content_type()
        # get_payload() of a leaf decodes 8-bit text with the declared charset, whatever it is
        payload = msg.get_payload() if msg.is_multipart() else None
        if isinstance(payload, list):
            if depth >= MAX_DEPTH:
                self._limit(f"MIME parts nested deeper than {MAX_DEPTH} levels not compared")
                self.leaves.append(Part(path, ctype, key=f"deep:{path}"))
                return ctype, "*"
            inner = []
            for i, child in enumerate(payload, 1):
                if len(self.leaves) >= MAX_PARTS:
                    self._limit(f"MIME parts beyond the first {MAX_PARTS} not compared")
                    break
                if isinstance(child, email.message.Message):
                    child_path = str(i) if path == "0" else f"{path}.{i}"
                    inner.append(self.subtree(child, child_path, depth + 1))
            skeleton = ", ".join(s for s, _ in inner)
            shape = ", ".join(s for _, s in inner if s != "*")
            return f"{ctype}[{skeleton}]", f"{ctype}[{shape}]"
        try:
            self.leaves.append(_leaf(msg, path, ctype))
        except PART_ERRORS as exc:
            self.defects.append(f"UnreadablePart({path}: {type(exc).__name__})")
            self.leaves.append(Part(path, ctype, key=f"unreadable:{path}"))
        return ctype, "*"

    def _limit(self, note: str) -> None:
        if note not in self.limits:
            self.limits.append(note)


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
        line_length=_line_length(msg) if encoding in _REWRAPPABLE else None,
        key=key,
    )


def _line_length(msg: email.message.Message) -> int | None:
    """The longest encoded line; None when the payload is read in a slow codec (which
    `get_payload` applies to 8-bit bytes)."""
    if mime_parser.slow_codec(msg.get_param("charset", "ascii")):
        return None
    try:
        raw = msg.get_payload()
    except PART_ERRORS:  # a charset name Python's codecs refuse (NUL in it, ...)
        return None
    if not isinstance(raw, str):
        return None
    lengths = [len(line.rstrip()) for line in raw.splitlines() if line.strip()]
    return max(lengths) if lengths else None


def _decode(data: bytes, charset: str | None) -> str:
    text = data.decode(mime_parser.safe_charset(charset) or "utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


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


# --------------------------------------------------------------------------- alignment


def align(
    old: tuple[Part, ...], new: tuple[Part, ...]
) -> tuple[list[tuple[Part | None, Part | None]], bool]:
    """Pairs (sent, delivered), None on one side for a removed or added part; and whether the
    parts could be aligned by content (else they are paired slot by slot)."""
    ops = opcodes([p.key for p in old], [p.key for p in new])
    if ops is None:
        return list(_slot_pairs(old, new)), False
    pairs: list[tuple[Part | None, Part | None]] = []
    for op, i1, i2, j1, j2 in ops:
        if op == "equal":
            pairs.extend(zip(old[i1:i2], new[j1:j2], strict=True))
        elif op == "delete":
            pairs.extend((p, None) for p in old[i1:i2])
        elif op == "insert":
            pairs.extend((None, p) for p in new[j1:j2])
        else:
            pairs.extend(_slot_pairs(old[i1:i2], new[j1:j2]))
    return pairs, True


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
