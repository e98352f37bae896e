"""The profile loader against hostile input (issue 15): every text gives a Profile or one short
ConfigError line naming the file, never another exception, within a time budget; a file that is
not a regular one (FIFO, device, directory) or is too large is refused without being read."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.errors import ConfigError
from probe.plan.bounded_toml import MAX_KEY_PARTS, MAX_NESTING, screen
from probe.plan.profile_files import MAX_PROFILE_BYTES, load_profile
from probe.plan.profiles import MAX_LAYERS, MAX_VARIANTS, Profile, parse_profile

SOURCE = "hostile.toml"
BUDGET = 2.0  # seconds for an input of up to about 1 MB: only super-linear work exceeds it
CONTROL = '[[variant]]\nid = "control"\n'


def parse(text: str, loader: object = None) -> Profile | ConfigError:
    """The profile or its error; asserts what every answer must satisfy."""
    started = time.perf_counter()
    try:
        result: Profile | ConfigError = parse_profile(text, source=SOURCE, loader=loader)  # type: ignore[arg-type]
    except ConfigError as exc:
        result = exc
        message = str(exc)
        assert message.startswith(f"{SOURCE}: ") or message.startswith("base-"), message[:200]
        assert "\n" not in message and "\r" not in message and len(message) < 700, message[:700]
    elapsed = time.perf_counter() - started
    assert elapsed < BUDGET, f"{elapsed:.2f} s for {len(text):,} characters"
    return result


def error(text: str, loader: object = None) -> str:
    result = parse(text, loader)
    assert isinstance(result, ConfigError), result
    return str(result)


# --------------------------------------------------------------------------- named cases

HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CONTROL + f"size = {HUGE}\n", "variant[0].size: impossible size a 401-digit number"),
        (CONTROL + f'size = "{HUGE}"\n', "variant[0].size: a number of 401 characters"),
        (CONTROL + f'size = "{HUGE}MB"\n', "variant[0].size: a number of 401 characters"),
        (CONTROL + f'size = "advertised+{HUGE}"\n', "variant[0].size: a number of 401"),
        (CONTROL + 'size = "advertised-300000000"\n', "an offset of 300,000,000 bytes"),
        (CONTROL + f"recipients = {HUGE}\n", "recipients: a 401-digit number is out of range"),
        (CONTROL + f"a = {'1' * 5000}\n", "invalid TOML: Exceeds the limit (4300 digits)"),
        ("a = " + "[" * 100_000 + "]" * 100_000, f"nested more than {MAX_NESTING} deep"),
        ("a = " + "{b=" * 100_000 + "1" + "}" * 100_000, f"nested more than {MAX_NESTING}"),
        (".".join(["a"] * 50_000) + " = 1", f"a dotted key of more than {MAX_KEY_PARTS} parts"),
        ("[" + ".".join(["a"] * 50_000) + "]", "a dotted key of more than"),
        ("x = {" + ".".join(['"a"'] * 50_000) + " = 1}", "a dotted key of more than"),
        (f"[defaults]\nretry_for = {HUGE}\n", "a 401-digit number is out of range (0 .. 86400 s"),
        (f'[defaults]\nretry_for = "{"9" * 400}s"\n', "a number of 400 characters"),
        (f"[defaults]\nmin_interval = {HUGE}\n", "defaults.min_interval: a 401-digit number"),
        ("[defaults.timeouts]\nconnect = nan\n", "nan seconds is out of range"),
        ("[defaults.timeouts]\nconnect = inf\n", "inf seconds is out of range"),
        ('[defaults]\nhelo = "a.example\\r\\nRSET"\n', "defaults.helo: must be a host name"),
        ('[defaults]\nhelo = ""\n', "defaults.helo: must be a host name"),
        ('[defaults]\nfrom = "a@b.example\\r\\nRCPT TO:<x@y>"\n', "defaults.from: not an address"),
        ('[defaults]\nfrom = "a@b.example\\tx"\n', "defaults.from: not an address"),
        (f'[defaults]\nfrom = "{"a" * 300}@b.example"\n', "an address of 310 characters"),
        (f'description = "{"x" * 500_000}"\n', "description: must be one line of at most 1000"),
        ('name = "two\\nlines"\n', "name: must be one line of at most 100 characters"),
        (f'"{"k" * 100_000}" = 1\n', "'kkkkkkkkkk"),
        ('"a\\nb" = 1\n', "'a\\nb': unknown key"),
        (f'[checks]\n"{"c" * 5000}" = "ignore"\n', "checks.'cccc"),
        (CONTROL + f'encoding = "{"e" * 100_000}"\n', "unknown encoding 'eeee"),
        (CONTROL.replace("control", "c" * 1000), "a variant id of 1,000 characters (at most 64)"),
        (CONTROL + "[variant.headers]\n" + "".join(f"X-H{i} = 'v'\n" for i in range(300)),
         "variant[0].headers: 300 headers (at most 100)"),
        ("".join(f'[[variant]]\nid = "v{i}"\n' for i in range(MAX_VARIANTS + 1)),
         f"variant: {MAX_VARIANTS + 1} variants (at most {MAX_VARIANTS})"),
        (f"extends = {json.dumps(['x'] * 1000)}\n", f"1,000 profiles (at most {MAX_LAYERS})"),
        ("a = 1\x00\n", "invalid TOML"),
        ("x" * (1 << 20) + "x", "larger than 1,048,576 characters"),
    ],
)  # fmt: skip
def test_hostile_values_are_one_line_errors(text: str, expected: str) -> None:
    assert expected in error(text)


def test_diamonds_of_bases_cannot_multiply_the_work() -> None:
    """Each base extends the next one twice: 2^40 loads without a bound on files merged."""
    calls = []

    def loader(reference: str, referrer: str) -> tuple[str, str]:
        calls.append(reference)
        depth = int(reference)
        source = f"base-{depth}-{len(calls)}.toml"  # a new file each time: no cycle to detect
        return source, f'extends = ["{depth + 1}", "{depth + 1}"]\n' + CONTROL

    assert f"more than {MAX_LAYERS} profile files to merge" in error('extends = "0"\n', loader)
    assert len(calls) <= MAX_LAYERS


def test_a_long_chain_of_bases_ends_in_an_error_not_a_recursion_error() -> None:
    def loader(reference: str, referrer: str) -> tuple[str, str]:
        return f"base-{reference}.toml", f'extends = "{int(reference) + 1}"\n'

    assert f"more than {MAX_LAYERS} profile files" in error('extends = "0"\n', loader)


def test_the_shipped_shapes_pass_the_screen() -> None:
    ok = 'a.b.c = 1\n[x.y]\nz = [[1, 2], [3.5, 4.25]]\nw = { p.q = "r.s.t" }\nm = """\n...\n"""\n'
    assert screen(ok) is None
    assert screen("a = [" + ", ".join(["1.5"] * 10_000) + "]") is None  # floats end a key
    assert screen('a = "' + "." * 10_000 + '"') is None  # dots in strings are not key parts
    assert screen("# " + "." * 10_000) is None


# --------------------------------------------------------------------------- properties

_PIECES = (
    "a.", '"a".', "[", "]", "{a=", "}", "[[variant]]\n", '"', "'", '"""', "'''", "\\", "#",
    "=", " ", "\n", ",", "1", "9" * 50, "1.5", "-", "+", "e", "nan", "inf", "x = ", "é", "\x00",
    "id = 'control'\n", "size = ", "[defaults]\n", "extends = ", "\r\n", "\t",
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.text(alphabet="[]{}=.\"'#\n ,ab01-_", max_size=40),
    piece=st.sampled_from(_PIECES),
    count=st.integers(1, 60_000),
    suffix=st.text(alphabet="[]{}=.\"'#\n ,ab01-_", max_size=40),
)
def test_long_runs_of_one_piece(prefix: str, piece: str, count: int, suffix: str) -> None:
    parse(prefix + piece * count + suffix)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="[]{}=.\"'#\n\r\t ,abcdefinortv0123456789-_+:eE\\\x00é", max_size=3000))
