"""The server side of STARTTLS: a context as an MTA offers it, from a certificate and a key."""

from __future__ import annotations

import ssl
from pathlib import Path


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server-side context (no client certificates asked), as an MTA offers STARTTLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(str(cert_file), str(key_file))
    return context
