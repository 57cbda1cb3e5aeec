"""Blob store atomicity and dedup, custody chain tamper detection, migrations."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from cases import workflow
from cases.ingest import LinkSpec, add_evidence
from evidence_store.custody import verify_chain, verify_records
from evidence_store.db import init_workspace, open_workspace
from evidence_store.errors import (
    SchemaTooNewError,
    SourceFileError,
    StoreUnavailableError,
    WorkspaceExistsError,
    WorkspaceMissingError,
)
from evidence_store.migrate import current_revision, head_revision


@pytest.fixture
def ws(tmp_path: Path, db_url):
    w = init_workspace(tmp_path / "ws", db_url)
    yield w
    w.dispose()


def test_blob_is_deduplicated_and_read_only(ws, tmp_path: Path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"evidence" * 100)
    first = ws.blobs.put_file(src)
    second = ws.blobs.put_file(src)
    assert first.created and not second.created
    stored = ws.blobs.path(first.sha256)
    assert stored.read_bytes() == src.read_bytes()
    assert not stored.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert ws.blobs.verify(first.sha256) is None
    assert ws.blobs.orphans() == []


def test_empty_and_missing_files_are_refused(ws, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(SourceFileError):
        ws.blobs.put_file(empty)
    with pytest.raises(SourceFileError):
        ws.blobs.put_file(tmp_path / "nope")
    assert list(ws.blobs.iter_stored()) == []


def test_modified_blob_is_detected(ws, tmp_path: Path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 1000)
    put = ws.blobs.put_file(src)
    path = ws.blobs.path(put.sha256)
    os.chmod(path, 0o644)
    path.write_bytes(b"y" * 1000)
    assert "hashes to" in (ws.blobs.verify(put.sha256) or "")


def _case_with_item(ws, tmp_path: Path):
    c = workflow.open_case(ws, "tester", title="T", incident_date=workflow.date(2019, 7, 22))
    f = tmp_path / "s.txt"
    f.write_text("a document", encoding="utf-8")
    add_evidence(ws, "tester", c.code, [f], kind="document", links=[LinkSpec("other")])
    return c


def _problems(ws, code):
    with ws.reading() as s:
        case = workflow.load_case(s, code)
        recs = [case, *case.items, *[lk for i in case.items for lk in i.links]]
        return verify_chain(s, case) + verify_records(s, case, recs)


def test_chain_is_intact_after_normal_use(ws, tmp_path: Path):
    c = _case_with_item(ws, tmp_path)
    assert _problems(ws, c.code) == []


def test_edited_event_is_detected(ws, tmp_path: Path):
    c = _case_with_item(ws, tmp_path)
    with ws.engine.begin() as conn:
        conn.execute(text("UPDATE custody_events SET actor='mallory' WHERE seq=1"))
    assert any("edited" in str(p) for p in _problems(ws, c.code))


def test_deleted_event_is_detected(ws, tmp_path: Path):
    c = _case_with_item(ws, tmp_path)
    with ws.engine.begin() as conn:
        conn.execute(text("DELETE FROM custody_events WHERE seq=2"))
    assert _problems(ws, c.code)


def test_edited_item_row_is_detected(ws, tmp_path: Path):
    c = _case_with_item(ws, tmp_path)
    with ws.engine.begin() as conn:
        conn.execute(text("UPDATE evidence_items SET source='forged'"))
    assert any("differs" in str(p) for p in _problems(ws, c.code))


def test_migrations_on_empty_and_existing_workspace(tmp_path: Path, db_url):
    home = tmp_path / "ws"
    with pytest.raises(WorkspaceMissingError):
        open_workspace(home, db_url)
    ws = init_workspace(home, db_url)
    assert current_revision(ws.engine) == head_revision()
    ws.dispose()
    ws = open_workspace(home, db_url)
    assert current_revision(ws.engine) == head_revision()
    with ws.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num='9999'"))
    ws.dispose()
    with pytest.raises(SchemaTooNewError):
        open_workspace(home, db_url)


def test_a_workspace_at_schema_0001_upgrades_and_keeps_its_records(tmp_path: Path, db_url):
    """A workspace written before item attributions existed opens, migrates, verifies, and
    can record a second witness of an existing statement."""
    from alembic import command

    from cases.ingest import add_statement
    from evidence_store.fsck import check_store
    from evidence_store.migrate import _config

    home = tmp_path / "ws"
    ws = init_workspace(home, db_url)
    c = _case_with_item(ws, tmp_path)
    first = add_statement(ws, "tester", c.code, witness="W1", text="Same words.")
    command.downgrade(_config(ws.engine), "0001")
    assert current_revision(ws.engine) == "0001"
    ws.dispose()

    ws = open_workspace(home, db_url)
    try:
        assert current_revision(ws.engine) == head_revision() != "0001"
        assert check_store(ws).ok, check_store(ws).problems
        second = add_statement(ws, "tester", c.code, witness="W2", text="Same words.")
        assert second.item == first.item and second.new_attribution is not None
        assert [a.witness for a in workflow.get_item(ws, first.item).attributions] == ["W2"]
        assert check_store(ws).ok, check_store(ws).problems
    finally:
        ws.dispose()


def test_collection_time_with_a_zone_is_stored_as_that_instant(ws, tmp_path: Path):
    """An aware time off UTC (the demo's 2017 photo, collected at 11:12+03:00) was stored on
    SQLite as its wall clock and read back as 11:12 UTC: three hours off, and fsck failed."""
    from datetime import datetime, timedelta, timezone

    from cases.ingest import ItemFacts

    c = workflow.open_case(ws, "tester", title="T", incident_date=workflow.date(2019, 7, 22))
    f = tmp_path / "s.txt"
    f.write_text("a document", encoding="utf-8")
    when = datetime(2017, 5, 9, 11, 12, tzinfo=timezone(timedelta(hours=3)))
    add_evidence(
        ws,
        "tester",
        c.code,
        [f],
        kind="document",
        links=[LinkSpec("other")],
        facts=ItemFacts(collected_at=when),
    )
    with ws.reading() as s:
        item = workflow.load_case(s, c.code).items[0]
        assert item.canonical()["collected_at"] == "2017-05-09T08:12:00.000000Z"
    assert _problems(ws, c.code) == []


def test_a_sqlite_workspace_refuses_a_database_url(tmp_path: Path):
    """A CLAIMCHECK_DB left set for a shared store sent a SQLite workspace's commands to that
    database: its cases listed, new rows written beside originals stored in this folder.
    Refused before any connection is attempted (this URL names no server)."""
    init_workspace(tmp_path / "ws").dispose()
    with pytest.raises(StoreUnavailableError, match="own SQLite file"):
        open_workspace(tmp_path / "ws", "postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_init_refuses_a_database_another_workspace_uses(tmp_path: Path, db_url):
    """A second folder initialised on the same PostgreSQL database showed the first one's
    cases without any of their originals."""
    if db_url is None:
        pytest.skip("each SQLite workspace has a database file of its own")
    init_workspace(tmp_path / "first", db_url).dispose()
    with pytest.raises(WorkspaceExistsError, match="already holds"):
        init_workspace(tmp_path / "second", db_url)
    assert not (tmp_path / "second").exists()


@pytest.mark.parametrize("content", ["[]", '"ws"', "5"])
def test_a_workspace_file_holding_no_object_is_a_store_error(tmp_path: Path, content):
    """A workspace.json holding valid JSON of another shape was an internal error (exit 70)."""
    init_workspace(tmp_path / "ws").dispose()
    (tmp_path / "ws" / "workspace.json").write_text(content, encoding="utf-8")
    with pytest.raises(StoreUnavailableError, match="no workspace description"):
        open_workspace(tmp_path / "ws")
