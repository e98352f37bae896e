"""Which product wrote a reply, a header or a queue id: knowledge and matching (pure)."""
