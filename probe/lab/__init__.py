"""The embedded lab: simulated delivery paths and a DNS responder on loopback.

`probe.lab.runtime` runs it (`Lab`, `LabThread`); `scenarios.toml` says what runs; the hop kinds
are in `probe.lab.kinds` (their faces in `personalities.toml`), built on probe's own SMTP server
(`probe.server`); `probe.lab.forward` passes mail from hop to hop. The final Maildir of a
scenario doubles as the sender's mailbox: the DSNs that store-and-forward hops return
(`probe.lab.bounce`) are delivered there.
"""
