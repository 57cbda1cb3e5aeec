"""`claimcheck export` writes a case to a zip bundle; `claimcheck import` adds one as a new case."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cases.cli.context import actor, ws
from cases.cli.options import CaseArg, JsonOpt
from cases.cli.output import emit
from cases.cli.progress import RichProgress


def export(
    case: CaseArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Bundle to write (.zip).")],
    as_json: JsonOpt = False,
) -> None:
    """Write a case (originals, records, custody log, hashes) to a zip bundle."""
    from cases.bundle import export_case

    with RichProgress() as progress:
        task = progress.task("exporting", None)
        out = export_case(ws(), actor(), case, output, on_file=lambda _n, _t: task.advance())
    if as_json:
        emit({"case": out.case, "bundle": str(out.path), "files": out.files, "bytes": out.bytes})
    else:
        print(f"exported {out.case} to {out.path} ({out.files} files)", file=sys.stderr)


def import_(
    bundle: Annotated[Path, typer.Argument(help="A bundle written by `claimcheck export`.")],
    as_json: JsonOpt = False,
) -> None:
    """Check a bundle completely, then add its case to this workspace as a new case."""
    from cases.bundle import import_bundle

    with RichProgress() as progress:  # every entry is hashed before anything is accepted
        task = progress.task("checking bundle", None)
        out = import_bundle(ws(), actor(), bundle, on_file=lambda _n, _t: task.advance())
    if as_json:
        emit(
            {
                "case": out.case,
                "source_case": out.source_case,
                "source_workspace": out.source_workspace,
                "items": out.items,
                "findings": out.findings,
                "bundle_sha256": out.bundle_sha256,
            }
        )
        return
    print(out.case)
    print(
        f"imported {out.source_case} as {out.case}: {out.items} item(s), {out.findings} finding(s)",
        file=sys.stderr,
    )
