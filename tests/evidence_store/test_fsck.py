"""`check_store` (claimcheck fsck) finds every kind of tampering, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from cases import workflow
from cases.checks.gps_place import GpsPlaceCheck
from cases.ingest import LinkSpec, add_evidence
from cases.verification import run_verify
from evidence_store.custody import ALSO_LOGGED, logged_records
from evidence_store.db import init_workspace
from evidence_store.fsck import check_store


@pytest.fixture
def verified(tmp_path: Path, db_url, exif_dir: Path):
    """A case with a site, a GPS photo and one stored verify run with a gps_place finding."""
    ws = init_workspace(tmp_path / "ws", db_url)
    c = workflow.open_case(ws, "tester", title="Strike", incident_date=date(2008, 10, 22))
    workflow.add_site(ws, "tester", c.code, name="market", lat=43.46, lon=11.88, claimed=True)
    photo = exif_dir / "gps" / "DSCN0010.jpg"
    add_evidence(ws, "tester", c.code, [photo], kind="photo", links=[LinkSpec("supports_claim")])
    out = run_verify(ws, "tester", c.code, checks=[GpsPlaceCheck()])
    assert out.findings, "the gps_place check should produce a finding for a GPS photo"
    yield ws
    ws.dispose()


def _problems(ws) -> list[str]:
    return [str(p) for p in check_store(ws).problems]


def _sql(ws, statement: str) -> None:
    with ws.engine.begin() as conn:
        conn.execute(text(statement))


def test_clean_store_is_consistent(verified):
    report = check_store(verified)
    assert report.ok, report.problems
    assert report.blobs_checked == 1 and report.cases_checked == 1


def test_edited_finding_is_detected(verified):
    _sql(verified, "UPDATE findings SET verdict='consistent', detail='all fine'")
    assert any("finding F-" in p and "differs" in p for p in _problems(verified))


def test_deleted_finding_is_detected(verified):
    _sql(verified, "DELETE FROM findings")
    problems = _problems(verified)
    assert any("finding F-" in p and "missing" in p for p in problems)
    assert any("verify run" in p and "finding(s)" in p for p in problems)


def test_edited_or_inserted_verify_run_is_detected(verified):
    _sql(verified, "UPDATE verify_runs SET actor='mallory'")
    assert any("verify run" in p and "differs" in p for p in _problems(verified))
    _sql(
        verified,
        "INSERT INTO verify_runs (case_id, started_at, finished_at, tool_version, actor) "
        "SELECT case_id, started_at, finished_at, tool_version, actor FROM verify_runs",
    )
    assert any("no custody event" in p for p in _problems(verified))


def test_edited_item_claim_and_event_rows_are_detected(verified):
    _sql(verified, "UPDATE evidence_items SET filename='other.jpg'")
    _sql(verified, "UPDATE sites SET lat=10")
    _sql(verified, "UPDATE custody_events SET actor='mallory' WHERE seq=2")
    problems = _problems(verified)
    assert any("item E-" in p and "differs" in p for p in problems)
    assert any("site " in p and "differs" in p for p in problems)
    assert any("event 2" in p and "edited" in p for p in problems)


def test_deleted_last_event_is_detected(verified):
    _sql(verified, "DELETE FROM custody_events WHERE seq=(SELECT MAX(seq) FROM custody_events)")
    assert any("events deleted from the end" in p for p in _problems(verified))


def test_modified_and_missing_blobs_are_detected(verified):
    with verified.reading() as s:
        sha = s.execute(text("SELECT sha256 FROM blobs")).scalar_one()
    path = verified.blobs.path(sha)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    assert any("hashes to" in p for p in _problems(verified))
    path.unlink()
    assert any(sha in p and "missing" in p for p in _problems(verified))


def test_rows_logged_by_an_event_include_its_further_rows_and_removals():
    details = {
        ALSO_LOGGED: [
            {"type": "site", "id": "C-0001/old", "hash": None},
            {"type": "link", "id": "E-000001/site_reference/new", "hash": "ab"},
            {"type": "", "id": "ignored"},  # malformed entries log nothing
            "not an entry",
        ]
    }
    assert logged_records("site", "C-0001/new", "cd", details) == [
        (("site", "C-0001/new"), "cd"),
        (("site", "C-0001/old"), None),
        (("link", "E-000001/site_reference/new"), "ab"),
    ]
    assert logged_records(None, None, None, ["not", "a", "mapping"]) == []


def test_a_site_deleted_without_a_removal_event_is_still_detected(verified):
    # Only a logged removal makes a row's absence legitimate.
    _sql(verified, "DELETE FROM sites")
    assert any("site" in p and "missing" in p for p in _problems(verified))
