"""`probe connect` names who answers: the lab's Check Point box in front of a Postfix-faced hop,
with and without passing its banner through, and the plain hop itself (text and JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from probe.cli import app
from probe.lab.runtime import LabThread
from probe.lab.scenarios import HopSpec, Scenario
from tests.mta.boxes import scenario

ARGS = ["connect", "--timeout", "5", "--deadline", "20", "--helo", "probe.invalid", "--no-starttls"]


@pytest.fixture(scope="module")
def plain_hop() -> Iterator[tuple[str, int]]:
    """The lab's plain final hop (a Postfix personality)."""
    with LabThread([Scenario("backend", "", "", (HopSpec("final"),))]) as lab:
        info = lab.info.scenarios[0]
        yield info.address, info.port


def connect_json(address: str, port: int) -> dict[str, object]:
    result = CliRunner().invoke(app, [*ARGS, "--json", f"{address}:{port}"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (product,) = doc["products"]
    assert isinstance(product, dict)
    return product


def test_the_plain_hop_is_postfix_and_nothing_in_front(plain_hop: tuple[str, int]) -> None:
    product = connect_json(*plain_hop)
    assert (product["product"], product["confidence"], product["box"]) == (
        "Postfix",
        "high",
        None,
    )
    assert any("postfix-banner" in e for e in product["evidence"])


def test_a_box_passing_the_banner_through_is_found_by_its_replies(
    plain_hop: tuple[str, int],
) -> None:
    address, port = plain_hop
    box = scenario("cpfront", "checkpoint", port, address, pass_banner=True)
    with LabThread([box]) as lab:
        entry = lab.info.scenarios[0]
        product = connect_json(entry.address, entry.port)
        text = CliRunner().invoke(app, [*ARGS, f"{entry.address}:{entry.port}"]).stdout
    assert product["product"] == "Postfix"  # the banner's, behind the box
    front = product["box"]
    assert isinstance(front, dict)
    assert front["product"].startswith("unknown, consistent with ")
    assert "Check Point" in front["product"] and "Cisco IronPort/ESA" in front["product"]
    assert any(r.startswith("250 recipient <postmaster> ok: Postfix") for r in front["replies"])
    assert "a box in front answers itself: unknown, consistent with" in text
    assert "product: Postfix (medium confidence)" in text


def test_a_box_with_its_own_banner_is_not_named_after_the_nearest_product(
    plain_hop: tuple[str, int],
) -> None:
    address, port = plain_hop
    with LabThread([scenario("cpown", "checkpoint", port, address)]) as lab:
        entry = lab.info.scenarios[0]
        product = connect_json(entry.address, entry.port)
    assert product["product"] == (
        "unknown, consistent with Cisco IronPort/ESA (AsyncOS), Check Point (shared evidence)"
    )
    assert (product["confidence"], product["box"]) == ("low", None)


def test_no_envelope_asks_nothing_after_ehlo(plain_hop: tuple[str, int]) -> None:
    address, port = plain_hop
    result = CliRunner().invoke(app, [*ARGS, "--json", "--no-envelope", f"{address}:{port}"])
    doc = json.loads(result.stdout)
    steps = [s["name"] for s in doc["conversations"][0]["steps"]]
    assert "mail" not in steps and "rcpt" not in steps and "noop" not in steps
    assert doc["products"][0]["product"] == "Postfix"
