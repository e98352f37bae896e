"""History (I/O): every run and check result stored with its document, on SQLite or PostgreSQL.

Drift between two stored results is computed by the pure `analyze.drift`; this package only
stores, finds and prunes.
"""
