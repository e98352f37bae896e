"""Certificate facts of a STARTTLS session, judged after the fact.

The handshake is done with verification off, so the certificate is always seen, even when it
would fail. Each fact is then established on its own: the name check (RFC 6125: SAN DNS names
with a left-most wildcard label, IP SANs; no common-name fallback, like Python and browsers), the
chain (signatures up to a trust anchor of the system store or the given CA file, every
certificate in its validity period, issuers marked as CA), and expiry.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import ssl
import threading
import warnings
from pathlib import Path
from typing import Any

from cryptography import x509

from probe.model.smtp import Certificate

MAX_DEPTH = 10


def make_probe_context() -> ssl.SSLContext:
    """A client context that accepts any certificate, so the certificate can be inspected."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def peer_chain(ssl_object: Any) -> list[bytes]:
    """The DER certificates the peer sent, leaf first (unverified)."""
    inner = getattr(ssl_object, "_sslobj", None)
    getter = getattr(inner, "get_unverified_chain", None) or getattr(
        ssl_object, "get_unverified_chain", None
    )
    chain: list[bytes] = []
    if getter is not None:
        try:
            for item in getter() or ():
                chain.append(item if isinstance(item, bytes) else item.public_bytes(2))  # DER
        except (ssl.SSLError, ValueError, TypeError, AttributeError):
            chain = []
    if not chain:
        leaf = ssl_object.getpeercert(binary_form=True)
        if leaf:
            chain = [leaf]
    return chain


def inspect_chain(
    chain_der: list[bytes],
    name: str,
    *,
    ca_file: str | None = None,
    system_trust: bool = True,
    now: dt.datetime | None = None,
) -> Certificate | None:
    """The Certificate facts for `name`; None when the peer sent no certificate."""
    if not chain_der:
        return None
    now = now or dt.datetime.now(dt.UTC)
    try:
        chain = [x509.load_der_x509_certificate(der) for der in chain_der]
    except ValueError as exc:
        return Certificate(
            subject="(unparsable certificate)",
            issuer="",
            sans=(),
            not_before=None,
            not_after=None,
            valid_for_host=False,
            chain_verifies=False,
            expired=False,
            verify_error=f"cannot parse the certificate: {exc}",
            sha256=hashlib.sha256(chain_der[0]).hexdigest(),
        )
    leaf = chain[0]
    sans = _sans(leaf)
    anchors = _anchors(ca_file, system_trust)
    error = _verify_chain(chain, anchors, now)
    not_after = leaf.not_valid_after_utc
    return Certificate(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        sans=tuple(sans),
        not_before=leaf.not_valid_before_utc,
        not_after=not_after,
        valid_for_host=matches_name(sans, name),
        chain_verifies=not error,
        expired=not_after < now,
        verify_error=error,
        sha256=hashlib.sha256(chain_der[0]).hexdigest(),
    )


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    names: list[str] = [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)]
    names += [f"IP:{ip}" for ip in san.get_values_for_type(x509.IPAddress)]
    return names


def matches_name(sans: list[str] | tuple[str, ...], name: str) -> bool:
    """RFC 6125 matching of `name` (host name or IP literal) against `DNS:`/`IP:` SANs."""
    name = name.strip("[]").rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    for san in sans:
        kind, _, value = san.partition(":")
        if ip is not None:
            if kind == "IP" and ipaddress.ip_address(value) == ip:
                return True
        elif kind == "DNS" and _dns_match(value.rstrip(".").lower(), name):
            return True
    return False


def _dns_match(pattern: str, name: str) -> bool:
    if pattern == name:
        return True
    if not pattern.startswith("*."):
        return False
    head, _, rest = name.partition(".")
    # the wildcard covers exactly one non-empty label, and never a bare public suffix
    return bool(head) and rest == pattern[2:] and rest.count(".") >= 1


@functools.cache
def _system_anchors() -> tuple[x509.Certificate, ...]:
    paths = ssl.get_default_verify_paths()
    for cafile in (paths.cafile, paths.openssl_cafile):
        if cafile and Path(cafile).is_file():
            return tuple(_load_pem(Path(cafile)))
    found: list[x509.Certificate] = []
    capath = paths.capath or paths.openssl_capath
    if capath and Path(capath).is_dir():
        for entry in sorted(Path(capath).iterdir()):
            if entry.is_file():
                found += _load_pem(entry)
    return tuple(found)


_QUIET = threading.Lock()  # catch_warnings is process-wide, and inspect_chain runs in threads


def _load_pem(path: Path) -> list[x509.Certificate]:
    try:  # old roots with odd serials (0 in some system stores) are still trust anchors
        with _QUIET, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError):
        return []


def _anchors(ca_file: str | None, system_trust: bool) -> list[x509.Certificate]:
    anchors = list(_system_anchors()) if system_trust else []
    if ca_file:
        anchors += _load_pem(Path(ca_file))
    return anchors


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # noqa: BLE001 - InvalidSignature, unsupported key types: not the issuer
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return cert.version is x509.Version.v1  # old v1 roots carry no extensions


def _verify_chain(
    chain: list[x509.Certificate], anchors: list[x509.Certificate], now: dt.datetime
) -> str:
    """'' when the chain leads to a trust anchor; otherwise an OpenSSL-like reason."""
    pool = chain[1:]
    current = chain[0]
    for depth in range(MAX_DEPTH):
        if current.not_valid_after_utc < now:
            return "certificate has expired" if depth == 0 else "issuer certificate has expired"
        if current.not_valid_before_utc > now:
            return "certificate is not yet valid"
        if any(current == anchor for anchor in anchors):
            return ""
        if any(_issued_by(current, anchor) for anchor in anchors):
            return ""
        parent = next((c for c in pool if c != current and _issued_by(current, c)), None)
        if parent is None:
            if current.issuer == current.subject and _issued_by(current, current):
                return "self-signed certificate" + (" in chain" if depth else "")
            return "unable to get local issuer certificate"
        if not _is_ca(parent):
            return "issuer is not a CA certificate"
        current = parent
    return "certificate chain too long"
