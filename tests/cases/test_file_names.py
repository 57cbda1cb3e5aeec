"""File names that are not UTF-8 (Windows, legacy Arabic code pages) are stored as displayable
text, the file still read by its real path; text that cannot be stored is refused before any
byte is stored; and fsck warns about blobs no item references instead of calling the store
consistent."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from cases.errors import InputError
from cases.ingest import ItemFacts, add_evidence, add_statement
from cases.workflow import get_item, open_case
from evidence_store.db import init_workspace
from evidence_store.fsck import check_store
from tests.cases.cli_helpers import run_cli
from tests.cases.test_metadata_checks import photo

# `printf 'caf\xe9\xff.jpg'`: Latin-1 é, then a byte no encoding of text starts with.
LATIN1_NAME = os.fsdecode(b"caf\xe9\xff.jpg")


def test_cli_batch_with_a_non_utf8_name_stores_every_file(tmp_path: Path):
    ws = init_workspace(tmp_path / "ws")
    open_case(ws, "t", title="t", incident_date=date(2019, 7, 22))
    first = photo(tmp_path / "first.jpg")
    odd = photo(tmp_path / LATIN1_NAME, size=(300, 200))
    out = run_cli(
        ws.home, None, "evidence", "add", "C-0001", str(first), str(odd), "--kind", "photo"
    )
    assert out.returncode == 0, out.stderr
    assert "added first.jpg as E-000001" in out.stderr
    assert "added caf\\xe9\\xff.jpg as E-000002" in out.stderr
    assert get_item(ws, "E-000002").filename == "caf\\xe9\\xff.jpg"
    statement = tmp_path / os.fsdecode(b"st\xe9.txt")
    statement.write_text("I saw the market burn.\n", encoding="utf-8")
    out = run_cli(
        ws.home, None, "statement", "add", "C-0001", "--witness", "W", "--file", str(statement)
    )
    assert out.returncode == 0, out.stderr
    assert get_item(ws, "E-000003").filename == "st\\xe9.txt"
    report = check_store(ws)
    assert report.ok and report.unreferenced_blobs == [], report


def test_text_that_cannot_be_stored_is_refused_before_anything_is_stored(tmp_path: Path):
    ws = init_workspace(tmp_path / "ws")
    code = open_case(ws, "t", title="t", incident_date=date(2019, 7, 22)).code
    bad = ItemFacts(source=os.fsdecode(b"Civil Defence \xe9"))
    with pytest.raises(InputError, match="not valid UTF-8"):
        add_evidence(ws, "t", code, [photo(tmp_path / "a.jpg")], kind="photo", facts=bad)
    with pytest.raises(InputError, match="not valid UTF-8"):
        add_statement(ws, "t", code, witness=os.fsdecode(b"W\xe9"), text="I saw it.")
    assert list(ws.blobs.iter_stored()) == []


def test_the_real_file_is_read_and_the_name_kept_displayable(tmp_path: Path):
    ws = init_workspace(tmp_path / "ws")
    code = open_case(ws, "t", title="t", incident_date=date(2019, 7, 22)).code
    path = photo(tmp_path / LATIN1_NAME, taken="2019:07:22 10:00:00")
    (result,) = add_evidence(ws, "t", code, [path], kind="photo")
    item = get_item(ws, result.item)
    assert item.filename == "caf\\xe9\\xff.jpg"
    assert (item.file_metadata or {})["capture"]  # the bytes were read and analysed
    assert item.size == path.stat().st_size


def test_fsck_warns_about_blobs_no_item_references_and_keeps_them(tmp_path: Path):
    ws = init_workspace(tmp_path / "ws")
    stray = ws.blobs.put_file(photo(tmp_path / "stray.jpg"))  # as a failed ingest left it
    report = check_store(ws)
    assert report.ok
    assert report.unreferenced_blobs == [stray.sha256]
    assert ws.blobs.exists(stray.sha256)
    out = run_cli(ws.home, None, "fsck")
    assert out.returncode == 0
    assert f"warning: blob {stray.sha256} is stored but no item references it" in out.stdout
    assert "1 unreferenced blob(s)" in out.stderr
    assert ws.blobs.exists(stray.sha256)
