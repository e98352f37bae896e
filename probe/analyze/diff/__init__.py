"""Sent vs delivered: header and MIME-part differences, each a typed `Change` (pure)."""
