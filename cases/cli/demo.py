"""`claimcheck demo`: the example case, built in a fresh workspace, verified and reported."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cases.cli.context import _state, actor
from cases.cli.findings import findings
from cases.cli.progress import RichProgress
from evidence_store.db import init_workspace


def demo(
    dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Folder for the demo workspace; default a new temp folder."),
    ] = None,
) -> None:
    """Build the example case in a fresh workspace and verify it."""
    import tempfile

    from cases.demo.story import build_demo_case

    root = dir or Path(tempfile.mkdtemp(prefix="claimcheck-demo-"))
    home = root / "workspace"
    w = init_workspace(home)
    _state["ws"] = w
    with RichProgress() as progress:
        d = build_demo_case(w, actor(), root / "assets", progress=progress)
    print(f"demo case {d.case} in workspace {home}: {len(d.outcome.findings)} finding(s)")
    findings(d.case)
    from cases.report.output import write_report

    path = write_report(w, d.case, "html", root / f"{d.case}-report.html")
    print(f"report: {path}")