def test_random_toml_like_text(text: str) -> None:
    parse(text)


def _toml(value: object) -> str:
    """A TOML rendering of a generated value (floats include nan and inf)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(
            value
        ) else repr(value)
    if isinstance(value, int | str):
        return json.dumps(value) if isinstance(value, str) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


_SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(10**600), 10**600),
    st.integers(-10, 300_000_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50),
    st.integers(1000, 30_000).map(lambda n: "ab\x00" * (n // 3)),
    st.sampled_from(["advertised", "advertised+1", "10MB", "1.5kB", "90s", "3m", "exe", "zip",
                     "base64", "7bit", "utf-8", "critical", "reject-ok", "a@b.example"]),
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["kind", "size", "id", "x"]), inner, max_size=3),
    max_leaves=8,
)
_VARIANT_KEYS = st.sampled_from([
    "id", "description", "size", "attachments", "encoding", "charset", "line_length",
    "allow_long_lines", "smtputf8", "recipients", "received_headers", "declare_size", "headers",
    "expect", "bogus",
])  # fmt: skip
_DEFAULT_KEYS = st.sampled_from([
    "from", "helo", "concurrency", "per_host", "min_interval", "retry_for", "collect_deadline",
])  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    top=st.dictionaries(st.sampled_from(["name", "description", "exclude", "x"]), _VALUES,
                        max_size=3),
    defaults=st.dictionaries(_DEFAULT_KEYS, _VALUES, max_size=3),
    variants=st.lists(st.dictionaries(_VARIANT_KEYS, _VALUES, max_size=6), max_size=4),
)  # fmt: skip
def test_profiles_with_hostile_values(
    top: dict[str, object], defaults: dict[str, object], variants: list[dict[str, object]]
) -> None:
    lines = [f"{key} = {_toml(value)}" for key, value in top.items()]
    lines += ["[defaults]"] + [f"{json.dumps(k)} = {_toml(v)}" for k, v in defaults.items()]
    lines += ["[[variant]]", 'id = "control"']
    for variant in variants:
        lines.append("[[variant]]")
        lines += [f"{json.dumps(k)} = {_toml(v)}" for k, v in variant.items()]
    parse("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- files


def test_a_fifo_a_directory_and_a_device_are_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # nobody writes: opening it the usual way would block forever
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    for path, kind in ((fifo, "a FIFO"), (folder, "a directory"), ("/dev/zero", "a character")):
        with pytest.raises(ConfigError) as info:
            load_profile(str(path))
        assert str(info.value) == (
            f"{path}: cannot read profile: not a regular file ({kind}"
            + (" device)" if kind == "a character" else ")")
        )


def test_a_base_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "base.toml")
    top = tmp_path / "top.toml"
    top.write_text('extends = "base.toml"\n' + CONTROL)
    with pytest.raises(ConfigError, match=r"base\.toml: cannot read profile: not a regular file"):
        load_profile(str(top))


def test_a_large_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (MAX_PROFILE_BYTES + 1))
    with pytest.raises(ConfigError) as info:
        load_profile(str(big))
    assert str(info.value) == (
        f"{big}: cannot read profile: {MAX_PROFILE_BYTES + 1:,} bytes, larger than"
        f" {MAX_PROFILE_BYTES:,}"
    )
    with pytest.raises(ConfigError, match="no such profile file"):
        load_profile(str(tmp_path / "missing.toml"))
