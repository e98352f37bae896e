"""`probe connect` against the real Postfix of the mta tier (Debian 12's postfix 3.7.11): named
Postfix with nothing in front, and the project's Check Point box passing its banner through in
front of it found by the replies Postfix cannot have written. No message is sent."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from probe.cli import app
from tests.mta import servers
from tests.mta.boxes import box_in_front

pytestmark = pytest.mark.mta

ARGS = ["connect", "--json", "--no-starttls", "--timeout", "10", "--helo", "client.probe.test"]


def products(address: str, port: int) -> dict[str, object]:
    result = CliRunner().invoke(app, [*ARGS, f"{address}:{port}"])
    assert result.exit_code == 0, result.output
    (product,) = json.loads(result.stdout)["products"]
    assert isinstance(product, dict)
    return product


def test_real_postfix_is_named_with_nothing_in_front(
    mail_system: tuple[servers.Dovecot, servers.Postfix],
) -> None:
    _dc, pf = mail_system
    product = products("127.0.0.1", pf.smtp_port)
    assert (product["product"], product["confidence"], product["box"]) == (
        "Postfix",
        "high",
        None,
    )


def test_a_checkpoint_box_in_front_of_real_postfix_is_found(
    mail_system: tuple[servers.Dovecot, servers.Postfix],
) -> None:
    _dc, pf = mail_system
    with box_in_front("checkpoint", pf.smtp_port, pass_banner=True) as (address, port):
        product = products(address, port)
    assert product["product"] == "Postfix"
    box = product["box"]
    assert isinstance(box, dict) and "Check Point" in str(box["product"])
    assert all("Postfix" in str(r) for r in box["replies"])
