"""SMTP sessions captured from real MTAs on 2026-12-03, as (banner, EHLO keywords, replies).

Each was written by the software and version named beside it, run on loopback from Debian 12
packages: Postfix 3.7.11 (postfix 3.7.11-0+deb12u1, the mta tier's tests/mta/servers.py), Exim
4.96 (exim4-daemon-light 4.96-15+deb12u11), OpenSMTPD 6.8.0p2 (opensmtpd 6.8.0p2-4+b4), qpsmtpd
0.94 (qpsmtpd 0.94-5) and chasquid 1.11 (chasquid 1.11-2+b2), the last four unpacked with
`dpkg -x` and started from that tree (tests/mta/unpacked.py and the MTA's module there say how);
Haraka 3.3.4 installed with npm (`haraka -i`, the plugins rcpt_to.in_host_list and queue/test);
Sendmail 8.17.1.9 (sendmail-bin 8.17.1.9-2+deb12u2, unpacked, tests/mta/sendmail.py).
Replies are (stage, code, text after the code); host names are the test's own.
"""

from __future__ import annotations

Session = tuple[str, tuple[str, ...], tuple[tuple[str, int, str], ...]]

SESSIONS: dict[str, Session] = {
    "postfix": (
        "220 mx.mta.probe.test ESMTP Postfix (probe mta test)",
        ("PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN",
         "SMTPUTF8", "CHUNKING"),
        (
            ("noop", 250, "2.0.0 Ok"),
            ("rset", 250, "2.0.0 Ok"),
            ("help", 500, "5.5.2 Error: command not recognized"),
            ("mail", 250, "2.1.0 Ok"),
            ("rcpt", 550, "5.1.1 <nobody@mta.probe.test>: Recipient address rejected: User "
             "unknown in virtual mailbox table"),
            ("rcpt", 250, "2.1.5 Ok"),
            ("data", 354, "End data with <CR><LF>.<CR><LF>"),
            ("final", 250, "2.0.0 Ok: queued as C998720C56E"),
            ("quit", 221, "2.0.0 Bye"),
        ),
    ),
    "exim": (
        "220 exim.mta.probe.test ESMTP Exim 4.96 Thu, 03 Dec 2026 12:35:49 +0000",
        ("SIZE 2097152", "8BITMIME", "PIPELINING", "PIPECONNECT", "CHUNKING", "STARTTLS",
         "SMTPUTF8", "HELP"),
        (
            ("help", 214, "Commands supported: AUTH STARTTLS HELO EHLO MAIL RCPT DATA BDAT NOOP "
             "QUIT RSET HELP"),
            ("noop", 250, "OK"),
            ("rset", 250, "Reset OK"),
            ("any", 500, "unrecognized command"),
            ("mail", 250, "OK"),
            ("rcpt", 550, "unknown user"),
            ("rcpt", 250, "Accepted"),
            ("data", 354, 'Enter message, ending with "." on a line by itself'),
            ("final", 250, "OK id=1xZ62P-0007lJ-2N"),
            ("quit", 221, "exim.mta.probe.test closing connection"),
        ),
    ),
    "opensmtpd": (
        "220 opensmtpd.mta.probe.test ESMTP OpenSMTPD",
        ("8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 36700160", "DSN", "HELP"),
        (
            ("help", 214, "2.0.0 This is OpenSMTPD 2.0.0 To report bugs in the implementation, "
             "please contact bugs@openbsd.org 2.0.0 with full details 2.0.0 End of HELP info"),
            ("noop", 250, "2.0.0 Ok"),
            ("rset", 250, "2.0.0 Reset state"),
            ("any", 500, "5.5.1 Invalid command: Command unrecognized"),
            ("mail", 250, "2.0.0 Ok"),
            ("rcpt", 550, "Invalid recipient: <x@relay.example>"),
            ("rcpt", 250, "2.1.5 Destination address valid: Recipient ok"),
            ("data", 354, 'Enter mail, end with "." on a line by itself'),
            ("final", 250, "2.0.0 4e858e0a Message accepted for delivery"),
            ("quit", 221, "2.0.0 Bye"),
        ),
    ),
    "qpsmtpd": (
        "220 qpsmtpd.mta.probe.test ESMTP qpsmtpd 0.94 ready; send us your mail, but not your "
        "spam.",
        ("PIPELINING", "8BITMIME", "STARTTLS"),
        (
            ("help", 214, "This is qpsmtpd 0.94 See http://smtpd.develooper.com/ To report bugs "
             "or send comments, mail to <ask@develooper.com>."),
            ("noop", 250, "OK"),
            ("rset", 250, "OK"),
            ("any", 500, "Unrecognized command"),
            ("vrfy", 252, "Just try sending a mail and we'll see how it turns out ..."),
            ("mail", 250, "<sender@client.probe.test>, sender OK - how exciting to get mail "
             "from you!"),
            ("rcpt", 550, "Relaying denied (#5.7.1)"),
            ("rcpt", 250, "<user@mta.probe.test>, recipient ok"),
            ("data", 354, "go ahead"),
            ("quit", 221, "qpsmtpd.mta.probe.test closing connection. Have a wonderful day."),
        ),
    ),
    "chasquid": (
        "220 mx.chasquid.probe.test ESMTP chasquid",
        ("8BITMIME", "PIPELINING", "SMTPUTF8", "ENHANCEDSTATUSCODES", "SIZE 52428800",
         "STARTTLS", "HELP"),
        (
            ("help", 214, "2.0.0 Hoy por ti, mañana por mi"),
            ("noop", 250, "2.0.0 You hear a faint typing noise."),
            ("rset", 250, "2.0.0 Thinking of Maud you forget everything else."),
            ("any", 500, "5.5.1 Unknown command"),
            ("mail", 250, "2.1.5 You feel like you are being watched"),
            ("rcpt", 503, "5.7.1 Relay not allowed"),
            ("rcpt", 550, "5.1.1 Destination address is unknown (user does not exist)"),
            ("rcpt", 250, "2.1.5 You have an eerie feeling..."),
            ("data", 354, "You suddenly realize it is unnaturally quiet"),
            ("final", 250, "2.0.0 You offer the Amulet of Yendor to Anhur..."),
            ("quit", 221, "2.0.0 Be seeing you..."),
        ),
    ),
    "haraka": (
        "220 mx.haraka.probe.test ESMTP Haraka/3.3.4 ready (EF5478)",
        ("PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 26214400"),
        (
            ("help", 250, "Not implemented"),
            ("noop", 250, "OK"),
            ("rset", 250, "OK"),
            ("any", 500, "Unrecognized command"),
            ("vrfy", 252, "Just try sending a mail and we'll see how it turns out..."),
            ("mail", 250, "sender <a@client.probe.test> OK"),
            ("rcpt", 550, "I cannot deliver mail for <x@relay.example>"),
            ("rcpt", 250, "recipient <user@haraka.probe.test> OK"),
            ("data", 354, "go ahead, make my day"),
            ("final", 250, "Message Queued (EF54781B-249A-4EA7-B11B-33D0737F4ADA.1)"),
            ("quit", 221, "mx.haraka.probe.test closing connection. Have a jolly good day."),
        ),
    ),
    "sendmail": (
        "220 sendmail.mta.probe.test ESMTP Sendmail 8.17.1.9/8.17.1.9; Thu, 3 Dec 2026 13:28:48 "
        "GMT",
        ("ENHANCEDSTATUSCODES", "PIPELINING", "EXPN", "VERB", "8BITMIME", "SIZE 2097152", "DSN",
         "ETRN", "AUTH DIGEST-MD5 CRAM-MD5", "STARTTLS", "DELIVERBY", "HELP"),
        (
            ("help", 502, "5.3.0 Sendmail 8.17.1.9 -- HELP not implemented"),
            ("noop", 250, "2.0.0 OK"),
            ("rset", 250, "2.0.0 Reset state"),
            ("any", 500, '5.5.1 Command unrecognized: "FOO"'),
            ("vrfy", 550, "5.1.1 x... User unknown"),
            ("mail", 250, "2.1.0 <sender@client.probe.test>... Sender ok"),
            ("rcpt", 250, "2.1.5 <user@mta.probe.test>... Recipient ok"),
            ("data", 354, "End data with <CR><LF>.<CR><LF>"),
            ("final", 250, "2.0.0 6B3DSmcE029706 Message accepted for delivery"),
            ("quit", 221, "2.0.0 sendmail.mta.probe.test closing connection"),
        ),
    ),
}  # fmt: skip

# The Received header each wrote (unfolded), where the session above delivered one.
RECEIVED = {
    "chasquid": "from [127.0.0.1] (client.probe.test) by mx.chasquid.probe.test (chasquid) with "
    'ESMTP (over SMTP, plain text!, envelope from "a@client.probe.test") ; Thu, 03 Dec 2026 '
    "12:35:01 +0000",
    "haraka": "from client.probe.test (runsc [127.0.0.1]) by mx.haraka.probe.test (Haraka/3.3.4) "
    "with ESMTP id EF54781B-249A-4EA7-B11B-33D0737F4ADA.1 envelope-from <a@client.probe.test>; "
    "Thu, 03 Dec 2026 13:02:18 +0000",
}
