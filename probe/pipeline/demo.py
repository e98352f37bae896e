"""`probe demo`: the whole pipeline against the embedded lab, offline, as a user would see it.

Every demo scenario runs concurrently in one event loop (the lab serves from its own thread);
`check` compares each decision with what the scenario is known to contain, so the demo is also
a self-test of the pipeline on this machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tomllib
from collections.abc import Callable
from importlib import resources
from typing import Any

from probe.decide.decision import judge
from probe.errors import ConfigError, MeasurementError
from probe.lab.runtime import LabInfo
from probe.model.demo import DemoOutcome
from probe.model.verdict import Decision, HopKey
from probe.pipeline.interrupts import Stopped, run_stoppable
from probe.pipeline.request import RunArgs, RunRequest, SendArgs, build_request
from probe.pipeline.run import execute, observed
from probe.pipeline.state import RunState, new_state
from probe.plan.profile_files import file_loader
from probe.plan.profiles import Profile, parse_profile

DEADLINE = 600.0  # seconds for every scenario together (they take about 20 s)


@dataclasses.dataclass(frozen=True)
class DemoCase:
    scenario: str
    threshold: bool = False
    clean: bool = False
    expect: tuple[tuple[str, str], ...] = ()


def load_demo() -> tuple[Profile, tuple[DemoCase, ...]]:
    data = tomllib.loads(resources.files("probe.lab").joinpath("demo.toml").read_text())
    profile = parse_profile(
        data["profile"]["text"], source="probe/lab/demo.toml", loader=file_loader
    )
    cases = []
    for item in data["scenario"]:
        expect: Any = item.get("expect", ())
        if expect == "clean":
            cases.append(DemoCase(item["name"], bool(item.get("threshold")), clean=True))
        elif isinstance(expect, list):
            pairs = tuple((str(h), str(a)) for h, a in expect)
            cases.append(DemoCase(item["name"], bool(item.get("threshold")), expect=pairs))
        else:
            raise ConfigError(
                "expect must be 'clean' or a list of [hop, action]",
                path="probe/lab/demo.toml",
                key=f"scenario {item.get('name')}",
            )
    return profile, tuple(cases)


def check(case: DemoCase, decision: Decision | None, mx_host: str) -> tuple[bool, str]:
    """Did the decision name what the scenario contains? (pure)"""
    if decision is None:
        return False, "no decision"
    if case.clean:
        return decision.clean, "expected: no hop interferes"
    missing = []
    for where, action in case.expect:
        keys = {"front": {HopKey.front(mx_host)}, "mx": {HopKey.at(mx_host)}}.get(where)
        found = any(
            a.action == action and (keys is None or h.key in keys)
            for h in decision.hops
            for a in h.actions
        )
        if not found:
            missing.append(f"{action} at {where}")
    expected = ", ".join(f"{a} at {w}" for w, a in case.expect)
    if missing:
        return False, f"expected {expected}; missing {', '.join(missing)}"
    return True, f"expected {expected}"


def requests(
    lab: LabInfo, profile: Profile, cases: tuple[DemoCase, ...], *, local_name: str
) -> list[RunRequest]:
    out = []
    for case in cases:
        info = lab.scenario(case.scenario)
        send = SendArgs(
            info.domain, f"user@{info.domain}", port=info.port, nameservers=(lab.nameserver,)
        )
        run = RunArgs(
            mailbox=f"maildir:{info.maildir}",
            collect_for=30.0,  # a busy machine relays the 2.5 MB DSN case slowly
            allow_eicar=True,  # the lab is ours and on loopback: EICAR never leaves it
            threshold=case.threshold,
            threshold_k=8,
            retry_delays=(1.0,),
            conversation_deadline=120.0,
        )
        out.append(build_request(profile, send, run, local_name=local_name))
    return out


async def run_all(
    reqs: list[RunRequest], progress: Callable[[str], None]
) -> list[tuple[RunState, BaseException | None]]:
    states = [new_state(r) for r in reqs]

    async def one(req: RunRequest, state: RunState) -> BaseException | None:
        try:
            await execute(req, state, lambda m: progress(f"{req.domain}: {m}"))
        except Exception as exc:  # noqa: BLE001 - reported per scenario, never lost
            return exc
        return None

    errors = await asyncio.gather(*(one(r, s) for r, s in zip(reqs, states, strict=True)))
    return list(zip(states, errors, strict=True))


def run_demo(
    lab: LabInfo, progress: Callable[[str], None], *, local_name: str
) -> tuple[DemoOutcome, ...]:
    """Every scenario at once; `local_name` is the HELO name and the senders' domain."""
    profile, cases = load_demo()
    reqs = requests(lab, profile, cases, local_name=local_name)
    done = run_stoppable(run_all(reqs, progress), deadline=DEADLINE)
    if isinstance(done, Stopped):  # a self-test cut short has no verdict to show
        raise MeasurementError(f"{done}: the demo did not finish")
    outcomes = []
    for case, req, (state, error) in zip(cases, reqs, done, strict=True):
        info = lab.scenario(case.scenario)
        why = str(error) if error else ""
        result = judge(observed(req, state, interrupted=error is not None, reason=why))
        matched, text = check(case, result.decision, info.mx_host)
        outcomes.append(DemoOutcome(case.scenario, info.description, matched, text, result))
    return tuple(outcomes)
