"""Assertions over a run's decision: who is blamed for what, and that nobody else is.

A hop is named by its key's text (`mx.mta.probe.test`, `front:mx.mta.probe.test`, ...). An
action that names alternatives (the evidence cannot decide) or has low confidence accuses no
one; every other action accuses its hop. Every failure message carries the headline and each
hop's actions, so a red test says what probe said.
"""

from __future__ import annotations

from probe.model.run import RunResult
from probe.model.verdict import Action, Confidence, Decision, HopAction, HopVerdict


def decision_of(result: RunResult) -> Decision:
    assert result.decision is not None, "the run was not decided"
    return result.decision


def describe(decision: Decision) -> str:
    """The headline and every hop's actions, one line each: what a failure shows."""
    lines = [*decision.headline]
    for hop in decision.hops:
        for a in hop.actions:
            lines.append(
                f"  {hop.key}: {a.action} [{a.confidence}] {a.summary}"
                f"{' (' + a.condition + ')' if a.condition else ''}"
                f"{' or: ' + ', '.join(map(str, a.alternatives)) if a.alternatives else ''}"
            )
        if hop.ambiguous:
            lines.append(f"  {hop.key}: ambiguous: {hop.ambiguous}")
    return "\n".join(lines)


def hop(decision: Decision, key: str) -> HopVerdict:
    for verdict in decision.hops:
        if str(verdict.key) == key:
            return verdict
    raise AssertionError(f"no hop {key} in the decision:\n{describe(decision)}")


def actions(decision: Decision, key: str, action: Action) -> list[HopAction]:
    """The `action`s the hop `key` is given (none when the hop is not in the decision)."""
    return [a for v in decision.hops if str(v.key) == key for a in v.actions if a.action is action]


def blamed(decision: Decision, key: str, action: Action) -> HopAction:
    """The hop `key` takes `action` (as the likeliest, where alternatives are named); returns
    the first such action."""
    found = actions(decision, key, action)
    assert found, f"{key} is not said to {action}:\n{describe(decision)}"
    return found[0]


def accuses(verdict: HopVerdict, action: HopAction) -> bool:
    """Whether `action` puts the blame on `verdict`'s hop alone."""
    return (
        action.confidence is not Confidence.LOW
        and not action.alternatives
        and not verdict.ambiguous
    )


def accused(decision: Decision) -> dict[str, list[HopAction]]:
    """Each hop with the actions that accuse it."""
    result: dict[str, list[HopAction]] = {}
    for verdict in decision.hops:
        firm = [a for a in verdict.actions if accuses(verdict, a)]
        if firm:
            result[str(verdict.key)] = firm
    return result


def candidates(decision: Decision, action: Action) -> set[str]:
    """Every hop given `action`, as the likeliest or as an alternative."""
    found: set[str] = set()
    for verdict in decision.hops:
        for a in verdict.actions:
            if a.action is action:
                found |= {str(verdict.key), *map(str, a.alternatives)}
    return found


def nobody_else(decision: Decision, *keys: str) -> None:
    """No hop but `keys` is accused of anything (an ambiguous or low-confidence mention is not
    an accusation)."""
    others = {k: v for k, v in accused(decision).items() if k not in keys}
    assert not others, f"innocent hops accused {sorted(others)}:\n{describe(decision)}"


def not_accused_of(decision: Decision, key: str, action: Action) -> None:
    """`key` is not accused of `action` (it may be named as one of several candidates)."""
    firm = [a for a in accused(decision).get(key, []) if a.action is action]
    assert not firm, f"{key} is accused to {action}:\n{describe(decision)}"


def headline_spares(decision: Decision, name: str) -> None:
    """No headline sentence starts with `name` (the innocent MTA as the subject of a verdict)."""
    bad = [line for line in decision.headline if line.startswith(name)]
    assert not bad, f"the headline accuses {name}:\n{describe(decision)}"
