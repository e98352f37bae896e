"""Text from the wire or from an exception, made fit for one line of a report or log. Pure."""

from __future__ import annotations


def one_line(text: object, limit: int | None = None) -> str:
    """`text` on one line: every run of white space (line ends included) becomes one space;
    cut to `limit` characters when given."""
    line = " ".join(str(text).split())
    return line if limit is None else line[:limit]
