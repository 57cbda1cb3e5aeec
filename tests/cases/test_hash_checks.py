"""The recycled_footage and duplicates checks on real photos: a denial photo that is an edited
copy of a photo collected earlier in another case is a mismatch naming it; duplicates within a
case are reported; with no earlier copy the verdict stays inconclusive."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from cases import workflow
from cases.checks.duplicates import DuplicatesCheck
from cases.checks.recycled_footage import RecycledFootageCheck
from cases.ingest import ItemFacts, LinkSpec, add_evidence
from cases.verification import run_verify
from evidence_store.db import Workspace, init_workspace
from verify.media import load_image


def save(path: Path, rgb: np.ndarray, quality: int = 80) -> Path:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    path.write_bytes(buf.tobytes())
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory, sites_dir: Path) -> tuple[Workspace, dict[str, str]]:
    """C-0001 (opened first, 2016): a castle photo collected in 2016. C-0002: a denial photo
    that is the castle photo cropped 5% and watermarked, a claim photo of another place, and
    that claim photo again resized (a near duplicate), one file both sides offer."""
    tmp = tmp_path_factory.mktemp("checks")
    w = init_workspace(tmp / "ws")
    older = sites_dir / "ettlingen_castle" / "0003.jpg"
    castle = load_image(older)
    h, wd = castle.shape[:2]
    copy = castle[round(0.04 * h) :, round(0.05 * wd) :].copy()
    cv2.putText(copy, "MINISTRY", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    recycled = save(tmp / "denial_still.jpg", copy)
    claim = sites_dir / "london_bridge" / "london_bridge_94185272_3874562886.jpg"
    bridge = load_image(claim)
    claim_small = save(
        tmp / "claim_small.jpg", cv2.resize(bridge, (bridge.shape[1] // 2, bridge.shape[0] // 2))
    )
    both = sites_dir / "united_states_capitol" / "united_states_capitol_98169888_3347710852.jpg"

    workflow.open_case(w, "t", title="Older event", incident_date=date(2016, 3, 1))
    workflow.open_case(w, "t", title="This event", incident_date=date(2020, 1, 1))
    collected = datetime(2016, 3, 2, 9, 0, tzinfo=UTC)
    ids = {}
    ids["older"] = add_evidence(
        w, "t", "C-0001", [older], kind="photo", facts=ItemFacts(collected_at=collected)
    )[0].item
    ids["recycled"] = add_evidence(
        w, "t", "C-0002", [recycled], kind="photo", links=[LinkSpec("denial_footage")]
    )[0].item
    ids["claim"], ids["claim_small"] = (
        r.item
        for r in add_evidence(
            w, "t", "C-0002", [claim, claim_small], kind="photo", links=[LinkSpec("supports_claim")]
        )
    )
    ids["both"] = add_evidence(
        w,
        "t",
        "C-0002",
        [both],
        kind="photo",
        links=[LinkSpec("supports_claim"), LinkSpec("denial_footage")],
    )[0].item
    return w, ids


def test_recycled_copy_of_an_earlier_item_in_another_case_is_a_mismatch(world):
    w, ids = world
    out = run_verify(w, "t", "C-0002", checks=[RecycledFootageCheck()])
    by_item = {f.items[0]: f for f in out.findings}
    recycled = by_item[ids["recycled"]]
    assert recycled.verdict == "mismatch"
    assert recycled.items == [ids["recycled"], ids["older"]]
    copy = recycled.values["copies"][0]
    assert copy["item"] == ids["older"] and copy["case"] == "C-0001"
    assert copy["date"].startswith("2016-03-02") and copy["date_is"] == "collected"
    assert copy["frames"] and set(copy["frames"][0]["distance"]) >= {"pdq", "phash", "dhash"}
    assert "C-0001" in recycled.detail and "2016-03-02" in recycled.detail
    assert "before the incident" in recycled.detail
    # Claim photos with no earlier copy anywhere: inconclusive, never consistent.
    claim = by_item[ids["claim"]]
    assert claim.verdict == "inconclusive" and "no earlier copy found among" in claim.detail


def test_same_bytes_in_two_cases_only_the_later_copy_is_recycled(tmp_path, sites_dir):
    w = init_workspace(tmp_path / "ws")
    photo = (
        sites_dir
        / "piazza_san_marco"
        / sorted(p.name for p in (sites_dir / "piazza_san_marco").glob("*.jpg"))[0]
    )
    for title in ("First", "Second"):
        workflow.open_case(w, "t", title=title, incident_date=date(2020, 1, 1))
    first = add_evidence(
        w, "t", "C-0001", [photo], kind="photo", links=[LinkSpec("supports_claim")]
    )
    second = add_evidence(
        w, "t", "C-0002", [photo], kind="photo", links=[LinkSpec("supports_claim")]
    )
    checks = [RecycledFootageCheck(), DuplicatesCheck()]
    later = {f.check: f for f in run_verify(w, "t", "C-0002", checks=checks).findings}
    assert later["recycled_footage"].verdict == "mismatch"
    assert later["recycled_footage"].values["copies"][0]["exact_copy"] is True
    assert later["recycled_footage"].values["copies"][0]["date_is"] == "ingested"
    assert later["duplicates"].items == [second[0].item, first[0].item]
    assert "same bytes (SHA-256)" in later["duplicates"].detail
    # Seen from the first case, the copy is later: which is the original cannot be told.
    earlier = {f.check: f for f in run_verify(w, "t", "C-0001", checks=checks).findings}
    assert earlier["recycled_footage"].verdict == "inconclusive"
    assert "none dated before it" in earlier["recycled_footage"].detail


def test_duplicates_within_the_case(world):
    w, ids = world
    out = run_verify(w, "t", "C-0002", checks=[DuplicatesCheck()])
    assert all(f.verdict == "inconclusive" for f in out.findings)
    near = [f for f in out.findings if f.values["kind"] == "near"]
    assert [f.items for f in near] == [[ids["claim"], ids["claim_small"]]]
    assert "same picture" in near[0].detail and "one piece of evidence" in near[0].detail
    exact = [f for f in out.findings if f.values["kind"] == "exact"]
    assert [f.items for f in exact] == [[ids["both"]]]
    assert "both for the claim and for the denial" in exact[0].detail
