"""The header-authorship knowledge (probe/data/header_authors.toml): every entry loads, names
the host its samples name, and a mistake in it is one ConfigError naming the entry."""

from __future__ import annotations

import pytest

from probe.analyze.authorship import (
    companions,
    content_mark,
    named_host,
    names_hop,
    parse_authorship,
    self_written,
    shipped_authorship,
)
from probe.errors import ConfigError

GOOD = """
[[names_host]]
id = "x"
name = "X-Scanned"
value = 'at (?P<host>[\\w.-]+)'
source = "test"
samples = ["at a.example"]
[self_written]
names = ["X-Spam-.*"]
[not_content_marks]
names = ["Received-SPF"]
[delivery_bookkeeping]
names = ["Return-Path"]
"""


def test_the_shipped_knowledge_loads_with_its_sources() -> None:
    known = shipped_authorship()
    assert known.signs and all(s.source for s in known.signs)
    assert {s.id for s in known.signs} >= {"amavis-virus-scanned", "opendkim-filter", "postgrey"}


@pytest.mark.parametrize(
    ("name", "value", "host"),
    [
        ("X-Virus-Scanned", "Debian amavisd-new at honk.sigxcpu.org", "honk.sigxcpu.org"),
        ("X-Virus-Scanned", "clamav-milter 0.103.8 at phobos.denx.de", "phobos.denx.de"),
        ("X-Virus-Scanned", "ClamAV using ClamSMTP ; ns.iliad.fr ;\r\n Thu Mar 24", "ns.iliad.fr"),
        ("DKIM-Filter", "OpenDKIM Filter v2.11.0 alsa0.perex.cz 4EFFB168C", "alsa0.perex.cz"),
        (
            "X-Spam-Checker-Version",
            "SpamAssassin 3.4.6 (2021-04-09) on\r\n  lindbergh.monkeyblade.net",
            "lindbergh.monkeyblade.net",
        ),
        ("Authentication-Results", "smtp4.osuosl.org;\r\n\tdkim=fail", "smtp4.osuosl.org"),
        (
            "X-Greylist",
            "delayed 365 seconds by postgrey-1.36 at gabe;\r\n Thu",
            "gabe",
        ),
    ],
)
def test_real_fields_name_their_host(name: str, value: str, host: str) -> None:
    claim = named_host(name, value)
    assert claim is not None and claim.host == host


def test_fields_that_name_no_host_name_none() -> None:
    assert named_host("X-Virus-Scanned", "ClamAV using ClamSMTP") is None  # ClamSMTP's default
    assert named_host("Received-SPF", "Pass (mailfrom) receiver=<UNKNOWN>") is None
    assert named_host("X-Virus-Scanned", "Debian amavisd-new at localhost") is None


def claim(name: str, value: str):  # type: ignore[no-untyped-def]
    found = named_host(name, value)
    assert found is not None
    return found


def test_a_named_host_fits_a_trace_host_exactly_by_its_first_label_or_by_its_domain() -> None:
    hosts = ("mx.example.com", "gabe.freedesktop.org", "filtteri5.pp.htv.fi")
    greylist = claim("X-Greylist", "delayed 1 seconds by postgrey-1.36 at gabe; Thu")
    assert names_hop(greylist, hosts) == ("gabe.freedesktop.org",)
    amavis = claim("X-Virus-Scanned", "Debian amavisd-new at pp.htv.fi")  # its $mydomain
    assert names_hop(amavis, hosts) == ("filtteri5.pp.htv.fi",)
    exact = claim("X-Disclaimer", "appended by mx.example.com")
    assert exact.exact and names_hop(exact, hosts) == ("mx.example.com",)
    assert names_hop(claim("X-Disclaimer", "appended by example.com"), hosts) == ()


def test_what_mtas_write_themselves_and_what_marks_content() -> None:
    assert self_written("Authentication-Results") and self_written("x-spam-status")
    assert not self_written("X-CheckPoint") and not self_written("X-Disclaimer")
    assert not content_mark("Received-SPF") and content_mark("X-Virus-Scanned")
    assert companions("X-Virus-Status", "X-Virus-Scanned")
    assert not companions("X-Virus-Status", "DKIM-Filter")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("value = 'at (?P<host>[\\w.-]+)'", "value = 'at ([\\w.-]+)'"), "no (?P<host>"),
        (('samples = ["at a.example"]', 'samples = ["nothing here"]'), "sample names no host"),
        (("value = ", 'value = "(" #'), "bad regex"),
        (('source = "test"', ""), "missing source"),
        (('names = ["X-Spam-.*"]', "names = []"), "expected a list"),
    ],
)
def test_a_mistake_in_the_knowledge_is_one_error_naming_the_entry(
    change: tuple[str, str], message: str
) -> None:
    assert parse_authorship(GOOD, "t.toml").signs  # the good one loads
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")):
        parse_authorship(GOOD.replace(*change), "t.toml")
