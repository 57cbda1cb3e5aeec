"""`claimcheck search`: stored items and video moments showing the same picture as a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cases.cli.context import ws
from cases.cli.options import JsonOpt
from cases.cli.output import emit
from cases.cli.progress import RichProgress
from cases.errors import InputError

if TYPE_CHECKING:
    from cases.search import SearchResult


def search(
    files: Annotated[list[Path], typer.Argument(help="Photos or videos to look for.")],
    case: Annotated[str | None, typer.Option("--case", help="Search one case only.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find stored items and video moments that show the same picture as each photo or video."""
    from cases.search import search_files

    # A file that turns out unreadable is named on stderr after the others' results, which an
    # investigator searching many files should not lose to it; the exit status still says so.
    refused: list[InputError] = []
    with RichProgress() as progress:
        task = progress.task("searching", len(files))
        results = search_files(
            ws(), files, case=case, on_progress=task.advance, on_refused=refused.append
        )
    if as_json:
        emit({"results": [r.as_dict() for r in results]})
    else:
        _print_results(results)
    for error in refused:
        print(f"claimcheck: error: {error}", file=sys.stderr)
    if refused:
        raise typer.Exit(1)


def _print_results(results: list[SearchResult]) -> None:
    for r in results:
        print(f"{r.query}: {len(r.matches)} match(es)")
        for m in r.matches:
            at = f" at {m.time_s:.2f} s" if m.time_s is not None else ""
            d = m.distances
            how = "  confirmed by pixel alignment" if m.alignment is not None else ""
            print(
                f"  {m.item} ({m.case}){at}  PDQ {d['pdq']}  pHash {d['phash']}  dHash {d['dhash']}"
                f"{'  mirrored' if m.mirrored else ''}{how}"
            )
