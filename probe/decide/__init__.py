"""Decide stage: facts -> per-hop verdicts with evidence and confidence, and each command's status.

Pure. `decide.decision.decide` runs the rules (`decide.rules`) over a `DecideContext`
(`decide.context`), built from a run's observations and analysis.
"""
