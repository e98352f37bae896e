"""`probe exporter`: Prometheus' multi-target exporter pattern (as blackbox_exporter does it).

`GET /probe?target=DOMAIN[&profile=capabilities][&port=N]` checks that target now and answers with
its metrics; `GET /metrics` answers with the exporter's own (requests, durations, refusals). Only
profiles that send no mail are served, only targets matching an `--allow` pattern are probed (an
exporter that probes whatever a URL names would be a scanning service for anyone who can reach
it), at most `concurrency` checks run at once (beyond: 503), and each is bounded by a timeout below
the usual scrape timeout.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from probe.model.check import TargetSpec
from probe.pipeline.check import CAPABILITIES, CheckRequest, perform_check
from probe.report.prometheus import registry_of
from probe.send.options import ConverseOptions

MAX_TARGET = 253


class Exporter:
    def __init__(self, base: CheckRequest, *, allow: tuple[str, ...], concurrency: int,
                 timeout: float) -> None:
        self.base = base
        self.allow = tuple(p.lower() for p in allow)
        self.timeout = timeout
        self.slots = threading.BoundedSemaphore(concurrency)
        self.registry = CollectorRegistry()
        self.requests = Counter("probe_exporter_requests", "Requests by path and result",
                                ["path", "code"], registry=self.registry)
        self.seconds = Histogram("probe_exporter_check_seconds", "Time per /probe check",
                                 registry=self.registry)

    def allowed(self, target: str) -> bool:
        return any(fnmatch.fnmatchcase(target, pattern) for pattern in self.allow)

    def probe(self, target: str, profile: str, port: int) -> bytes:
        spec = TargetSpec(target=target, profile=profile, port=port)
        req = CheckRequest(
            targets=(spec,), vantage=self.base.vantage, options=self.base.options,
            local_name=self.base.local_name, deadline=self.timeout, concurrency=1,
            per_address=self.base.per_address, nameservers=self.base.nameservers,
            dns_timeout=min(self.base.dns_timeout, self.timeout),
        )
        started = time.monotonic()
        result = perform_check(req, None)
        self.seconds.observe(time.monotonic() - started)
        return generate_latest(registry_of(result))


def _handler(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "probe-exporter"
        timeout = 30  # a client that sends nothing is dropped

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # no access log on stderr: Prometheus scrapes every few seconds

        def _send(self, code: HTTPStatus, body: bytes, kind: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            exporter.requests.labels(urlsplit(self.path).path[:20], str(int(code))).inc()

        def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
            url = urlsplit(self.path)
            if url.path == "/metrics":
                self._send(HTTPStatus.OK, generate_latest(exporter.registry),
                           CONTENT_TYPE_LATEST)
                return
            if url.path != "/probe":
                self._send(HTTPStatus.NOT_FOUND, b"try /probe?target=DOMAIN or /metrics\n")
                return
            query = parse_qs(url.query, max_num_fields=8)
            target = (query.get("target") or [""])[0].strip().rstrip(".").lower()
            profile = (query.get("profile") or [CAPABILITIES])[0]
            port_text = (query.get("port") or ["25"])[0]
            if not target or len(target) > MAX_TARGET or not port_text.isdigit() or not (
                0 < int(port_text) < 65536
            ):
                self._send(HTTPStatus.BAD_REQUEST, b"target=DOMAIN (and port=1..65535)\n")
                return
            if profile != CAPABILITIES:
                self._send(HTTPStatus.BAD_REQUEST,
                           b"only profile=capabilities (sends no mail) is served\n")
                return
            if not exporter.allowed(target):
                self._send(HTTPStatus.FORBIDDEN, b"target not allowed (see --allow)\n")
                return
            if not exporter.slots.acquire(blocking=False):
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"too many checks at once\n")
                return
            try:
                body = exporter.probe(target, profile, int(port_text))
            finally:
                exporter.slots.release()
            self._send(HTTPStatus.OK, body, CONTENT_TYPE_LATEST)

    return Handler


def serve(exporter: Exporter, host: str, port: int,
          ready: threading.Event | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), _handler(exporter))
    server.daemon_threads = True
    if ready is not None:
        ready.set()
    return server


def base_request(options: ConverseOptions, *, vantage: str, local_name: str,
                 nameservers: tuple[tuple[str, int], ...], dns_timeout: float) -> CheckRequest:
    return CheckRequest(targets=(), vantage=vantage, options=options, local_name=local_name,
                        nameservers=nameservers, dns_timeout=dns_timeout)
