"""profiles: shipped profiles load and validate; every mistake is one line naming file and key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from probe.errors import ConfigError
from probe.model.variant import AttachmentKind, Expect, SizeBase
from probe.model.verdict import CheckLevel
from probe.plan.craft import craft
from probe.plan.profile_files import available_profiles, find_profile, load_profile, profile_dirs
from probe.plan.profiles import parse_profile
from probe.plan.variants import resolve_size

BAD = Path(__file__).parents[1] / "data" / "profiles"
SHIPPED = ("attachments", "firewall", "full", "quick", "sizes", "standard")


def test_shipped_profiles_are_listed() -> None:
    assert available_profiles() == SHIPPED
    assert profile_dirs()


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_loads_and_every_variant_crafts(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name and profile.description
    assert profile.variants[0].id == "control"
    assert profile.check_level("rejects") is CheckLevel.CRITICAL
    for spec in profile.variants:
        spec = resolve_size(spec, 200_000)  # a small advertised SIZE keeps this fast
        if spec.size and spec.size > 1_000_000:
            continue  # the big ones are covered by the size tests of craft
        message = craft(
            spec,
            probe_id=f"20240501T120000-abcdef.{spec.id}",
            mail_from="sender@example.org",
            rcpt_to=("box@example.net",),
            date=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
            allow_eicar=True,
        )
        assert message.manifest.variant == spec.id


def test_the_profiles_say_what_the_issue_asks_for() -> None:
    quick = load_profile("quick")
    assert [v.id for v in quick.variants] == [
        "control",
        "size-1100k",
        "attach-zip",
        "rcpt-3",
        "attach-zip-3-rcpt",
    ]
    # above a limit at 1 MiB, and above the 1,061,757 bytes the seed's Check Point refused
    assert quick.variant("size-1100k").size == 1_100_000 > 1_061_757 > 2**20
    standard = load_profile("standard")
    kinds = {a.kind for v in standard.variants for a in v.attachments}
    assert kinds == {"text", "zip", "zip-exe", "exe", "pdf"}
    # the Exchange 5.5 case: the attachment to one and to several recipients, and a plain
    # message to several, so a condition can tell which property fails
    zip1, plain3, zip3 = (
        standard.variant(v) for v in ("attach-zip", "rcpt-3", "attach-zip-3-rcpt")
    )
    assert (zip1.recipients, plain3.recipients, zip3.recipients) == (1, 3, 3)
    assert not plain3.attachments and zip1.attachments == zip3.attachments
    sizes_sent = sorted(v.size for v in standard.variants if v.size)
    assert sizes_sent[0] == 100_000 and 1_100_000 in sizes_sent
    for limit in (2**20, 10_000_000, 10 * 2**20, 20_000_000, 25_000_000, 35_000_000):
        below = [s for s in sizes_sent if s <= limit]
        above = [s for s in sizes_sent if s > limit]
        assert below and above and above[0] <= limit * 1.1, limit  # straddled, closely above
    sizes = load_profile("sizes")
    plus_one = sizes.variant("size-advertised-plus-1")
    assert (plus_one.size_relative, plus_one.size_offset) == (SizeBase.ADVERTISED, 1)
    assert plus_one.expect is Expect.REJECT_OK
    firewall = load_profile("firewall")
    assert firewall.variant("rcpt-101").recipients == 101
    assert firewall.variant("smtputf8").smtputf8
    assert firewall.variant("line-1000").allow_long_lines
    assert firewall.check_level("starttls-missing") is CheckLevel.CRITICAL
    assert load_profile("attachments").variant("eicar").eicar
    full = load_profile("full")
    others = {v.id for name in SHIPPED if name != "full" for v in load_profile(name).variants}
    assert others < {v.id for v in full.variants}
    assert full.check_level("starttls-missing") is CheckLevel.CRITICAL  # from firewall
    assert full.defaults.retry_for == 180.0 and full.defaults.timeouts.final_reply == 600.0


def test_a_user_profile_extends_a_shipped_one(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(
        'name = "mine"\nextends = "standard"\nexclude = ["size-5m"]\n'
        '[defaults]\nfrom = "me@example.org"\nper_host = 1\nretry_for = "30s"\n'
        '[defaults.timeouts]\ndata = "2m"\n'
        '[checks]\nrewrites = "critical"\n'
        '[[variant]]\nid = "size-1100k"\ndescription = "bigger"\nsize = "1MiB"\n'
        '[[variant]]\nid = "attach-big-zip"\nsize = 3000000\n'
        'attachments = [{ kind = "zip" }, { kind = "text", size = "10kB", filename = "a.txt" }]\n'
    )
    profile = load_profile(str(mine))
    ids = [v.id for v in profile.variants]
    assert ids[:2] == ["control", "size-1100k"] and ids[-1].startswith("size-1m-t")  # [timing]
    assert "attach-big-zip" in ids
    assert "size-5m" not in ids and "attach-pdf" in ids
    assert profile.variant("size-1100k").size == 1_048_576
    assert profile.variant("size-1100k").description == "bigger"
    big = profile.variant("attach-big-zip")
    assert big.attachments[1].size == 10_000 and big.attachments[1].kind is AttachmentKind.TEXT
    assert profile.defaults.mail_from == "me@example.org"
    assert (profile.defaults.per_host, profile.defaults.concurrency) == (1, 4)
    assert profile.defaults.retry_for == 30.0 and profile.defaults.timeouts.final_reply == 120.0
    assert profile.defaults.timeouts.connect == 30.0
    assert profile.check_level("rewrites") is CheckLevel.CRITICAL
    assert profile.check_level("drops") is CheckLevel.CRITICAL
    assert profile.extends[-1].endswith("standard.toml")


def test_parse_profile_needs_no_files() -> None:
    texts = {
        "base": '[[variant]]\nid = "control"\n[[variant]]\nid = "a"\nsize = 5000\n',
        "loop1": 'extends = "loop2"',
        "loop2": 'extends = ["base", "loop1"]',
    }

    def loader(reference: str, referrer: str) -> tuple[str, str]:
        return reference, texts[reference]

    profile = parse_profile('extends = "base"\nname = "t"', source="t", loader=loader)
    assert [v.id for v in profile.variants] == ["control", "a"]
    with pytest.raises(ConfigError) as info:
        parse_profile('extends = "loop1"', source="top", loader=loader)
    assert str(info.value) == "loop2: extends: extends cycle: top -> loop1 -> loop2 -> loop1"
    with pytest.raises(ConfigError, match="^x: extends: cannot load 'base' here$"):
        parse_profile('extends = "base"', source="x")


KNOWN_KINDS = "text, binary, zip, zip-exe, exe, pdf, rfc822, longname, eicar"
CASES = [
    (
        "unknown_kind",
        "variant[3].attachments[0].kind",
        f"unknown attachment kind 'exee' (known: {KNOWN_KINDS})",
    ),
    (
        "unknown_key",
        "colour",
        "unknown key (known: name, description, extends, exclude, defaults, checks, variant, "
        "timing)",
    ),
    (
        "unknown_variant_key",
        "variant[0].sise",
        "unknown key (known: id, description, size, "
        "attachments, encoding, charset, line_length, allow_long_lines, smtputf8, recipients, "
        "received_headers, declare_size, headers, expect)",
    ),
    ("wrong_type", "variant[0].recipients", "expected an integer, got a string"),
    ("negative_size", "variant[0].size", "impossible size -5 (1 .. 200,000,000 bytes)"),
    ("zero_size", "variant[0].size", "impossible size 0 (1 .. 200,000,000 bytes)"),
    ("huge_size", "variant[0].size", "impossible size 300,000,000 (1 .. 200,000,000 bytes)"),
    (
        "below_minimum",
        "variant[0].size",
        "100 bytes is below this variant's minimum of about 546 bytes",
    ),
    (
        "bad_size_text",
        "variant[0].size",
        "bad size 'ten megabytes' (bytes, '100kB', '1MB', '10MiB', 'advertised', 'advertised+1')",
    ),
    ("bad_id", "variant[0].id", "bad variant id 'Size_1M' (lowercase letters, digits, '-')"),
    ("duplicate", "variant[2].id", "duplicate variant id 'twice' (also variant[0])"),
    ("no_control", "variant", "no 'control' variant (every verdict is a difference against it)"),
    (
        "bad_check_level",
        "checks.rejects",
        "unknown check level 'fatal' (known: critical, warning, ignore)",
    ),
    ("long_line", "variant[0].line_length", "lines over 998 octets need allow_long_lines"),
    ("bad_concurrency", "defaults.concurrency", "0 is out of range (1 .. 100)"),
    (
        "bad_encoding_for_kind",
        "variant[0].attachments[0].encoding",
        "zip attachments use base64, not 7bit",
    ),
    ("bad_from", "defaults.from", "not an address: 'not an address'"),
    (
        "unknown_check",
        "checks.reject",
        "unknown check (known: banner-masked, bounces, delays, drops, greylists, injects, junk, "
        "loop-protection, loses-tls, rejects, relays-inline, rewrites, scans, "
        "size-above-advertised, size-below-advertised, starttls-missing, starttls-stripped, "
        "strips-attachment)",
    ),
]


@pytest.mark.parametrize(("name", "key", "message"), CASES, ids=[c[0] for c in CASES])
def test_validation_errors_are_one_line_naming_file_and_key(
    name: str, key: str, message: str
) -> None:
    path = BAD / f"{name}.toml"
    with pytest.raises(ConfigError) as info:
        load_profile(str(path))
    assert str(info.value) == f"{path}: {key}: {message}"
    assert "\n" not in str(info.value)


def test_broken_toml_missing_files_and_cycles() -> None:
    broken = BAD / "bad_toml.toml"
    with pytest.raises(ConfigError, match=rf"^{broken}: invalid TOML: .*line 1"):
        load_profile(str(broken))
    with pytest.raises(ConfigError) as info:
        load_profile(str(BAD / "missing_base.toml"))
    assert str(info.value) == (
        f"{BAD / 'missing_base.toml'}: extends: no profile named 'no-such-profile' "
        f"(shipped: {', '.join(SHIPPED)})"
    )
    with pytest.raises(ConfigError) as info:
        load_profile("nonesuch")
    assert str(info.value) == f"no profile named 'nonesuch' (shipped: {', '.join(SHIPPED)})"
    missing = BAD / "does-not-exist.toml"
    with pytest.raises(ConfigError) as info:
        load_profile(str(missing))
    assert str(info.value) == f"{missing}: no such profile file '{missing}'"
    a, b = BAD / "cycle_a.toml", BAD / "cycle_b.toml"
    with pytest.raises(ConfigError) as info:
        load_profile(str(a))
    assert str(info.value) == f"{b}: extends: extends cycle: {a} -> {b} -> {a}"


def test_find_profile_prefers_the_referring_folder(tmp_path: Path) -> None:
    (tmp_path / "quick.toml").write_text('[[variant]]\nid = "control"\n')
    (tmp_path / "top.toml").write_text('extends = "quick"\n')
    assert find_profile("quick", relative_to=str(tmp_path / "top.toml")) == tmp_path / "quick.toml"
    assert [v.id for v in load_profile(str(tmp_path / "top.toml")).variants] == ["control"]
