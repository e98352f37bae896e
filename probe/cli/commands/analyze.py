"""`probe analyze RUN.json`: re-analyse and re-decide a saved run offline.

Loads what `probe run --save` (or `--json`) wrote, rebuilds the `RunResult` with
`probe.model.from_data` and runs the pure half of the pipeline (`probe.decide.decision.judge`)
again, so a run recorded with an older probe gets today's verdicts. Nothing is sent.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from probe.cli.base import JsonOpt, app, emit_json, emit_text, finish
from probe.cli.files import RUN_CAP, read_input
from probe.decide.decision import judge
from probe.errors import UsageError, error_line
from probe.model.json import from_data
from probe.model.run import RUN_SCHEMA, RunResult
from probe.report.run import render_run

_DAMAGED = (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError)


def read_document(path: str) -> tuple[str, Any]:
    """The file's (or stdin's, for `-`) JSON, with a name for messages."""
    name = "stdin" if path == "-" else path
    data = read_input(path, cap=RUN_CAP, label=name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not text (a saved run is UTF-8 JSON)") from None
    try:
        return name, json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise UsageError(f"{name} is not JSON ({exc.msg} at {where})") from None
    except RecursionError:
        raise UsageError(f"{name} is nested too deeply to be a saved run") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise UsageError(f"{name} is not a saved run: {_short(exc)}") from None


def load_run(name: str, data: Any) -> RunResult:
    """A `probe.run/1` document back into a RunResult; anything else is a one-line error."""
    if not isinstance(data, dict):
        raise UsageError(f"{name} is a JSON {type(data).__name__}, not a saved probe run")
    schema = data.get("schema")
    if schema != RUN_SCHEMA:
        what = f"a {schema} document" if isinstance(schema, str) else "without a schema field"
        raise UsageError(f"{name} is {what}, not a {RUN_SCHEMA} run (from probe run --save)")
    try:
        return from_data(RunResult, data)
    except _DAMAGED as exc:
        raise UsageError(f"{name} is damaged or truncated: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    text = error_line(exc)
    return text if len(text) <= 160 else text[:157] + "..."


@app.command("analyze")
def analyze_command(
    run_file: Annotated[
        str, typer.Argument(metavar="RUN.json", help="A run saved by probe run --save; - = stdin.")
    ],
    transcript: Annotated[
        bool, typer.Option("--transcript", help="Print every SMTP transcript.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Decide a saved run again, offline (nothing is sent): the same report as probe run.
    Exit: the run's new status, 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN or unreadable input."""
    name, data = read_document(run_file)
    loaded = load_run(name, data)
    try:
        result = judge(loaded)
        text = "" if json_out else render_run(result, transcript=transcript)
    except _DAMAGED as exc:
        raise UsageError(f"{name} cannot be analysed: {_short(exc)}") from None
    if json_out:
        emit_json(RUN_SCHEMA, result)
    else:
        emit_text(text)
    finish(result.status)
