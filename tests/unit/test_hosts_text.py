"""The shared small helpers: one IP-literal check, one `one_line`."""

from __future__ import annotations

import pytest

from probe.smtp.hosts import ip_literal, is_ip_literal
from probe.smtp.text import one_line


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("[192.0.2.1]", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("::1", "::1"),
        ("[IPv6:2001:DB8::1]", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("mx.example.org", None),
        ("[mx.example.org]", None),
        ("192.0.2.256", None),
        ("", None),
    ],
)
def test_ip_literal(text: str, address: str | None) -> None:
    assert ip_literal(text) == address
    assert is_ip_literal(text) is (address is not None)


def test_one_line() -> None:
    assert one_line("550 5.1.1 no\r\n  such\tuser\n") == "550 5.1.1 no such user"
    assert one_line(ValueError("a\nb")) == "a b"
    assert one_line("x" * 500, 300) == "x" * 300
