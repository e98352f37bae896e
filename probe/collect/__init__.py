"""Collect stage: read the cooperating mailbox (IMAP, Maildir, mbox), find copies and bounces.

I/O lives in `imap`, `maildir` and `wait`; `urls`, `match` and `results` are pure so the rest of
probe (analysis, decisions) can use their types without touching a mailbox.
"""
