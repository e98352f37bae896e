"""Received header fields: lexing, one stamp's parse, and the hop chain of a message (pure)."""
