"""The embedded lab: simulated delivery paths and a DNS responder on loopback.

`probe.lab.runtime` runs it (`Lab`, `LabThread`); `scenarios.toml` says what runs; the hop kinds
are in `probe.lab.hops`.
"""
