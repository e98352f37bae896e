"""Trust anchors with a serial of 0 (old roots in system stores) load without a warning, also
when several TLS inspections load them at once (they run in threads: `probe demo` printed a
CryptographyDeprecationWarning from time to time)."""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from probe.send import tls


def _root_with_serial_zero() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old root")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    version_and_serial = b"\xa0\x03\x02\x01\x02\x02\x01\x01"  # v3, serial 1
    assert der.count(version_and_serial) == 1
    der = der.replace(version_and_serial, version_and_serial[:-1] + b"\x00")  # serial 0
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def test_concurrent_loads_of_an_odd_root_stay_quiet(tmp_path: Path) -> None:
    pem = tmp_path / "roots.pem"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pem.write_bytes(_root_with_serial_zero() * 20)
    start = threading.Barrier(8)
    loaded: list[int] = []

    def load() -> None:
        start.wait()
        for _ in range(5):
            loaded.append(len(tls._load_pem(pem)))

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=load) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert loaded == [20] * 40
    assert [str(w.message) for w in seen] == []
