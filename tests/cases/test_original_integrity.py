"""verify re-hashes every original it reads: an original altered or lost on disk gives each
check that would read it an inconclusive finding naming the item and its full SHA-256, while the
other items are verified as usual; the evidence itself is left exactly as it was found."""

from __future__ import annotations

import json
import os
import stat
from datetime import date
from pathlib import Path

import pytest

from cases import workflow
from cases.checks import CHECKS
from cases.ingest import LinkSpec, add_evidence, add_statement
from cases.originals import recorded_problems, relabel
from cases.report.data import build_report
from cases.report.html import render_html
from cases.report.markdown import render_markdown
from cases.report.present import derived_reader
from cases.verification import run_verify
from cases.workflow import get_item
from evidence_store.db import Workspace, init_workspace
from tests.cases.test_metadata_checks import photo
from verify.verdict import Verdict


def _alter(ws: Workspace, sha256: str) -> bytes:
    """Flip one byte of a stored original (as a failing disk or a tamperer would)."""
    path = ws.blobs.path(sha256)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return bytes(data)


@pytest.fixture()
def damaged(tmp_path: Path) -> tuple[Workspace, dict[str, tuple[str, str]]]:
    """A case with three claim photos: one intact, one altered on disk, one deleted."""
    ws = init_workspace(tmp_path / "ws")
    code = workflow.open_case(ws, "t", title="t", incident_date=date(2019, 7, 22)).code
    workflow.add_site(ws, "t", code, name="market", lat=35.64, lon=36.67, claimed=True)
    items = {}
    for n, name in enumerate(("intact", "altered", "missing")):
        path = photo(tmp_path / f"{name}.jpg", size=(200 + 8 * n, 150), taken="2019:07:22 10:00:00")
        (result,) = add_evidence(
            ws, "t", code, [path], kind="photo", links=[LinkSpec("supports_claim")]
        )
        items[name] = (result.item, result.sha256)
    _alter(ws, items["altered"][1])
    ws.blobs.path(items["missing"][1]).unlink()
    return ws, items


def test_damaged_originals_are_inconclusive_for_every_check_and_the_rest_is_verified(damaged):
    ws, items = damaged
    altered_bytes = ws.blobs.path(items["altered"][1]).read_bytes()
    out = run_verify(ws, "t", "C-0001")  # a missing original no longer aborts the run
    by_item: dict[str, list] = {}
    for f in out.findings:
        for code in f.items:
            by_item.setdefault(code, []).append(f)
    for name in ("altered", "missing"):
        code, sha = items[name]
        found = by_item[code]
        # Every check reads a claim photo: each says once why it could not, and nothing else.
        assert sorted(f.check for f in found) == sorted(c.name for c in CHECKS)
        for f in found:
            assert f.verdict == str(Verdict.INCONCLUSIVE), (f.check, f.detail)
            assert f"original {code} " in f.detail and sha in f.detail, f.detail
            assert "claimcheck fsck" in f.detail
            assert f.values["sha256"] == sha
            assert f.values["original"] == name
            assert str(ws.home) not in f.detail
    assert {d.item for d in out.damaged} == {items["altered"][0], items["missing"][0]}
    # The intact item is verified as usual: its capture time is read and judged.
    (capture,) = [f for f in by_item[items["intact"][0]] if f.check == "capture_time"]
    assert "no longer matches" not in capture.detail
    assert capture.values.get("capture")
    # Evidence is never modified or deleted by the tool.
    assert ws.blobs.path(items["altered"][1]).read_bytes() == altered_bytes
    assert not ws.blobs.path(items["missing"][1]).exists()


def test_each_original_is_hashed_once_per_run(damaged, monkeypatch):
    ws, items = damaged
    calls: list[str] = []
    original = type(ws.blobs).verify

    def counting(self, sha256: str):
        calls.append(sha256)
        return original(self, sha256)

    monkeypatch.setattr(type(ws.blobs), "verify", counting)
    run_verify(ws, "t", "C-0001")
    assert sorted(calls) == sorted(sha for _, sha in items.values())


