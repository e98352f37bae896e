"""The embedded lab: simulated delivery paths and a DNS responder on loopback."""
