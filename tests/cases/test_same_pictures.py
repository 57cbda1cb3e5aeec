"""One same-picture search per verify run, shared by duplicates and recycled_footage, with the
pixel alignments between stored pictures kept in the derived store: a re-run aligns nothing
again, and a re-run after adding one item aligns only pairs that involve it."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest

import cases.search as search_module
from cases import workflow
from cases.anchor_votes import VOTES_NAMESPACE
from cases.checks.duplicates import DuplicatesCheck
from cases.checks.recycled_footage import RecycledFootageCheck
from cases.ingest import LinkSpec, add_evidence
from cases.originals import OriginalsCheck
from cases.search import ALIGNMENTS_NAMESPACE, AlignmentStore
from cases.verification import run_verify
from evidence_store.db import Workspace, init_workspace
from verify.media import load_image
from verify.samepicture import ALIGNMENT_SETTINGS, ANCHOR_COUNT


def _save(path: Path, rgb: np.ndarray) -> Path:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def _crop(rgb: np.ndarray, top: float, left: float, text: str) -> np.ndarray:
    """A crop of 10-20% with a watermark: past the hashes, so anchors and pixels decide."""
    h, w = rgb.shape[:2]
    out = rgb[round(top * h) :, round(left * w) :].copy()
    cv2.putText(out, text, (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    return out


@pytest.fixture()
def case(tmp_path: Path, sites_dir: Path) -> tuple[Workspace, str, np.ndarray]:
    ws = init_workspace(tmp_path / "ws")
    code = workflow.open_case(ws, "t", title="t", incident_date=date(2020, 1, 1)).code
    castle = load_image(sites_dir / "ettlingen_castle" / "0003.jpg")
    files = [
        sites_dir / "ettlingen_castle" / "0003.jpg",
        _save(tmp_path / "copy_a.jpg", _crop(castle, 0.12, 0.1, "MINISTRY")),
        sites_dir / "london_bridge" / "london_bridge_94185272_3874562886.jpg",
    ]
    add_evidence(ws, "t", code, files, kind="photo", links=[LinkSpec("denial_footage")])
    return ws, code, castle


def _count_alignments(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = search_module.align_pictures

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(search_module, "align_pictures", counting)
    return calls


def _cached_entries(ws: Workspace) -> dict[str, set[str]]:
    """Cached alignment keys per query picture (SHA-256)."""
    root = ws.derived.root / ALIGNMENTS_NAMESPACE
    out: dict[str, set[str]] = {}
    for path in root.rglob(f"{ALIGNMENT_SETTINGS}-*.json"):
        out[path.parent.name] = set(json.loads(path.read_text()))
    return out


def _verdicts(ws: Workspace, code: str) -> list[tuple[str, str, tuple[str, ...]]]:
    out = run_verify(ws, "t", code, checks=[DuplicatesCheck(), RecycledFootageCheck()])
    return sorted((f.check, f.verdict, tuple(f.items)) for f in out.findings)


def test_each_pair_is_aligned_once_per_run_and_never_again(case, monkeypatch):
    ws, code, _ = case
    calls = _count_alignments(monkeypatch)
    first = _verdicts(ws, code)
    # Both checks ask about every denial picture; the pairs are aligned once between them.
    cached = _cached_entries(ws)
    assert len(calls) == sum(len(keys) for keys in cached.values()) > 0
    # Nor twice as a pair: searching B after A reuses A's alignment with B.
    for query, keys in cached.items():
        for key in keys:
            other, _, flip = key.split(":")
            assert not any(
                k.startswith(query) and k.endswith(f":{flip}") for k in cached.get(other, ())
            )
    assert ("duplicates", "inconclusive") in {(c, v) for c, v, _ in first}
    calls.clear()
    assert _verdicts(ws, code) == first
    assert calls == []


def test_a_new_item_costs_only_its_own_pairs(case, monkeypatch, tmp_path):
    ws, code, castle = case
    _verdicts(ws, code)
    before = _cached_entries(ws)
    calls = _count_alignments(monkeypatch)
    new = _save(tmp_path / "copy_b.jpg", _crop(castle, 0.18, 0.15, "OFFICIAL"))
    (added,) = add_evidence(ws, "t", code, [new], kind="photo", links=[LinkSpec("denial_footage")])
    new_sha = added.sha256
    after = _cached_entries(ws)
    assert after == before  # adding evidence aligns nothing by itself
    found = _verdicts(ws, code)
    after = _cached_entries(ws)
    gained = {q: after[q] - before.get(q, set()) for q in after}
    assert len(calls) == sum(len(keys) for keys in gained.values()) > 0
    for q, keys in gained.items():  # old pictures gained only pairs with the new one
        assert q == new_sha or all(key.startswith(new_sha) for key in keys)
    near = [items for c, _, items in found if c == "duplicates"]
    assert any(added.item in items for items in near)


def test_damaged_cache_files_are_aligned_again(case, monkeypatch):
    ws, code, _ = case
    first = _verdicts(ws, code)
    for path in (ws.derived.root / ALIGNMENTS_NAMESPACE).rglob("*.json"):
        path.write_text("{not json")
    calls = _count_alignments(monkeypatch)
    assert _verdicts(ws, code) == first
    assert calls


def test_entries_of_a_damaged_original_are_not_used(case):
    ws, code, _ = case
    _verdicts(ws, code)
    cached = _cached_entries(ws)
    query = next(q for q, keys in cached.items() if keys)
    other = next(iter(cached[query])).split(":", 1)[0]
    intact = AlignmentStore(ws, OriginalsCheck(ws.blobs)).load(query, 0)
    assert any(key.startswith(other) for key in intact)
    blob = ws.blobs.path(other)
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-10])
    damaged = AlignmentStore(ws, OriginalsCheck(ws.blobs)).load(query, 0)
    assert not any(key.startswith(other) for key in damaged)
    assert AlignmentStore(ws, OriginalsCheck(ws.blobs)).load(other, 0) == {}


@pytest.mark.parametrize("mirrored", [False, True])
def test_an_alignment_seen_from_the_other_picture(sites_dir: Path, mirrored: bool):
    from cases.search import _inverse
    from verify.samepicture import align_pictures

    a = load_image(sites_dir / "ettlingen_castle" / "0003.jpg")
    h, w = a.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 0.8)
    b = cv2.warpAffine(a, turn, (w, h))
    if mirrored:
        b = b[:, ::-1].copy()
    forward = align_pictures(a, b, mirrored=mirrored)
    backward = align_pictures(b, a, mirrored=mirrored)
    assert forward.is_same and backward.is_same
    seen = _inverse(backward)
    assert seen.scale == pytest.approx(forward.scale, rel=0.03)
    assert seen.rotation_deg == pytest.approx(forward.rotation_deg, abs=0.5)
    assert abs(forward.rotation_deg) == pytest.approx(4.0, abs=0.5)


def _count_votes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Anchors counted per call (the size of the index searched)."""
    sizes: list[int] = []
    real = search_module.FrameIndex._anchor_votes

    def counting(mine, anchors):
        sizes.append(len(anchors))
        return real(mine, anchors)

    monkeypatch.setattr(search_module.FrameIndex, "_anchor_votes", staticmethod(counting))
    return sizes


