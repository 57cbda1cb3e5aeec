"""`claimcheck statement add`: a witness statement, stored as a text item of its own."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cases.cli.context import actor, ws
from cases.cli.options import CaseArg
from cases.ingest import ItemFacts, add_statement
from cases.validate import parse_date

statement_app = typer.Typer(no_args_is_help=True, help="Add witness statements.")


@statement_app.command("add")
def statement_add(
    case: CaseArg,
    witness: Annotated[str, typer.Option(help="Who gave the statement.")],
    text: Annotated[
        str | None, typer.Option(help="The statement's words (or give --file).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="A text file holding the statement (or give --text).")
    ] = None,
    date: Annotated[
        str | None, typer.Option(help="Day the statement was given (YYYY-MM-DD).")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Language of the statement, e.g. ar or en.")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of --file when it is not UTF-8.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Where the statement came from.")] = None,
    role: Annotated[str, typer.Option(help="supports_claim or other.")] = "supports_claim",
) -> None:
    """Add a witness statement, stored as a text item of its own."""
    r = add_statement(
        ws(),
        actor(),
        case,
        witness=witness,
        text=text,
        file=file,
        encoding=encoding,
        role=role,
        facts=ItemFacts(
            source=source,
            statement_date=parse_date(date) if date else None,
            language=language,
        ),
    )
    print(r.message, file=sys.stderr)
