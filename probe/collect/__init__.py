"""Collect stage: read the cooperating mailbox (IMAP, Maildir, mbox), find copies and bounces.

`mailboxes.open_mailbox(url, password=...)` gives a `base.Mailbox`; `wait.collect(...)` waits
until every probe is delivered, bounced or the deadline passed. I/O lives in `imap` (with
`imap_login`), `maildir` and `mbox` (sharing `local`), `files` and `wait`; `urls`, `match` and
`imap_parse` are pure, so they are tested with data and usable without touching a mailbox. The
password lives in a `secrets.Secret` from the CLI to the one call that sends it.
"""
