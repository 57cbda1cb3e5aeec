"""Match pictures are drawn once: a re-run with nothing new reuses them, anything that changes
what a picture shows (its match, a damaged picture or record) draws it again, and a picture of an
original that no longer matches its SHA-256 is never reused."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cases.checks.match_pictures as match_pictures
from cases import workflow
from cases.checks.base import CheckContext, NoProgress
from cases.checks.footage_frames import FrameImages, frame_features
from cases.checks.match_codec import decode_match, encode_match
from cases.checks.reference_matches import MATCH_NAMESPACE
from cases.checks.site_match import SiteMatchCheck
from cases.corrections import edit_site
from cases.ingest import LinkSpec, add_evidence
from cases.originals import OriginalsCheck
from cases.snapshot import snapshot_case
from cases.verification import run_verify
from evidence_store.db import Workspace, init_workspace
from evidence_store.models import Finding
from tests.verify.test_features import texture
from verify.geometry import PairMatch

ACTOR = "tester"


def _jpeg(gray: np.ndarray, path: Path) -> Path:
    buf = io.BytesIO()
    Image.fromarray(gray).convert("RGB").save(buf, "JPEG", quality=92)
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def case(tmp_path: Path) -> tuple[Workspace, str]:
    """A site with one generated reference photo and two footage photos cut from it."""
    scene = texture(7, (600, 800))
    ws = init_workspace(tmp_path / "ws")
    code = workflow.open_case(ws, ACTOR, title="t", incident_date=date(2019, 7, 22)).code
    workflow.add_site(ws, ACTOR, code, name="square", lat=35.0, lon=36.0, claimed=True)
    reference = _jpeg(scene, tmp_path / "reference.jpg")
    add_evidence(
        ws, ACTOR, code, [reference], kind="photo", links=[LinkSpec("site_reference", "square")]
    )
    footage = [
        _jpeg(scene[50:450, 100:650], tmp_path / "left.jpg"),
        _jpeg(scene[150:580, 250:780], tmp_path / "right.jpg"),
    ]
    add_evidence(ws, ACTOR, code, footage, kind="photo", links=[LinkSpec("denial_footage")])
    return ws, code


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Captions of the match pictures drawn (not reused), in order."""
    seen: list[str] = []
    real = match_pictures.draw_matches

    def counting(a, b, match, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs["caption"])
        return real(a, b, match, **kwargs)

    monkeypatch.setattr(match_pictures, "draw_matches", counting)
    return seen


def _site_findings(ws: Workspace, code: str) -> list[Finding]:
    out = run_verify(ws, ACTOR, code, checks=[SiteMatchCheck()])
    return [f for f in out.findings if f.check == "site_match"]


def _pictures(ws: Workspace, findings: Sequence[Finding]) -> dict[str, bytes]:
    return {a: ws.derived.resolve(a).read_bytes() for f in findings for a in f.artefacts}


def test_rerun_reuses_pictures_and_records_the_same(case, draws):
    ws, code = case
    first = _site_findings(ws, code)
    assert [f.values["matched_site"] for f in first] == ["square", "square"]
    assert len(draws) == 2
    pictures = _pictures(ws, first)
    assert len(pictures) == 2

    draws.clear()
    again = _site_findings(ws, code)
    assert draws == []
    assert [f.artefacts for f in again] == [f.artefacts for f in first]
    assert _pictures(ws, again) == pictures


def test_changed_match_damaged_picture_or_record_is_drawn_again(case, draws):
    ws, code = case
    first = _site_findings(ws, code)
    left, right = sorted(a for f in first for a in f.artefacts)
    before = _pictures(ws, first)

    # Other inlier points for one pair (same counts, so the same decision): that picture only.
    for path in (ws.derived.root / MATCH_NAMESPACE).rglob("*.npz"):
        match = decode_match(path.read_bytes())
        assert match is not None
        if match.inliers:
            moved = PairMatch(
                match.inliers,
                match.tentative,
                match.model,
                match.points_a + 3.0,
                match.points_b,
                match.size_a,
                match.size_b,
            )
            path.write_bytes(encode_match(moved))
            break
    draws.clear()
    again = _site_findings(ws, code)
    assert len(draws) == 1
    changed = [a for a in (left, right) if _pictures(ws, again)[a] != before[a]]
    assert len(changed) == 1

    # A damaged picture, a damaged record, a missing record: each drawn again.
    ws.derived.resolve(left).write_bytes(b"not a jpeg")
    record = ws.derived.resolve(right.replace("matches/", "matches_drawn/", 1))
    record.write_bytes(b"{")
    draws.clear()
    _site_findings(ws, code)
    assert len(draws) == 2
    record.unlink()
    draws.clear()
    _site_findings(ws, code)
    assert len(draws) == 1
    draws.clear()
    _site_findings(ws, code)
    assert draws == []


def test_picture_of_an_original_that_no_longer_matches_is_not_reused(case, draws):
    ws, code = case
    first = _site_findings(ws, code)
    with ws.reading() as session:
        snapshot = snapshot_case(ws, workflow.load_case(session, code))
    reference = next(i for i in snapshot.items if i.reference_of)
    footage = next(i for i in snapshot.items if not i.reference_of)
    ctx = CheckContext(ws, snapshot, NoProgress(), lambda: [], OriginalsCheck(ws.blobs))
    [a], [b] = frame_features(ctx, footage), frame_features(ctx, reference)
    cached = (ws.derived.root / MATCH_NAMESPACE).rglob(f"*{reference.sha256}*.npz")
    match = decode_match(next(p for p in cached if footage.sha256 in str(p)).read_bytes())
    assert match is not None
    caption = f"{footage.code} vs {reference.code} (square)"
    name = f"square-{reference.code}.jpg"
    images = FrameImages()
    draws.clear()
    kept = match_pictures.match_picture(ctx, images, a, b, match, caption, name)
    assert kept is not None and draws == []  # intact: the stored picture is reused
    assert kept in {x for f in first for x in f.artefacts}

    blob = ws.blobs.path(reference.sha256)
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-100])  # truncated on disk
    ctx = CheckContext(ws, snapshot, NoProgress(), lambda: [], OriginalsCheck(ws.blobs))
    assert match_pictures.match_picture(ctx, images, a, b, match, caption, name) is None
    assert draws == []


def test_a_site_name_too_long_for_a_file_name_still_gets_its_pictures(case):
    """A site name is free text: 180 Arabic letters are 360 bytes, over the 255 a file name may
    have, and verify stopped with "File name too long" while drawing the match picture."""
    ws, code = case
    long_name = "سوق" * 60
    edit_site(ws, ACTOR, code, "square", rename=long_name)
    findings = _site_findings(ws, code)
    assert [f.values["matched_site"] for f in findings] == [long_name, long_name]
    pictures = _pictures(ws, findings)
    assert len(pictures) == 2
    assert all(len(Path(a).name.encode()) <= 255 for a in pictures)


def test_long_artefact_names_stay_distinct():
    short = "square-E-000001.jpg"
    assert match_pictures.artefact_file_name(short) == short
    assert match_pictures.artefact_file_name("a/b-E-000001.jpg") == "a_b-E-000001.jpg"
    a, b = (match_pictures.artefact_file_name("س" * 300 + f"-E-00000{i}.jpg") for i in (1, 2))
    assert a != b and a.endswith(".jpg") and b.endswith(".jpg")
    assert max(len(a.encode()), len(b.encode())) <= 255
