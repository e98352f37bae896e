"""Profile files, the edge of the plan stage: where shipped profiles live, finding one by name
or path, reading it (and what it extends) for `probe.plan.profiles.parse_profile`.

Shipped profiles live in `profiles/` at the top of the repository, which the wheel carries as
`probe/profiles`; names starting with `_` are building blocks that `available_profiles()` does
not list. A name is looked up beside the profile that refers to it, then among the shipped ones.
A profile file is read only if it is a regular file of at most MAX_PROFILE_BYTES: it is opened
without blocking (a FIFO does not hang the read) and never read past the limit (`/dev/zero`).
"""

from __future__ import annotations

import importlib.resources
import re
from importlib.resources.abc import Traversable
from pathlib import Path

from probe.errors import ConfigError
from probe.files import Refused, read_regular
from probe.plan.bounded_toml import MAX_TOML_CHARS
from probe.plan.profiles import Profile, parse_profile
from probe.plan.values import shown

MAX_PROFILE_BYTES = MAX_TOML_CHARS


def profile_dirs() -> tuple[Traversable, ...]:
    """Where shipped profiles live: inside the installed package, then the repository root."""
    found: list[Traversable] = []
    try:
        packaged = importlib.resources.files("probe") / "profiles"
        if packaged.is_dir():
            found.append(packaged)
    except (ModuleNotFoundError, OSError):  # pragma: no cover - broken installation
        pass
    repo = Path(__file__).resolve().parents[2] / "profiles"
    if repo.is_dir() and not any(str(d) == str(repo) for d in found):
        found.append(repo)
    return tuple(found)


def available_profiles() -> tuple[str, ...]:
    """Names of the shipped profiles, for `--profile` help."""
    names = {
        entry.name.removesuffix(".toml")
        for folder in profile_dirs()
        for entry in folder.iterdir()
        if entry.name.endswith(".toml") and not entry.name.startswith("_")
    }
    return tuple(sorted(names))


def _is_path(reference: str) -> bool:
    return "/" in reference or "\\" in reference or reference.endswith(".toml")


def find_profile(name_or_path: str, *, relative_to: str | None = None) -> Traversable:
    """The file of a profile: a path as given (relative to the referring profile's folder), or
    a name looked up beside the referring profile, then among the shipped ones."""
    where = relative_to or name_or_path
    key = "extends" if relative_to else None
    if _is_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if relative_to and not path.is_absolute():
            path = Path(relative_to).parent / path
        if not path.exists():  # something that is not a regular file is refused by _read
            raise ConfigError(f"no such profile file {shown(str(path), 200)}", path=where, key=key)
        return path
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}", name_or_path):
        raise ConfigError(f"bad profile name {shown(name_or_path)}", path=where, key=key)
    folders: list[Traversable] = []
    if relative_to:
        folders.append(Path(relative_to).parent)
    folders += profile_dirs()
    for folder in folders:
        candidate = folder / f"{name_or_path}.toml"
        if candidate.is_file():
            return candidate
    known = ", ".join(available_profiles()) or "none found"
    message = f"no profile named {name_or_path!r} (shipped: {known})"
    raise ConfigError(message, path=relative_to or None, key=key)


def _read(file: Traversable) -> tuple[str, str]:
    try:
        if isinstance(file, Path):
            data = read_regular(file, MAX_PROFILE_BYTES)
        else:  # a packaged profile: the wheel's own file
            data = file.read_bytes()
            if len(data) > MAX_PROFILE_BYTES:
                raise Refused(f"larger than {MAX_PROFILE_BYTES:,} bytes")
        return str(file), data.decode("utf-8")
    except Refused as exc:
        raise ConfigError(f"cannot read profile: {exc}", path=str(file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read profile: {exc}", path=str(file)) from None


def file_loader(reference: str, referrer: str) -> tuple[str, str]:
    return _read(find_profile(reference, relative_to=referrer))


def load_profile(name_or_path: str) -> Profile:
    """Find, read, parse and validate a profile (and the profiles it extends)."""
    source, text = _read(find_profile(name_or_path))
    return parse_profile(text, source=source, loader=file_loader)
