from __future__ import annotations

from probe import __version__
from probe.cli.base import JsonOpt, app, emit_json, emit_text


@app.command()
def version(json_out: JsonOpt = False) -> None:
    """Print probe's version."""
    if json_out:
        emit_json("probe.version/1", {"version": __version__})
    else:
        emit_text(f"probe {__version__}")
