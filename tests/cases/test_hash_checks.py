"""The recycled_footage and duplicates checks on real photos: a denial photo that is an edited
copy of a photo collected before the incident (in another case) is a mismatch naming it; copies
that are not dated before the incident (a repost collected later, the same file stored in two
cases) are inconclusive and named; an item with nothing to search with is inconclusive with the
reason; duplicates within a case are reported; with no copy the verdict stays inconclusive."""

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
    assert copy["predates_incident"] is True and copy["predates_incident_by"] == "collected"
    assert recycled.values["earliest_copy"] == ids["older"]
    assert "C-0001" in recycled.detail and "2016-03-02" in recycled.detail
    assert "before the incident" in recycled.detail
    # The claim photo and its resized copy, both stored after the incident: each names the
    # other, and neither is called recycled.
    claim = by_item[ids["claim"]]
    assert claim.verdict == "inconclusive" and claim.items == [ids["claim"], ids["claim_small"]]
    assert claim.values["copies"][0]["predates_incident"] is False
    assert claim.values["earliest_copy"] is None
    assert "circulates" in claim.detail and "claim_small.jpg" in claim.detail
    # A claim photo with no copy anywhere: inconclusive, never consistent.
    both = by_item[ids["both"]]
    assert both.verdict == "inconclusive" and "no other copy of it found among" in both.detail
    assert both.values["copies"] == []


def test_same_bytes_in_two_cases_stored_after_both_incidents_is_not_recycled(tmp_path, sites_dir):
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
    # Ingested seconds apart, years after both incidents: ingest order says nothing about
    # which came first, nor that the picture predates either incident.
    later = {f.check: f for f in run_verify(w, "t", "C-0002", checks=checks).findings}
    recycled = later["recycled_footage"]
    assert recycled.verdict == "inconclusive"
    assert recycled.items == [second[0].item, first[0].item]
    copy = recycled.values["copies"][0]
    assert copy["exact_copy"] is True and copy["date_is"] == "ingested"
    assert copy["predates_incident"] is False and copy["predates_incident_by"] is None
    relations = {d["by"]: d["before_incident"] for d in copy["dates"]}
    assert relations["ingested"] == "no" and "yes" not in relations.values()
    assert "circulates" in recycled.detail and first[0].item in recycled.detail
    assert later["duplicates"].items == [second[0].item, first[0].item]
    assert "same bytes (SHA-256)" in later["duplicates"].detail
    earlier = {f.check: f for f in run_verify(w, "t", "C-0001", checks=checks).findings}
    assert earlier["recycled_footage"].verdict == "inconclusive"
    assert earlier["recycled_footage"].items == [first[0].item, second[0].item]