def test_report_integrity_covers_originals(damaged, tmp_path: Path):
    ws, items = damaged
    report = build_report(ws, "C-0001")
    originals = report["custody"]["originals"]
    assert originals["checked"] == 3
    problems = {p["item"]: p for p in originals["problems"]}
    assert set(problems) == {items["altered"][0], items["missing"][0]}
    assert problems[items["altered"][0]]["sha256"] == items["altered"][1]
    assert report["custody"]["verified_at_report_time"] is False
    html = render_html(report, derived_reader(ws))
    markdown = render_markdown(report, derived_reader(ws), tmp_path / "files", "files")
    for text in (html, markdown):
        assert "2 no longer match their SHA-256" in text
        assert f"{items['altered'][0]} altered" in text and f"{items['missing'][0]} missing" in text
        assert items["missing"][1] in text
    assert "\n- **Originals:** 3 re-hashed when this report was made: **2 no longer" in markdown


def test_report_says_every_original_was_rehashed(tmp_path: Path):
    ws = init_workspace(tmp_path / "ws")
    code = workflow.open_case(ws, "t", title="t", incident_date=date(2019, 7, 22)).code
    add_evidence(ws, "t", code, [photo(tmp_path / "a.jpg")], kind="photo")
    report = build_report(ws, code)
    assert report["custody"]["originals"] == {"checked": 1, "problems": []}
    html = render_html(report, derived_reader(ws))
    assert "1 re-hashed when this report was made: all match their SHA-256" in html


def test_relabel_replaces_blob_paths_and_clipped_hashes():
    path = Path("/ws/blobs/ab") / ("cd" * 31)
    text = f"cannot open image {path.name}: [Errno 2] No such file: '{path}'"
    assert relabel(text, path, "E-000001") == (
        "cannot open image E-000001: [Errno 2] No such file: 'E-000001'"
    )


def _mentions_blob(text: str, ws: Workspace, sha256: str) -> bool:
    """Whether `text` shows an internal blob path or the clipped hash that is its file name."""
    clipped = sha256[2:14]
    return str(ws.home) in text or clipped in text.replace(sha256, "")


def test_messages_name_items_never_blob_paths_or_clipped_hashes(tmp_path: Path, sites_dir: Path):
    ws = init_workspace(tmp_path / "ws")
    code = workflow.open_case(ws, "t", title="t", incident_date=date(2019, 7, 22)).code
    real = (sites_dir / "ettlingen_castle" / "0000.jpg").read_bytes()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(real[:200] + os.urandom(3000))
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"\0\0\0\x18ftypmp42" + os.urandom(5000))
    photo_item = add_evidence(
        ws, "t", code, [broken], kind="photo", links=[LinkSpec("supports_claim")]
    )[0]
    video_item = add_evidence(
        ws, "t", code, [video], kind="video", links=[LinkSpec("supports_claim")]
    )[0]
    # What ingest recorded (shown by `evidence show`) names the file as the investigator did.
    for added in (photo_item, video_item):
        problems = " ".join((get_item(ws, added.item).file_metadata or {})["problems"])
        assert problems, added
        assert not _mentions_blob(problems, ws, added.sha256), problems
    photo_problems = " ".join((get_item(ws, photo_item.item).file_metadata or {})["problems"])
    assert "broken.jpg" in photo_problems
    # What verify records names the item.
    out = run_verify(ws, "t", code)
    texts = [f.detail + " " + json.dumps(f.values) for f in out.findings]
    assert any(photo_item.item in t and "cannot" in t for t in texts), texts
    for text in texts:
        for added in (photo_item, video_item):
            assert not _mentions_blob(text, ws, added.sha256), text


def test_problems_recorded_by_older_ingests_are_shown_with_the_item_code():
    sha = "48313b38ce148665c32e5431c5c8dc99677f020fef5acce1951318bcf43cca52"
    recorded = [
        f"cannot decode image {sha[2:]}: broken data",
        f"keyframes: cannot open video: '/old/home/blobs/48/{sha[2:]}'",
        f"copy of SHA-256 {sha}",
    ]
    assert recorded_problems(recorded, sha, "E-000025") == [
        "cannot decode image E-000025: broken data",
        "keyframes: cannot open video: 'E-000025'",
        f"copy of SHA-256 {sha}",
    ]


def test_report_does_not_show_an_altered_statement_as_the_witness_words(tmp_path: Path):
    ws = init_workspace(tmp_path / "ws")
    code = workflow.open_case(ws, "t", title="t", incident_date=date(2019, 7, 22)).code
    added = add_statement(ws, "t", code, witness="W", text="I saw the market burn.")
    _alter(ws, added.sha256)
    (statement,) = build_report(ws, code)["statements"]
    assert statement["text"] is None
    assert "no longer matches its SHA-256" in statement["problem"]
    assert added.sha256 in statement["problem"]
