"""`claimcheck claim set` and `claimcheck denial set`: the two statements a case weighs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cases import workflow
from cases.cli.context import actor, ws
from cases.cli.evidence import add_with_progress
from cases.cli.options import CaseArg
from cases.ingest import ItemFacts, LinkSpec, precheck_files
from cases.validate import parse_date

claim_app = typer.Typer(no_args_is_help=True, help="Record the attack claim.")
denial_app = typer.Typer(no_args_is_help=True, help="Record the official denial.")


ReplaceOpt = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="Change an existing record: only the options given change, the rest is kept; "
        "the previous version stays in the custody log.",
    ),
]


@claim_app.command("set")
def claim_set(
    case: CaseArg,
    text: Annotated[
        str | None,
        typer.Option(help="What the claim says, in its words. Required unless --replace."),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Who made the claim. Required unless --replace.")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Where the claim was published.")] = None,
    date: Annotated[
        str | None, typer.Option(help="Day the claim was published (YYYY-MM-DD).")
    ] = None,
    killed: Annotated[int | None, typer.Option(help="People killed, as the claim says.")] = None,
    children: Annotated[
        int | None, typer.Option(help="Children among the killed, as the claim says.")
    ] = None,
    women: Annotated[
        int | None, typer.Option(help="Women among the killed, as the claim says.")
    ] = None,
    perpetrator: Annotated[
        str | None, typer.Option(help="Who carried out the attack, as the claim says.")
    ] = None,
    replace: ReplaceOpt = False,
) -> None:
    """Record the attack claim (or change it with --replace)."""
    workflow.set_claim(
        ws(),
        actor(),
        case,
        text=text,
        source=source,
        url=url,
        published=parse_date(date) if date else None,
        killed=killed,
        children=children,
        women=women,
        perpetrator=perpetrator,
        replace=replace,
    )


@denial_app.command("set")
def denial_set(
    case: CaseArg,
    by: Annotated[
        str | None, typer.Option(help="Who issued the denial. Required unless --replace.")
    ] = None,
    date: Annotated[
        str | None,
        typer.Option(help="Day of the denial (YYYY-MM-DD). Required unless --replace."),
    ] = None,
    text: Annotated[
        str | None,
        typer.Option(help="What the denial says, in its words. Required unless --replace."),
    ] = None,
    url: Annotated[str | None, typer.Option(help="Where the denial was published.")] = None,
    footage: Annotated[
        list[Path] | None,
        typer.Option(help="Footage offered with the denial (repeat for several files)."),
    ] = None,
    replace: ReplaceOpt = False,
) -> None:
    """Record the official denial (or change it with --replace), with its footage."""
    if footage:  # every file checked before the denial is recorded: a typo stores nothing
        precheck_files(footage, None)
    workflow.set_denial(
        ws(),
        actor(),
        case,
        by=by,
        on=parse_date(date) if date else None,
        text=text,
        url=url,
        replace=replace,
    )
    if footage:
        add_with_progress(case, footage, None, LinkSpec("denial_footage"), ItemFacts())
