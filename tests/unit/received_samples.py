"""Messages with 3-8 Received stamps in the shapes real MTAs write, seeded (pure).

Templates of Postfix with TLS, Postfix pickup, amavis loop, Exim with the RFC 8314 `tls` clause,
Exchange Online, Gmail MX and internal, qmail, Sendmail, Dovecot LMTP and SendGrid without `;`,
with varied hosts, addresses, ids and dates. The tests parse them; bench/bench_received.py times
the same messages.
"""

from __future__ import annotations

import datetime as dt
import random

# Shapes of real stamps; {placeholders} are varied per hop.
TEMPLATES = [
    # Postfix smtpd with smtpd_tls_received_header
    "from {helo} ({rdns} [{ip}])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256"
    " bits)\r\n\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)"
    "\r\n\t(No client certificate requested)\r\n\tby {by} (Postfix) with ESMTPS id {qid}\r\n\t"
    "for <{rcpt}>; {date} (UTC)",
    # Postfix pickup
    "by {by} (Postfix, from userid 1000)\r\n\tid {qid}; {date} (CEST)",
    # amavisd-new loop
    "from {by} ([127.0.0.1])\r\n\tby localhost ({by} [127.0.0.1]) (amavisd-new, port 10024)"
    "\r\n\twith ESMTP id {qid} for <{rcpt}>;\r\n\t{date} (PDT)",
    # Exim >= 4.9x
    "from {rdns} ([{ip}] helo={helo})\r\n\tby {by} with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384"
    "\r\n\t(Exim 4.96)\r\n\t(envelope-from <{sender}>)\r\n\tid {eximid}\r\n\tfor {rcpt};"
    " {date}",
    # Exchange Online
    "from {helo} (2603:10a6:20b:{h4}::{h4}) by {by} (2603:10a6:10:{h4}::{h4}) with Microsoft"
    " SMTP Server (version=TLS1_2,\r\n cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id"
    " 15.20.7633.37; {date}",
    "from {helo} ({ip}) by {by} (10.167.16.180) with Microsoft SMTP Server id 15.20.7677.15 via"
    " Frontend Transport; {date}",
    # Gmail MX and internal
    "from {helo} ({rdns}. [{ip}])\r\n        by mx.google.com with ESMTPS id {qid}.2023.12.19"
    "\r\n        for <{rcpt}>\r\n        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384"
    " bits=256/256);\r\n        {date} (PST)",
    "by 2002:a05:612c:2691:b0:324:{h4}:{h4} with SMTP id {qid};\r\n        {date} (PST)",
    # qmail
    "from {rdns} (HELO {helo}) ({ip})\r\n  by {by} with SMTP; {date_noday}",
    "(qmail {pid} invoked from network); {date_noday}",
    # Sendmail with TLS
    "from {helo} ({rdns} [{ip}])\r\n\tby {by} (8.15.2/8.15.2/Debian-10) with ESMTP id {qid}"
    "\r\n\t(version=TLSv1.2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 verify=NO)"
    "\r\n\tfor <{rcpt}>; {date}",
    # Dovecot LMTP, the `;` on its own folded line
    "from {by}\r\n\tby {by} with LMTP\r\n\tid {qid}\r\n\t(envelope-from <{sender}>)\r\n\t"
    "for <{rcpt}>; {date}",
    # SendGrid: no `;`, Go time format
    "by filterdrecv-{pid}-wwg5v with SMTP id filterdrecv-{qid}-3D {iso}",
]


def _host(rng: random.Random) -> str:
    return f"{rng.choice(['mx', 'mail', 'smtp', 'relay', 'out'])}{rng.randint(1, 99)}." + (
        rng.choice(["example.com", "example.net", "example.org", "mail.example.co.uk"])
    )


def generate(n: int, seed: int = 4) -> list[bytes]:
    """`n` messages as raw bytes, newest stamp first as MTAs prepend; the same for one seed."""
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    messages = []
    for i in range(n):
        when = start + dt.timedelta(seconds=rng.randint(0, 300 * 86400))
        stamps = []
        for _ in range(rng.randint(3, 8)):
            when += dt.timedelta(seconds=rng.randint(0, 40))
            local = when.astimezone(dt.timezone(dt.timedelta(hours=rng.choice([-8, 0, 2]))))
            ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{i % 250 + 1}"
            values = {
                "helo": _host(rng),
                "rdns": _host(rng),
                "by": _host(rng),
                "ip": ip,
                "qid": f"{rng.getrandbits(40):X}",
                "eximid": f"1r{rng.getrandbits(20):05x}-000{rng.getrandbits(12):03x}-AB",
                "rcpt": f"user{i}@example.org",
                "sender": f"sender{i}@example.com",
                "h4": f"{rng.getrandbits(16):x}",
                "pid": str(rng.randint(100, 99999)),
                "date": local.strftime("%a, %d %b %Y %H:%M:%S %z"),
                "date_noday": local.strftime("%d %b %Y %H:%M:%S %z"),
                "iso": when.strftime("%Y-%m-%d %H:%M:%S.123456789 +0000 UTC m=+10150201.64"),
            }
            stamps.append("Received: " + rng.choice(TEMPLATES).format(**values))
        head = "\r\n".join(reversed(stamps))  # newest first, as MTAs prepend
        messages.append(
            (
                f"{head}\r\nFrom: <sender{i}@example.com>\r\nTo: <user{i}@example.org>\r\n"
                f"Subject: bench {i}\r\nMessage-ID: <{i}@example.com>\r\n\r\nbody\r\n"
            ).encode()
        )
    return messages
