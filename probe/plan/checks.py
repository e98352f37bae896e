"""The `probe check` config: targets, their profiles and expectations, and the check's limits.

Pure (the file is read at the edge): every mistake is one `ConfigError` naming the file and the
key, before anything is measured. The format::

    [check]                        # optional: limits of the whole check
    concurrency = 8                # targets at once
    per_address = 2                # conversations at once per MX address
    deadline = "5m"                # the whole check

    [defaults]                     # optional: any target key, for every target
    profile = "capabilities"
    [defaults.expect]
    starttls = "critical"          # warning | critical | off
    certificate_days = { warning = 21, critical = 7 }

    [[target]]
    domain = "example.com"         # or host = "192.0.2.1:25" (no MX lookup)
    profile = "quick"              # capabilities (sends nothing) or a profile that sends
    to = "probe-box@example.com"
    mailbox = "imaps://probe-box@imap.example.com/INBOX"
    password_env = "PROBE_IMAP_PASSWORD_EXAMPLE"   # or password_file = "/etc/probe/pw"
    threshold_every = 24
    [target.expect]
    max_size = { warning = "20MB", critical = "10MB" }
    no_actions = { critical = ["rejects", "drops"], warning = ["rewrites", "injects"] }
    allow_injects = ["X-Disclaimer"]
    delivered_within = { warning = "1m", critical = "5m" }
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from probe.errors import ConfigError
from probe.model.check import Expectations, Limit, TargetSpec
from probe.model.status import Status
from probe.model.verdict import Action
from probe.plan.bounded_toml import screen
from probe.plan.values import Values

MAX_TARGETS = 100_000
_TOP = ("check", "defaults", "target")
_CHECK = ("concurrency", "per_address", "deadline")
_TARGET = ("domain", "host", "port", "profile", "to", "mailbox", "password_env",
           "password_file", "threshold_every", "expect")
_EXPECT = ("reachable", "starttls", "certificate_days", "max_size", "no_actions",
           "allow_injects", "delivered_within", "not_junk", "same_hops", "same_mx", "drift")
_LEVELS = {"warning": Status.WARNING, "critical": Status.CRITICAL}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class CheckLimits:
    concurrency: int = 8
    per_address: int = 2
    deadline: float = 300.0


@dataclasses.dataclass(frozen=True)
class CheckConfig:
    source: str
    limits: CheckLimits
    targets: tuple[TargetSpec, ...]


class _ConfigParser(Values):
    def level(self, value: Any, key: str) -> Status | None:
        word = self.text(value, key).lower()
        if word == "off":
            return None
        if word not in _LEVELS:
            raise self.fail(key, f"unknown level {word!r} (warning, critical or off)")
        return _LEVELS[word]

    def limit(self, value: Any, key: str, *, above: bool, kind: str) -> Limit | None:
        if value == "off":
            return None
        table = self.table(value, key, ("warning", "critical"))
        if not table:
            raise self.fail(key, "give a warning or a critical bound (or \"off\")")
        bounds: dict[str, float] = {}
        for name, raw in table.items():
            where = f"{key}.{name}"
            if kind == "bytes":
                bounds[name] = float(self.byte_size(raw, where))
            elif kind == "seconds":
                bounds[name] = self.seconds(raw, where)
            else:
                bounds[name] = float(self.integer(raw, where, 0, 36_500))
        return Limit(warning=bounds.get("warning"), critical=bounds.get("critical"), above=above)

    def actions(self, value: Any, key: str) -> tuple[tuple[Action, Status], ...]:
        table = self.table(value, key, tuple(_LEVELS))
        out: dict[Action, Status] = {}
        for level_name in ("warning", "critical"):  # critical wins where both name an action
            names = self.typed(table.get(level_name, []), f"{key}.{level_name}", list, "a list")
            for i, name in enumerate(names):
                action = self.choice(name, f"{key}.{level_name}[{i}]", Action, "action")
                out[action] = _LEVELS[level_name]
        return tuple(sorted(out.items()))

    def expectations(self, raw: Any, key: str, base: Expectations) -> Expectations:
        table = self.table(raw, key, _EXPECT)
        changes: dict[str, Any] = {}
        for name, value in table.items():
            where = f"{key}.{name}"
            field = name
            if name in ("starttls", "not_junk", "same_hops", "same_mx", "drift"):
                changes[field] = self.level(value, where)
            elif name == "reachable":
                level = self.level(value, where)
                if level is None:
                    raise self.fail(where, "reachability cannot be switched off")
                changes[field] = level
            elif name == "certificate_days":
                changes[field] = self.limit(value, where, above=False, kind="days")
            elif name == "max_size":
                changes[field] = self.limit(value, where, above=False, kind="bytes")
            elif name == "delivered_within":
                changes[field] = self.limit(value, where, above=True, kind="seconds")
            elif name == "no_actions":
                changes[field] = self.actions(value, where)
            else:  # allow_injects
                names = self.typed(value, where, list, "a list of header names")
                changes[field] = tuple(
                    self.text(n, f"{where}[{i}]").strip().lower() for i, n in enumerate(names))
        return dataclasses.replace(base, **changes)

    def target(self, raw: Any, key: str, defaults: Mapping[str, Any]) -> TargetSpec:
        table = self.table(raw, key, _TARGET)
        merged = {**defaults, **table}
        expect = Expectations()
        if "expect" in defaults:
            expect = self.expectations(defaults["expect"], "defaults.expect", expect)
        if "expect" in table:
            expect = self.expectations(table["expect"], f"{key}.expect", expect)
        if ("domain" in table) == ("host" in table):
            raise self.fail(key, "give exactly one of domain or host")
        direct = "host" in table
        field = "host" if direct else "domain"
        name = self.text(table[field], f"{key}.{field}")
        name = name.strip().rstrip(".").lower()
        port = 25
        if direct and name.rsplit(":", 1)[-1].isdigit() and not name.endswith("]"):
            host, _, port_text = name.rpartition(":")
            name, port = host.strip("[]"), self.integer(int(port_text), f"{key}.host", 1, 65535)
        if not name or any(c.isspace() for c in name):
            raise self.fail(key, f"bad target name {name!r}")
        if "port" in merged and port == 25:
            port = self.integer(merged["port"], f"{key}.port", 1, 65535)
        spec = TargetSpec(target=name, direct=direct, port=port, expect=expect)
        values: dict[str, Any] = {}
        for field in ("profile", "to", "mailbox", "password_file"):
            if field in merged:
                values[field] = self.text(merged[field], f"{key}.{field}")
        if "password_env" in merged:
            env = self.text(merged["password_env"], f"{key}.password_env")
            if not _ENV_NAME.fullmatch(env):
                raise self.fail(f"{key}.password_env", f"not an environment variable name: {env!r}")
            values["password_env"] = env
        if "threshold_every" in merged:
            values["threshold_every"] = self.integer(merged["threshold_every"],
                                                     f"{key}.threshold_every", 0, 10_000)
        spec = dataclasses.replace(spec, **values)
        if spec.profile != "capabilities" and not (spec.to and spec.mailbox):
            raise self.fail(key, f"profile {spec.profile!r} sends mail: give to and mailbox")
        if "?password=" in spec.mailbox or ":" in spec.mailbox.partition("://")[2].partition("@")[0]:
            raise self.fail(f"{key}.mailbox", "a password in the URL is refused: use password_env"
                            " or password_file")
        return spec


def parse_check_config(text: str, *, source: str) -> CheckConfig:
    p = _ConfigParser(source)
    if problem := screen(text):  # what would make tomllib take quadratic time or recurse
        raise ConfigError(f"not valid TOML: {problem}", path=source)
    try:
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"not valid TOML: {message}", path=source) from None
    p.table(raw, "", _TOP)
    limits = CheckLimits()
    if "check" in raw:
        table = p.table(raw["check"], "check", _CHECK)
        limits = CheckLimits(
            concurrency=p.integer(table.get("concurrency", 8), "check.concurrency", 1, 1000),
            per_address=p.integer(table.get("per_address", 2), "check.per_address", 1, 100),
            deadline=p.seconds(table.get("deadline", 300), "check.deadline"),
        )
    defaults: Mapping[str, Any] = {}
    if "defaults" in raw:
        defaults = p.table(raw["defaults"], "defaults", tuple(t for t in _TARGET
                                                             if t not in ("domain", "host")))
    raw_targets = p.typed(raw.get("target", []), "target", list, "a list of [[target]] tables")
    if not raw_targets:
        raise p.fail("target", "no [[target]] to check")
    if len(raw_targets) > MAX_TARGETS:
        raise p.fail("target", f"{len(raw_targets):,} targets is more than {MAX_TARGETS:,}")
    targets = tuple(p.target(t, f"target[{i}]", defaults) for i, t in enumerate(raw_targets))
    seen: set[tuple[str, int]] = set()
    for i, t in enumerate(targets):
        if (t.target, t.port) in seen:
            raise p.fail(f"target[{i}]", f"{t.target} is listed twice")
        seen.add((t.target, t.port))
    return CheckConfig(source=source, limits=limits, targets=targets)
