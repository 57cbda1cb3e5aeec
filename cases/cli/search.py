"""`claimcheck search`: stored items and video moments showing the same picture as a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cases.cli.context import ws
from cases.cli.options import JsonOpt
from cases.cli.output import emit
from cases.cli.progress import RichProgress


def search(
    files: Annotated[list[Path], typer.Argument(help="Photos or videos to look for.")],
    case: Annotated[str | None, typer.Option("--case", help="Search one case only.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find stored items and video moments that show the same picture as each photo or video."""
    from cases.search import search_files

    with RichProgress() as progress:
        task = progress.task("searching", len(files))
        results = search_files(ws(), files, case=case, on_progress=task.advance)
    if as_json:
        emit({"results": [r.as_dict() for r in results]})
        return
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
