"""`claimcheck verify` runs the checks; `claimcheck findings` shows what the latest run found."""

from __future__ import annotations

import sys

from cases.cli.context import actor, ws
from cases.cli.options import CaseArg, JsonOpt
from cases.cli.output import emit
from cases.cli.progress import RichProgress
from cases.freshness import case_sides_and_changes, side_label
from cases.verification import current_findings, run_verify
from evidence_store.timeutil import iso_utc


def verify(case: CaseArg, as_json: JsonOpt = False) -> None:
    """Run every registered check and store the findings."""
    with RichProgress() as progress:
        out = run_verify(ws(), actor(), case, progress=progress)
    for d in out.damaged:
        print(f"claimcheck: warning: {d.detail}", file=sys.stderr)
    findings(out.case, as_json=as_json)


def findings(case: CaseArg, as_json: JsonOpt = False) -> None:
    """Show the latest verify run's findings; artefacts are the pictures behind them."""
    rows = current_findings(ws(), case)
    sides, changes = case_sides_and_changes(ws(), case)
    data = [
        {
            "id": f.code,
            "check": f.check,
            "verdict": f.verdict,
            "side": sides.get(f.items[0]) if f.items else None,
            "items": f.items,
            "values": f.values,
            "detail": f.detail,
            "created_at": iso_utc(f.created_at),
            "tool_version": f.tool_version,
            "artefacts": [str(ws().derived.resolve(a)) for a in f.artefacts or []],
        }
        for f in rows
    ]
    note = changes.describe() if changes is not None else ""
    if as_json:
        emit(
            {
                "case": case.upper(),
                "findings": data,
                "changes_since_run": changes.as_dict() if changes is not None else None,
            }
        )
        return
    if not data and changes is None:
        code = case.upper()
        print(f"no findings: verify has not run on {code} (claimcheck verify {code})")
    elif not data:
        # Said apart from "never verified": telling the investigator to run verify again,
        # when it has run, sends them round in a circle.
        print("no findings: the latest verify run found nothing in the case to examine")
    for row in rows:
        # The side and item id first: two items may share a file name, and a mismatch on
        # denial footage argues the opposite of one on claim evidence.
        side = sides.get(row.items[0]) if row.items else None
        about = f"{side_label(side)} {row.items[0]}" if side else ""
        print(f"{row.code}  {row.check}  {row.verdict}  [{about}]: {row.detail}")
    if note:
        print(note, file=sys.stderr)