def _repost(sites_dir: Path, tmp: Path) -> tuple[Path, Path]:
    """A castle photo and a second channel's repost of it (cropped, re-encoded)."""
    original = sites_dir / "ettlingen_castle" / "0007.jpg"
    rgb = load_image(original)
    h, wd = rgb.shape[:2]
    return original, save(tmp / "repost.jpg", rgb[h // 10 : h - h // 10, wd // 10 : wd - wd // 10])


def _claim_case(
    w: Workspace, paths: list[Path], collected: list[datetime | None], incident: date
) -> list[str]:
    code = workflow.open_case(w, "t", title="Strike", incident_date=incident).code
    return [
        add_evidence(
            w,
            "t",
            code,
            [p],
            kind="photo",
            links=[LinkSpec("supports_claim")],
            facts=ItemFacts(collected_at=when),
        )[0].item
        for p, when in zip(paths, collected, strict=True)
    ]


def test_a_repost_collected_after_the_incident_is_not_recycled(tmp_path, sites_dir):
    """Audit 2: the same incident photo from a second channel, collected the next day."""
    w = init_workspace(tmp_path / "ws")
    original, repost = _repost(sites_dir, tmp_path)
    first, second = _claim_case(
        w,
        [original, repost],
        [datetime(2019, 7, 22, 12, 0, tzinfo=UTC), datetime(2019, 7, 23, tzinfo=UTC)],
        date(2019, 7, 22),
    )
    out = run_verify(w, "t", "C-0001", checks=[RecycledFootageCheck()])
    by_item = {f.items[0]: f for f in out.findings}
    assert [f.verdict for f in out.findings] == ["inconclusive", "inconclusive"]
    found = by_item[second]
    assert found.items == [second, first]
    assert f"{first} 0007.jpg" in found.detail and "collected 2019-07-22 12:00 UTC" in found.detail
    assert "circulates" in found.detail and "not evidence that it predates" in found.detail
    dates = {d["by"]: d["before_incident"] for d in found.values["copies"][0]["dates"]}
    # 12:00 UTC on the incident day: the day has begun in every zone (last at UTC-12).
    assert dates == {"collected": "no", "ingested": "no"}
    # Seen from the first copy, the repost was collected the next day, date only: early on
    # 07-23 at UTC+14 is 07-22 10:00 UTC, before the incident day began at UTC-12 (12:00 UTC).
    # Uncertain, which proves nothing.
    back = {d["by"]: d["before_incident"] for d in by_item[first].values["copies"][0]["dates"]}
    assert back == {"collected": "uncertain", "ingested": "no"}
    assert "collected on 2019-07-23 (date only" in by_item[first].detail


@pytest.mark.parametrize(
    ("collected", "verdict", "relation"),
    [
        # Date only, the day before a date-only incident: in some pair of zones the collection
        # falls after the incident began (the day spans UTC+14 to UTC-12).
        (date(2019, 7, 21), "inconclusive", "uncertain"),
        (date(2019, 7, 20), "inconclusive", "uncertain"),
        # Three days before: before the incident in every zone.
        (date(2019, 7, 19), "mismatch", "yes"),
    ],
)
def test_a_copy_collected_before_the_incident_proves_recycling_in_every_zone_only(
    tmp_path, sites_dir, collected, verdict, relation
):
    w = init_workspace(tmp_path / "ws")
    original, repost = _repost(sites_dir, tmp_path)
    when = datetime(collected.year, collected.month, collected.day, tzinfo=UTC)  # as the CLI stores
    first, second = _claim_case(w, [original, repost], [when, None], date(2019, 7, 22))
    out = run_verify(w, "t", "C-0001", checks=[RecycledFootageCheck()])
    found = next(f for f in out.findings if f.items[0] == second)
    assert found.verdict == verdict and found.items == [second, first]
    [collected_date] = [d for d in found.values["copies"][0]["dates"] if d["by"] == "collected"]
    assert collected_date["before_incident"] == relation
    assert f"collected on {collected:%Y-%m-%d} (date only" in found.detail
    if verdict == "mismatch":
        assert found.values["earliest_copy"] == first
        assert found.values["copies"][0]["predates_incident_by"] == "collected"


def test_a_copy_captured_before_the_incident_proves_recycling(tmp_path, exif_dir):
    """A stripped repost of a 2008 photo offered for a 2019 claim; the original, with its EXIF
    capture time, is stored later in another case and collected after the incident."""
    w = init_workspace(tmp_path / "ws")
    original = exif_dir / "gps" / "DSCN0010.jpg"  # DateTimeOriginal 2008-10-22, zone unknown
    rgb = load_image(original)
    stripped = save(
        tmp_path / "shared.jpg", cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2))
    )
    [claim] = _claim_case(w, [stripped], [None], date(2019, 7, 22))
    [copy] = _claim_case(w, [original], [datetime(2020, 1, 5, 10, 0, tzinfo=UTC)], date(2020, 1, 1))
    out = run_verify(w, "t", "C-0001", checks=[RecycledFootageCheck()])
    [found] = out.findings
    assert found.verdict == "mismatch" and found.items == [claim, copy]
    values = found.values["copies"][0]
    assert values["predates_incident_by"] == "captured" and values["case"] == "C-0002"
    assert "captured 2008-10-22 16:28:39 local time of unknown zone" in found.detail
    # The original, offered in its own (later) case: the stripped copy proves nothing.
    back = run_verify(w, "t", "C-0002", checks=[RecycledFootageCheck()]).findings
    assert [f.verdict for f in back] == ["inconclusive"]
    assert "no capture time in its metadata" in back[0].detail


def test_an_offered_item_without_pictures_is_inconclusive_with_the_reason(tmp_path, sites_dir):
    w = init_workspace(tmp_path / "ws")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes((sites_dir / "ettlingen_castle" / "0007.jpg").read_bytes()[:600])
    [code] = _claim_case(w, [truncated], [None], date(2019, 7, 22))
    [found] = run_verify(w, "t", "C-0001", checks=[RecycledFootageCheck()]).findings
    assert found.verdict == "inconclusive" and found.items == [code]
    assert found.values["searched"] is False and found.values["copies"] == []
    assert found.values["problems"] and found.values["problems"] in found.detail
    assert "not searched for copies" in found.detail


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
