"""Findings say whose evidence they are about, and what changed after the verify run they
come from (items added later were not examined): in the report and in `claimcheck findings`."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cases import workflow
from cases.checks.base import CheckContext, FindingDraft
from cases.ingest import LinkSpec, add_evidence
from cases.report.data import build_report
from cases.report.markdown import render_markdown
from cases.report.present import derived_reader
from cases.verification import run_verify
from evidence_store.db import Workspace, init_workspace
from evidence_store.errors import StoreUnavailableError
from tests.cases.cli_helpers import run_cli
from verify.verdict import Verdict


def _photo(path: Path, seed: int) -> Path:
    rgb = (np.random.default_rng(seed).random((48, 64, 3)) * 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


class EveryItemCheck:
    """A mismatch on every item: enough to see how findings are labelled."""

    name = "every_item"
    title = "Every item"

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        return [
            FindingDraft(self.name, Verdict.MISMATCH, (item.code,), {}, f"{item.filename} odd")
            for item in ctx.case.items
        ]


def _case(tmp_path: Path) -> tuple[Workspace, Path, str]:
    home = tmp_path / "ws"
    ws = init_workspace(home)
    code = workflow.open_case(ws, "t", title="t", incident_date=date(2019, 7, 22)).code
    add_evidence(
        ws,
        "t",
        code,
        [_photo(tmp_path / "claim.jpg", 1)],
        kind="photo",
        links=[LinkSpec("supports_claim")],
    )
    add_evidence(
        ws,
        "t",
        code,
        [_photo(tmp_path / "denial.jpg", 2)],
        kind="photo",
        links=[LinkSpec("denial_footage")],
    )
    run_verify(ws, "t", code, checks=[EveryItemCheck()])
    return ws, home, code


def test_findings_name_the_side_of_their_item(tmp_path: Path):
    ws, home, code = _case(tmp_path)
    report = build_report(ws, code)
    [group] = report["findings"]["groups"]
    sides = {f["items"][0]["filename"]: (f["side"], f["side_label"]) for f in group["findings"]}
    assert sides == {
        "claim.jpg": ("claim", "claim evidence"),
        "denial.jpg": ("denial", "denial footage"),
    }
    by_side = report["findings"]["counts_by_side"]
    assert by_side["claim"]["counts"]["mismatch"] == 1
    assert by_side["denial"]["counts"]["mismatch"] == 1
    text = render_markdown(report, derived_reader(ws), tmp_path / "f", "f")
    assert "on denial footage E-000002: denial.jpg odd" in text
    assert "By side: claim evidence: mismatch 1 · denial footage: mismatch 1" in text
    found = run_cli(home, None, "findings", code)
    assert found.returncode == 0, found.stderr
    assert "[denial footage E-000002]: denial.jpg odd" in found.stdout
    assert "[claim evidence E-000001]: claim.jpg odd" in found.stdout
    assert found.stderr == ""  # nothing changed since the run


def test_items_added_after_the_run_are_flagged_not_examined(tmp_path: Path):
    ws, home, code = _case(tmp_path)
    report = build_report(ws, code)
    assert report["verify_run"]["changes_note"] is None
    add_evidence(
        ws,
        "t",
        code,
        [_photo(tmp_path / "late.jpg", 3)],
        kind="photo",
        links=[LinkSpec("supports_claim")],
    )
    workflow.add_site(ws, "t", code, name="market", lat=35.0, lon=36.0, claimed=True)
    report = build_report(ws, code)
    changes = report["verify_run"]["changes_since"]
    assert changes["items_added"] == [{"id": "E-000003", "filename": "late.jpg"}]
    assert changes["sites_added"] == ["market"]
    assert not changes["claim_changed"] and not changes["denial_changed"]
    note = report["verify_run"]["changes_note"]
    assert "1 item(s) added (E-000003) were not examined" in note and "'market'" in note
    assert "Not examined:" in render_markdown(report, derived_reader(ws), tmp_path / "f", "f")
    shown = run_cli(home, None, "findings", code)
    assert "were not examined" in shown.stderr and "were not examined" not in shown.stdout
    as_json = json.loads(run_cli(home, None, "findings", code, "--json").stdout)
    assert as_json["changes_since_run"]["items_added"][0]["id"] == "E-000003"
    # A new run examines them: nothing is flagged any more.
    run_verify(ws, "t", code, checks=[EveryItemCheck()])
    assert build_report(ws, code)["verify_run"]["changes_note"] is None


def test_an_item_added_while_verify_runs_is_flagged_not_examined(tmp_path: Path):
    """The run's start was stamped when its findings were written: an item added while the
    checks ran was in none of them, yet the report said nothing had changed since the run."""
    ws, _home, code = _case(tmp_path)

    class AddsWhileRunning(EveryItemCheck):
        def run(self, ctx: CheckContext) -> list[FindingDraft]:
            drafts = super().run(ctx)
            add_evidence(
                ws, "t", code, [_photo(tmp_path / "mid.jpg", 4)], kind="photo",
                links=[LinkSpec("denial_footage")],
            )  # fmt: skip
            return drafts

    run_verify(ws, "t", code, checks=[AddsWhileRunning()])
    changes = build_report(ws, code)["verify_run"]["changes_since"]
    assert changes["items_added"] == [{"id": "E-000003", "filename": "mid.jpg"}]


def test_verify_on_a_read_only_workspace_is_refused_before_any_check_runs(tmp_path):
    # The findings are written at the end of a run: on a read-only workspace the checks would
    # compute for minutes and then fail. Refused up front, nothing examined.
    ws, _, code = _case(tmp_path)
    ran: list[str] = []

    class Recording(EveryItemCheck):
        def run(self, ctx: CheckContext) -> list[FindingDraft]:
            ran.append(ctx.case.code)
            return super().run(ctx)

    ws.read_only = True
    with pytest.raises(StoreUnavailableError, match="read-only"):
        run_verify(ws, "t", code, checks=[Recording()])
    assert ran == []
