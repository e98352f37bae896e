"""Decide stage: facts -> per-hop verdicts with evidence and confidence, and each command's status.

Pure. `decide.decision.judge` analyses a run's copies and decides (`probe run` and `probe
analyze`); `decide.decision.decide` runs the rules (`decide.rules`) over a `Context`
(`decide.context`), built from a run's observations and analysis, and rates what they find with
the profile's levels (`decide.severity`).
"""
