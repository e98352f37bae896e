"""probe's own SMTP server: the engine behind `probe listen` and every lab hop (I/O).

It records what reached it (`records`), writes Received lines and queue ids like the MTA it plays
(`stamps`) and delivers into a Maildir. The lab builds on it; it never imports the lab.
"""
