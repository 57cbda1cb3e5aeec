"""Arguments and options that several commands take, so they read the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
CaseArg = Annotated[str, typer.Argument(help="The case id, e.g. C-0001.", show_default=False)]
SiteArg = Annotated[str, typer.Argument(help="The site's name, as registered.")]
ItemArg = Annotated[str, typer.Argument(help="The evidence item id, e.g. E-000001.")]