def _findings(ws: Workspace, code: str) -> list[tuple[str, str, tuple[str, ...], str]]:
    out = run_verify(ws, "t", code, checks=[DuplicatesCheck(), RecycledFootageCheck()])
    return sorted((f.check, f.verdict, tuple(f.items), f.detail) for f in out.findings)


def test_anchor_votes_are_counted_again_only_against_new_pictures(
    case, monkeypatch, tmp_path: Path
):
    ws, code, castle = case
    _findings(ws, code)
    sizes = _count_votes(monkeypatch)
    _findings(ws, code)
    assert sizes == []  # nothing new: every picture's votes are read back
    new = _save(tmp_path / "copy_b.jpg", _crop(castle, 0.18, 0.15, "OFFICIAL"))
    add_evidence(ws, "t", code, [new], kind="photo", links=[LinkSpec("denial_footage")])
    incremental = _findings(ws, code)
    anchors_of_new = ANCHOR_COUNT
    # The new picture is counted against all; the three others against its anchors only.
    assert sorted(sizes)[:3] == [anchors_of_new] * 3 and len(sizes) == 4
    # The same findings as counting everything from scratch.
    shutil.rmtree(ws.derived.root / VOTES_NAMESPACE)
    shutil.rmtree(ws.derived.root / ALIGNMENTS_NAMESPACE)
    sizes.clear()
    assert _findings(ws, code) == incremental
    assert len(sizes) == 4 and min(sizes) > anchors_of_new


def test_damaged_vote_files_are_counted_again(case, monkeypatch):
    ws, code, _ = case
    first = _findings(ws, code)
    for path in (ws.derived.root / VOTES_NAMESPACE).rglob("*.json"):
        path.write_text('{"manifest": 3}')
    sizes = _count_votes(monkeypatch)
    assert _findings(ws, code) == first
    assert len(sizes) >= 3
