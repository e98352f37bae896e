"""`probe exporter` on loopback: /probe answers with the target's metrics, parsed back by
prometheus_client; refusals for what it must not probe; its own /metrics."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from probe.model.smtp import Timeouts
from probe.pipeline.exporter import Exporter, base_request, serve
from probe.send.options import ConverseOptions
from tests.lab.smtp_peers import Recorder, ThreadedServer, aiosmtpd_server


@pytest.fixture
def exporter_url() -> Iterator[str]:
    options = ConverseOptions(helo="probe.invalid", timeouts=Timeouts.uniform(3), deadline=5)
    base = base_request(options, vantage="test", local_name="probe.invalid", nameservers=(),
                        dns_timeout=2)
    service = Exporter(base, allow=("127.0.0.1",), concurrency=2, timeout=5)
    server = serve(service, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:  # loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_probe_answers_with_the_targets_metrics(exporter_url: str) -> None:
    with ThreadedServer(lambda: aiosmtpd_server(Recorder())) as smtp:
        code, text = _get(f"{exporter_url}/probe?target=127.0.0.1&port={smtp.port}")
    assert code == 200, text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (status,) = families["probe_check_status"].samples
    assert status.labels["target"] == "127.0.0.1" and status.labels["vantage"] == "test"
    assert status.value == 1.0  # reachable, but no STARTTLS: WARNING
    (reached,) = families["probe_mx_reachable"].samples
    assert reached.value == 1.0
    (starttls,) = families["probe_starttls_offered"].samples
    assert starttls.value == 0.0


@pytest.mark.parametrize(("query", "code"), [
    ("target=example.com", 403),
    ("target=127.0.0.1&profile=quick", 400),
    ("target=127.0.0.1&port=99999", 400),
    ("", 400),
])
def test_what_it_must_not_probe_is_refused(exporter_url: str, query: str, code: int) -> None:
    assert _get(f"{exporter_url}/probe?{query}")[0] == code


def test_its_own_metrics(exporter_url: str) -> None:
    _get(f"{exporter_url}/probe?target=example.com")
    code, text = _get(f"{exporter_url}/metrics")
    assert code == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    counts = {(s.labels["path"], s.labels["code"]): s.value
              for s in families["probe_exporter_requests"].samples if s.name.endswith("_total")}
    assert counts[("/probe", "403")] == 1.0
    assert _get(f"{exporter_url}/nothing")[0] == 404
