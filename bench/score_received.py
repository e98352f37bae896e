"""Field-by-field agreement of probe's Received reader with another project's expected values.

Reads a JSON list of test vectors (`{"header": ..., "expected": {...}}`, the shape of a Rust
mail parser's Received test suite) and compares the fields both define: the client's address and
reverse name, `by`, `for`, `with`, `id`, the TLS cipher, the HELO name and the date (in UTC).
The vectors are not in this repository; point the script at them:

    python bench/score_received.py VECTORS.json [FIELD ...]   # FIELD: print its disagreements

Disagreements are not all probe's errors: the other parser keeps two-digit years as 19xx, reads
named zones (PST) as UTC and calls Microsoft SMTPSVC's protocol SMTP; read them.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from probe.analyze.received.path import parse_received
from probe.model.trace import Hop


def _name(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("Name") or value.get("IPv4") or value.get("IPv6") or "")
    return str(value or "")


def _date(x: dict[str, Any]) -> dt.datetime | None:
    sign = -1 if x["tz_before_gmt"] else 1
    try:
        local = dt.datetime(x["year"], x["month"], x["day"], x["hour"], x["minute"], x["second"],
                            tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        return None
    return local - dt.timedelta(minutes=sign * (x["tz_hour"] * 60 + x["tz_minute"]))


def compare(hop: Hop, e: dict[str, Any]) -> dict[str, tuple[object, object]]:
    """(got, want) per field the vector states."""
    pairs: dict[str, tuple[object, object]] = {}
    if "from_ip" in e:
        pairs["ip"] = (hop.from_ip, str(e["from_ip"]).lower())
    if "from_iprev" in e:
        pairs["rdns"] = ((hop.from_rdns or "").lower() or None, e["from_iprev"].lower().rstrip("."))
    if "by" in e:
        pairs["by"] = ((hop.by_host or "").lower(), _name(e["by"]).lower())
    if "for_" in e:
        pairs["for"] = ((hop.for_addr or "").lower(), e["for_"].lower())
    if "with" in e:
        pairs["with"] = ((hop.with_protocol or "").upper(), e["with"].upper())
    if "id" in e:
        pairs["id"] = (hop.id, e["id"])
    if "tls_cipher" in e:
        pairs["cipher"] = (hop.tls.cipher if hop.tls else None, e["tls_cipher"])
    if "helo" in e:
        pairs["helo"] = ((hop.from_helo or "").lower().strip("[]"),
                         _name(e["helo"]).lower().strip("[]"))
    if e.get("date"):
        pairs["date"] = (hop.date, _date(e["date"]))
    return pairs


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    vectors = json.loads(Path(sys.argv[1]).read_text())
    show = set(sys.argv[2:])
    total = agree = 0
    wrong: dict[str, list[tuple[object, object, str]]] = {}
    for case in vectors:
        for key, (got, want) in compare(parse_received(case["header"].strip()),
                                        case["expected"]).items():
            total += 1
            if got == want:
                agree += 1
            else:
                wrong.setdefault(key, []).append((got, want, case["header"][:140]))
    print(f"{agree} of {total} fields agree ({100 * agree / max(total, 1):.1f} %)")
    for key, cases in sorted(wrong.items()):
        print(f"  {key}: {len(cases)} disagree")
        if key in show:
            for got, want, header in cases:
                print(f"      got {got!r}, they say {want!r}: {header!r}")


if __name__ == "__main__":
    main()
