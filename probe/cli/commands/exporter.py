"""`probe exporter --listen HOST:PORT`: capability checks on demand for Prometheus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from probe.cli.base import NameserverOpt, app, finish, say
from probe.cli.options import default_helo, parse_nameservers, split_host_port
from probe.errors import UsageError
from probe.history.store import default_vantage
from probe.model.smtp import Timeouts
from probe.model.status import Status
from probe.pipeline.exporter import Exporter, base_request, serve
from probe.send.options import ConverseOptions


@app.command()
def exporter(
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to serve on.")] = (
        "127.0.0.1:9125"
    ),
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="Target pattern that may be probed, e.g. '*.example.com' "
                     "(repeatable; none: nothing is probed)."),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64)] = 4,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, max=120,
                            help="Seconds per check: keep it below the scrape timeout.")
    ] = 8.0,
    vantage: Annotated[str | None, typer.Option("--vantage")] = None,
    helo: Annotated[str | None, typer.Option("--helo")] = None,
    ca_file: Annotated[Path | None, typer.Option("--ca-file")] = None,
    nameserver: NameserverOpt = None,
) -> None:
    """Serve /probe?target=DOMAIN (capability metrics of that target, checked now) and /metrics.

    Point a Prometheus scrape job at it with the target as a URL parameter (the multi-target
    exporter pattern); only targets matching --allow are probed.
    """
    host, port = split_host_port(listen, default_port=9125)
    if not allow:
        raise UsageError("give --allow PATTERN for the targets this exporter may probe")
    options = ConverseOptions(helo=helo or default_helo(), timeouts=Timeouts.uniform(timeout),
                              deadline=timeout, ca_file=str(ca_file) if ca_file else None)
    base = base_request(options, vantage=vantage or default_vantage(),
                        local_name=helo or default_helo(),
                        nameservers=parse_nameservers(nameserver), dns_timeout=min(5.0, timeout))
    service = Exporter(base, allow=tuple(allow), concurrency=concurrency, timeout=timeout)
    try:
        server = serve(service, host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    say(f"probe exporter: serving on http://{listen}/probe?target=DOMAIN and /metrics")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    finish(Status.OK)
