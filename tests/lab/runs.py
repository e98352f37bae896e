"""A run against one scenario of the embedded lab, as `probe run` would build it."""

from __future__ import annotations

from typing import Any

from probe.lab.runtime import LabInfo
from probe.pipeline.request import RunArgs, RunRequest, SendArgs, build_request
from probe.plan.profiles import Profile


def lab_request(lab: LabInfo, scenario: str, profile: Profile, **run: Any) -> RunRequest:
    """To user@ the scenario's domain through its entry, resolved by the lab's DNS;
    `run` are `RunArgs` (e.g. mailbox=f"maildir:{...}")."""
    info = lab.scenario(scenario)
    send = SendArgs(
        info.domain, f"user@{info.domain}", port=info.port, nameservers=(lab.nameserver,)
    )
    return build_request(profile, send, RunArgs(**run), local_name="probe.invalid")
