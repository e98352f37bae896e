"""The IMAP password: file first, then the environment; never shown."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from probe.collect.secrets import GLUE, MASK, PASSWORD_FILE_MAX, Secret, resolve_password
from probe.errors import ConfigError


def test_file_first_line_stripped_wins_over_env(tmp_path: Path) -> None:
    file = tmp_path / "pw"
    file.write_text("  from-file \nsecond line\n")
    secret = resolve_password(file=file, environ={"PROBE_IMAP_PASSWORD": "from-env"})
    assert secret is not None and bytes(secret.imap_quoted()) == b'"from-file"'


def test_env_when_no_file() -> None:
    secret = resolve_password(environ={"PROBE_IMAP_PASSWORD": "from-env"})
    assert secret is not None and bytes(secret.imap_quoted()) == b'"from-env"'
    assert resolve_password(environ={}) is None
    assert resolve_password(environ={"PROBE_IMAP_PASSWORD": ""}) is None


def test_other_env_name() -> None:
    secret = resolve_password("OTHER", environ={"OTHER": "x"})
    assert secret is not None and bytes(secret.imap_quoted()) == b'"x"'


@pytest.mark.parametrize(
    ("content", "message"), [(None, "No such file"), ("", "empty"), ("\n\n", "empty")]
)
def test_bad_file_is_a_one_line_config_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    file = tmp_path / "pw"
    if content is not None:
        file.write_text(content)
    with pytest.raises(ConfigError) as info:
        resolve_password(file=file)
    assert message in str(info.value) and str(file) in str(info.value)
    assert "\n" not in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_password(file=tmp_path)  # a directory


def test_secret_never_shows_itself() -> None:
    secret = Secret("hunter2")
    assert not hasattr(secret, "reveal") and not hasattr(secret, "__dict__")
    for shown in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"p": secret})):
        assert "hunter2" not in shown
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)


# --------------------------------------------------------------------------- files


def test_password_file_that_is_not_a_regular_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # open() would block until a writer came
    for path, kind in ((fifo, "a FIFO"), (Path("/dev/zero"), "a character device")):
        with pytest.raises(ConfigError) as info:
            resolve_password(file=path)
        assert f"not a regular file ({kind})" in str(info.value)
    link = tmp_path / "link"
    link.symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match="character device"):
        resolve_password(file=link)


def test_huge_or_binary_password_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * (PASSWORD_FILE_MAX + 1))
    with pytest.raises(ConfigError, match="larger than"):
        resolve_password(file=big)
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        resolve_password(file=binary)


# --------------------------------------------------------------------------- wire forms

PW = 'Zq"9\\x-K\u00e4w'  # a quote, a backslash and a non-ASCII letter
USER = "u@example.test"
TOKEN = base64.b64encode(b"\0" + USER.encode() + b"\0" + PW.encode()).decode()
QUOTED = 'Zq\\"9\\\\x-K\u00e4w'  # as an IMAP quoted string's content


def test_wire_forms() -> None:
    secret = Secret('pw"x\\z')
    assert bytes(secret.imap_quoted()) == b'"pw\\"x\\\\z"'
    assert secret.fits_imap_quoted()
    assert not Secret(PW).fits_imap_quoted() and not Secret("a\r\nb").fits_imap_quoted()
    assert bytes(Secret(PW).sasl_plain(USER)).decode() == TOKEN
    assert "memory at" in repr(secret.imap_quoted())  # a memoryview shows no bytes


ECHOES = [
    PW,
    f'"{QUOTED}"',
    QUOTED.replace("\\", "\\\\").replace('"', '\\"'),  # quoted again by the server
    " ".join(f'"{PW[i : i + 3]}"' for i in range(0, len(PW), 3)),  # split over quoted strings
    PW[:4] + "\r\n " + PW[4:],  # folded
    TOKEN,
    TOKEN[:12] + "\r\n" + TOKEN[12:],
    f'"{TOKEN}"',
    repr(PW.encode()),  # how imaplib prints reply bytes
    PW + PW[3:],
]


@pytest.mark.parametrize("echo", ECHOES)
def test_every_echoed_form_is_masked(echo: str) -> None:
    redact = Secret(PW).redactor(USER)
    text = redact.text(f"A0001 BAD Error in IMAP command: {echo} (0.001 secs)")
    assert text.startswith("A0001 BAD Error in IMAP command: ") and MASK in text
    squeezed = "".join(c for c in text if c not in GLUE)
    for fragment in ("Zq9", "xK\u00e4w", "K\\xc3", TOKEN[-12:], TOKEN[16:28]):
        assert fragment not in squeezed
    assert redact.data(echo.encode()).count(MASK.encode()) >= 1


def test_redactor_shows_nothing_and_passes_other_text() -> None:
    redact = Secret(PW).redactor(USER)
    assert PW not in repr(redact) and "Zq" not in repr(redact)
    assert redact.text("Authentication failed.") == "Authentication failed."
    assert Secret("").redactor().text("x") == "x"
    short = Secret("ab").redactor()
    assert short.text("a b ab") == "a b ********"  # too short to mask where glue splits it


@settings(max_examples=40, deadline=None)
@given(
    st.text(st.characters(blacklist_characters="*", blacklist_categories=("Cs",)), min_size=1),
    st.lists(st.sampled_from(['"', "\\", " ", "\r\n", '" "']), max_size=6),
    st.randoms(use_true_random=False),
)
def test_glued_echo_of_any_password_is_masked(password: str, glue: list[str], rnd: Any) -> None:
    core = "".join(c for c in password if c not in GLUE)
    assume(len(core) >= 4)
    pieces = list(password)
    for g in glue:
        pieces.insert(rnd.randrange(len(pieces) + 1), g)
    text = Secret(password).redactor().text("<" + "".join(pieces) + ">")
    assert core not in "".join(c for c in text if c not in GLUE)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["\\", '"', " ", "a", "Z", "9"]), st.integers(1, 100_000))
def test_redaction_is_linear(char: str, n: int) -> None:
    redact = Secret("aaaa\\\\aaZa").redactor(USER)
    t0 = time.perf_counter()
    redact.text(char * n + "aaaa" + char * n)
    assert time.perf_counter() - t0 < 2.0
