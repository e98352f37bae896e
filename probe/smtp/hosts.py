"""Host names as SMTP and the DNS write them: is this name an address literal, and what is a
domain's normal (IDNA, lower-case) form? Pure.

One check for every place that asks (the TLS server name, the MX judge, the hop names of a
verdict, the resolver), so `192.0.2.1`, `[192.0.2.1]` and `[IPv6:2001:db8::1]` mean the same
everywhere.
"""

from __future__ import annotations

import ipaddress

import dns.exception
import dns.name

from probe.errors import UsageError, error_line

MAX_NAME = 253
MAX_LABEL = 63
_LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


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


def normalize_domain(text: str) -> str:
    """The ASCII (IDNA) form of a domain, lower-case, without the trailing dot.

    Unicode is accepted and converted; anything that is not a valid host name raises one line.
    """
    raw = text.strip()
    if not raw:
        raise UsageError("empty domain name")
    if any(ch.isspace() for ch in raw):
        raise UsageError(f"invalid domain name {text!r}: contains white space")
    if "@" in raw:
        raise UsageError(f"invalid domain name {text!r}: give the domain, not an address")
    body = raw[:-1] if raw.endswith(".") else raw
    if not body or any(not label for label in body.split(".")):
        raise UsageError(f"invalid domain name {text!r}: empty label")
    try:
        ascii_name = dns.name.from_unicode(body).to_text(omit_final_dot=True).lower()
    except dns.name.LabelTooLong:
        raise UsageError(f"invalid domain name {text!r}: a label is longer than 63 bytes") from None
    except dns.name.NameTooLong:
        raise UsageError(f"invalid domain name {text!r}: longer than 253 bytes") from None
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        raise UsageError(f"invalid domain name {text!r}: {error_line(exc)}") from None
    for label in ascii_name.split("."):
        if len(label) > MAX_LABEL:
            raise UsageError(f"invalid domain name {text!r}: a label is longer than 63 bytes")
        if not set(label) <= _LDH or label.startswith("-") or label.endswith("-"):
            raise UsageError(f"invalid domain name {text!r}: bad label {label!r}")
    if len(ascii_name) > MAX_NAME:
        raise UsageError(f"invalid domain name {text!r}: longer than 253 bytes")
    return ascii_name
