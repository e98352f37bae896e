"""Collect stage: read the cooperating mailbox (IMAP, Maildir, mbox), find copies and bounces.

`mailboxes.open_mailbox(url, password=...)` gives a `base.Mailbox`; `wait.collect(...)` waits until
every probe is delivered, bounced or the deadline passed. I/O lives in `imap`, `maildir` and
`wait`; `urls` and `match` are pure, so analysis and decisions can use their types
without touching a mailbox.
"""
