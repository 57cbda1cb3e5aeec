"""`claimcheck report`: the evidence summary of a case as HTML, Markdown, JSON or PDF."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cases.cli.context import ws
from cases.cli.options import CaseArg
from cases.cli.output import fail
from cases.cli.progress import RichProgress


def report(
    case: CaseArg,
    fmt: Annotated[str, typer.Option("--format", help="html, md, json or pdf")] = "html",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write; '-' for stdout (json).")
    ] = None,
) -> None:
    """Write the evidence summary of a case; prints the path written."""
    from cases.report.output import FORMATS, build_report, report_json, write_report

    fmt = fmt.lower()
    if fmt not in FORMATS:
        fail(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    if output is not None and str(output) == "-":
        if fmt != "json":
            fail("only --format json can be written to stdout; give a file name with -o")
        with RichProgress() as progress:
            task = progress.task("re-hashing originals", None)
            report_data = build_report(ws(), case, on_original=task.advance)
        sys.stdout.write(report_json(report_data))
        return
    with RichProgress() as progress:  # every original is re-hashed for the report's header
        task = progress.task("re-hashing originals", None)
        path = write_report(ws(), case, fmt, output, on_original=task.advance)
    print(path)
