"""The decision rules, one module per family: protocol (replies, TLS, banner), delivery
(drops, bounces, junk), content (rewrites, injected headers, stripped attachments)."""
