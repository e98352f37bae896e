"""Sent vs delivered: header and MIME-part differences, each a typed `Change` (pure).

`compare` (compare.py) diffs the header fields and hands the body to `mime.part_changes`, which
compares the leaves of both trees (`parts`: the tree, read by the bounded stdlib parser of
`mime_parser`, and the alignment) aspect by aspect, text parts by `text`. `sequence` aligns
lines, URLs and parts within a budget of work linear in their number. The result types live in
`probe.model.diff`; every bound reached is a `not-compared` change.
"""
