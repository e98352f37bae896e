"""The IMAP password: file first, then the environment; never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.collect.secrets import Secret, resolve_password
from probe.errors import ConfigError


def test_file_first_line_stripped_wins_over_env(tmp_path: Path) -> None:
    file = tmp_path / "pw"
    file.write_text("  from-file \nsecond line\n")
    secret = resolve_password(file=file, environ={"PROBE_IMAP_PASSWORD": "from-env"})
    assert secret is not None and secret.reveal() == "from-file"


def test_env_when_no_file() -> None:
    secret = resolve_password(environ={"PROBE_IMAP_PASSWORD": "from-env"})
    assert secret is not None and secret.reveal() == "from-env"
    assert resolve_password(environ={}) is None
    assert resolve_password(environ={"PROBE_IMAP_PASSWORD": ""}) is None


def test_other_env_name() -> None:
    secret = resolve_password("OTHER", environ={"OTHER": "x"})
    assert secret is not None and secret.reveal() == "x"


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
    for shown in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"p": secret})):
        assert "hunter2" not in shown
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(secret)
