"""Use cases: the stages wired together for one command (`probe run`, `probe threshold`, the demo).

A CLI command parses its options, calls one use case here and renders its result.
"""
