"""Host names as SMTP and the DNS write them: is this name an address literal? Pure.

One check for every place that asks (the TLS server name, the MX judge, the hop names of a
verdict, the resolver), so `192.0.2.1`, `[192.0.2.1]` and `[IPv6:2001:db8::1]` mean the same
everywhere.
"""

from __future__ import annotations

import ipaddress


def ip_literal(text: str) -> str | None:
    """The address when `text` is an IP literal (`192.0.2.1`, `::1`, `[192.0.2.1]`,
    `[IPv6:::1]`, RFC 5321 4.1.3), in its normal form; None for a name."""
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
        if value.lower().startswith("ipv6:"):
            value = value[5:]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def is_ip_literal(text: str) -> bool:
    return ip_literal(text) is not None
