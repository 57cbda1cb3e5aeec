"""capture_time and gps_place rest no verdict on EXIF that may be another photo's: when the EXIF
thumbnail shows a different picture they say inconclusive and why (cases.checks.foreign_exif).

Photos are generated: the same EXIF (capture time, GPS) with a thumbnail of the photo itself and
with a thumbnail of another picture; and real Nikon EXIF (../shared/data/exif/gps) transplanted
onto another picture, the forgery the rule is for.
"""

from __future__ import annotations

import struct
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cases.checks.foreign_exif as foreign_exif_module
from cases import workflow
from cases.checks.base import CheckContext, FindingDraft, NoProgress
from cases.checks.capture_time import CaptureTimeCheck
from cases.checks.foreign_exif import item_thumbnail_trace
from cases.checks.gps_place import GpsPlaceCheck
from cases.checks.provenance import ProvenanceCheck
from cases.ingest import LinkSpec, add_evidence
from cases.report.data import build_report
from cases.report.html import render_html
from cases.report.markdown import render_markdown
from cases.report.present import derived_reader
from cases.snapshot import CaseSnapshot, ItemInfo, SiteInfo
from cases.verification import run_verify
from evidence_store.db import init_workspace
from tests.cases.test_metadata_checks import item
from tests.verify.test_provenance import jpeg_bytes, scene
from tests.verify.test_video import write_video
from verify.provenance import THUMBNAIL_PHASH_MAX_DISTANCE
from verify.verdict import Verdict

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
# The photo's EXIF: taken 2019-07-23 10:00 at UTC+03:00, at the market below.
TAKEN, OFFSET = "2019:07:23 10:00:00", "+03:00"
LAT, LON = 35.6436, 36.6757
MARKET = SiteInfo("popular market", LAT, LON, 150.0, True)
ELSEWHERE = SiteInfo("al Hal market", LAT + 0.05, LON, 150.0, True)  # about 5.5 km north
AFTER_CAPTURE = date(2019, 7, 25)  # incident two days after the capture: claim photo predates it
BEFORE_CAPTURE = date(2019, 7, 22)

REASON = "the EXIF thumbnail shows a different picture (pHash distance"
MAY_BELONG = "the EXIF date/GPS may belong to another photo"


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 2))


def camera_exif() -> bytes:
    """TIFF bytes (Pillow's writer) with make, capture time and offset, and a GPS position."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "samsung", "SM-A505F"
    sub = exif.get_ifd(_EXIF_IFD)
    sub[0x9003], sub[0x9011] = TAKEN, OFFSET
    gps = exif.get_ifd(_GPS_IFD)
    gps[0], gps[1], gps[2], gps[3], gps[4] = b"\x02\x03\x00\x00", "N", _dms(LAT), "E", _dms(LON)
    data = exif.tobytes()
    assert data.startswith(b"Exif\x00\x00")
    return data[6:]


def with_thumbnail(tiff: bytes, thumb: bytes) -> bytes:
    """`tiff` with an IFD1 holding the JPEG `thumb` (Pillow writes no IFD1 itself)."""
    order = {b"II": "<", b"MM": ">"}[tiff[:2]]
    (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
    (count,) = struct.unpack_from(order + "H", tiff, ifd0)
    next_at = ifd0 + 2 + 12 * count
    assert struct.unpack_from(order + "I", tiff, next_at) == (0,)
    ifd1 = len(tiff) + len(tiff) % 2
    out = bytearray(tiff.ljust(ifd1, b"\x00"))
    struct.pack_into(order + "I", out, next_at, ifd1)
    thumb_at = ifd1 + 2 + 12 * 3 + 4
    out += struct.pack(order + "H", 3)
    out += struct.pack(order + "HHIHH", 0x0103, 3, 1, 6, 0)  # Compression: JPEG
    out += struct.pack(order + "HHII", 0x0201, 4, 1, thumb_at)
    out += struct.pack(order + "HHII", 0x0202, 4, 1, len(thumb))
    out += struct.pack(order + "I", 0)
    return bytes(out + thumb)


def camera_photo(path: Path, main: Image.Image, thumbnail_of: Image.Image | None) -> Path:
    """A JPEG of `main` with the camera EXIF and a thumbnail of `thumbnail_of` (none if None)."""
    tiff = camera_exif()
    if thumbnail_of is not None:
        tiff = with_thumbnail(tiff, jpeg_bytes(thumbnail_of.resize((160, 120))))
    main.save(path, "JPEG", quality=90, exif=b"Exif\x00\x00" + tiff)
    return path


def transplant_exif(source: Path, picture: Image.Image, path: Path) -> Path:
    """`picture` as a JPEG carrying `source`'s whole EXIF segment (APP1) unchanged."""
    data = source.read_bytes()
    at = 2
    while data[at : at + 2] != b"\xff\xe1":
        (length,) = struct.unpack_from(">H", data, at + 2)
        at += 2 + length
    (length,) = struct.unpack_from(">H", data, at + 2)
    app1 = data[at : at + 2 + length]
    assert app1[4:10] == b"Exif\x00\x00"
    body = jpeg_bytes(picture)
    path.write_bytes(body[:2] + app1 + body[2:])
    return path


def context(items: list[ItemInfo], incident: date, sites: tuple[SiteInfo, ...]) -> CheckContext:
    case = CaseSnapshot("C-0001", "t", incident, None, None, sites, tuple(items))
    return CheckContext(ws=None, case=case, progress=NoProgress(), workspace_items=list)  # type: ignore[arg-type]


def findings(ctx: CheckContext, *checks) -> dict[tuple[str, str], FindingDraft]:
    return {(f.check, f.items[0]): f for check in checks for f in check.run(ctx)}


@pytest.fixture
def pair(tmp_path: Path) -> list[ItemInfo]:
    """E-1 with its own thumbnail, E-2 the same EXIF with a thumbnail of another picture."""
    own = camera_photo(tmp_path / "own.jpg", scene(1), scene(1))
    foreign = camera_photo(tmp_path / "foreign.jpg", scene(1), scene(2))
    return [item(own, "E-1", "supports_claim"), item(foreign, "E-2", "supports_claim")]


@pytest.mark.parametrize(
    ("incident", "site", "verdict"),
    [
        (BEFORE_CAPTURE, MARKET, Verdict.CONSISTENT),
        (AFTER_CAPTURE, ELSEWHERE, Verdict.MISMATCH),
    ],
)
def test_a_thumbnail_of_another_picture_makes_time_and_place_inconclusive(
    pair: list[ItemInfo], incident: date, site: SiteInfo, verdict: Verdict
):
    found = findings(context(pair, incident, (site,)), CaptureTimeCheck(), GpsPlaceCheck())
    for check in ("capture_time", "gps_place"):
        own, foreign = found[check, "E-1"], found[check, "E-2"]
        assert own.verdict is verdict, check  # the photo's own thumbnail: decided as before
        assert "inconclusive_because" not in own.values
        assert foreign.verdict is Verdict.INCONCLUSIVE, check
        assert REASON in foreign.detail and MAY_BELONG in foreign.detail
        assert foreign.values["inconclusive_because"] == "thumbnail_differs"
        distance = foreign.values["thumbnail_distance"]
        assert distance > THUMBNAIL_PHASH_MAX_DISTANCE
        assert f"pHash distance {distance} of 64" in foreign.detail
        assert foreign.values["verdict"] == "inconclusive"  # no value says otherwise unnamed
        assert foreign.values["face_value_verdict"] == verdict.value
    # What the metadata records is still there to read.
    time = found["capture_time", "E-2"].values
    assert time["capture"] == found["capture_time", "E-1"].values["capture"]
    assert time["capture"]["local"] == "2019-07-23T10:00:00"
    place = found["gps_place", "E-2"].values
    assert place["position"]["lat"] == pytest.approx(LAT, abs=1e-4)
    assert place["distances"] == found["gps_place", "E-1"].values["distances"]
    assert place["nearest_site"] == site.name


def test_without_sites_the_reason_is_still_given(pair: list[ItemInfo]):
    found = findings(context(pair, BEFORE_CAPTURE, ()), GpsPlaceCheck())
    assert "inconclusive_because" not in found["gps_place", "E-1"].values
    foreign = found["gps_place", "E-2"]
    assert foreign.verdict is Verdict.INCONCLUSIVE and MAY_BELONG in foreign.detail
    assert foreign.values["position"]["lat"] == pytest.approx(LAT, abs=1e-4)


def test_real_exif_transplanted_onto_another_picture(exif_dir: Path, tmp_path: Path):
    # DSCN0010: taken 2008-10-22 16:28:39 (zone unknown) at 43.4674, 11.8851 (Nikon, thumbnail).
    real = exif_dir / "gps" / "DSCN0010.jpg"
    forged = transplant_exif(real, scene(3), tmp_path / "forged.jpg")
    items = [item(real, "E-1", "supports_claim"), item(forged, "E-2", "supports_claim")]
    here = SiteInfo("here", 43.4674, 11.8851, 200.0, True)
    found = findings(
        context(items, date(2008, 10, 21), (here,)),
        CaptureTimeCheck(),
        GpsPlaceCheck(),
        ProvenanceCheck(),
    )
    assert found["capture_time", "E-1"].verdict is Verdict.CONSISTENT
    assert found["gps_place", "E-1"].verdict is Verdict.CONSISTENT
    for check in ("capture_time", "gps_place"):
        forged_finding = found[check, "E-2"]
        assert forged_finding.verdict is Verdict.INCONCLUSIVE
        assert MAY_BELONG in forged_finding.detail
        assert forged_finding.values["face_value_verdict"] == "consistent"
    assert found["capture_time", "E-2"].values["capture"]["local"] == "2008-10-22T16:28:39"


def test_an_unreadable_or_absent_thumbnail_changes_nothing(tmp_path: Path):
    broken = camera_photo(tmp_path / "broken.jpg", scene(1), None)
    tiff = with_thumbnail(camera_exif(), b"\xff\xd8 not really a jpeg")
    scene(1).save(broken, "JPEG", quality=90, exif=b"Exif\x00\x00" + tiff)
    absent = camera_photo(tmp_path / "absent.jpg", scene(1), None)
    items = [item(broken, "E-1", "supports_claim"), item(absent, "E-2", "supports_claim")]
    ctx = context(items, BEFORE_CAPTURE, (MARKET,))
    found = findings(ctx, CaptureTimeCheck(), GpsPlaceCheck(), ProvenanceCheck())
    assert item_thumbnail_trace(ctx, items[0]).kind == "thumbnail_unreadable"
    assert item_thumbnail_trace(ctx, items[1]) is None
    for code in ("E-1", "E-2"):
        for check in ("capture_time", "gps_place"):
            assert found[check, code].verdict is Verdict.CONSISTENT, (check, code)
            assert "inconclusive_because" not in found[check, code].values


def test_videos_are_not_compared(tmp_path: Path):
    path = write_video(
        tmp_path / "clip.mp4", [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(10)], 10
    )
    video = item(path, "E-1", "denial_footage")
    assert item_thumbnail_trace(context([video], BEFORE_CAPTURE, (MARKET,)), video) is None


def test_the_thumbnail_is_compared_once_per_item_per_run(
    pair: list[ItemInfo], monkeypatch: pytest.MonkeyPatch
):
    compared: list[Path] = []
    real = foreign_exif_module.thumbnail_trace

    def counting(meta, path: Path):
        compared.append(path)
        return real(meta, path)

    monkeypatch.setattr(foreign_exif_module, "thumbnail_trace", counting)
    ctx = context(pair, BEFORE_CAPTURE, (MARKET,))
    found = findings(ctx, GpsPlaceCheck(), CaptureTimeCheck(), ProvenanceCheck())
    assert sorted(compared) == sorted(i.path for i in pair)  # three checks, one comparison each
    assert found["provenance", "E-2"].values["trace"] == "thumbnail_differs"
    # A new run compares again (the files may have changed between runs).
    findings(context(pair, BEFORE_CAPTURE, (MARKET,)), CaptureTimeCheck())
    assert len(compared) == 4


def test_the_report_shows_why(tmp_path: Path):
    forged = camera_photo(tmp_path / "forged.jpg", scene(1), scene(2))
    ws = init_workspace(tmp_path / "ws")
    case = workflow.open_case(ws, "t", title="t", incident_date=BEFORE_CAPTURE).code
    workflow.add_site(ws, "t", case, name=MARKET.name, lat=LAT, lon=LON, claimed=True)
    add_evidence(ws, "t", case, [forged], kind="photo", links=[LinkSpec("supports_claim")])
    outcome = run_verify(ws, "t", case, checks=[GpsPlaceCheck(), CaptureTimeCheck()])
    assert {f.verdict for f in outcome.findings} == {"inconclusive"}
    report = build_report(ws, case)
    html = render_html(report, derived_reader(ws))
    md = render_markdown(report, derived_reader(ws), tmp_path / "f", "f")
    for text in (html, md.replace("\\", "")):
        assert text.count(MAY_BELONG) == 2, text[:200]
        assert "thumbnail_differs" in text and "face_value_verdict" in text
    # The map and positions table still show the recorded point, marked as in doubt.
    (position,) = report["map"]["positions"]
    assert position["in_doubt"] and "another photo's" in position["in_doubt"]
    assert "forged.jpg (?)" in html
    for text in (html, md.replace("\\", "")):
        assert "this position may be another photo" in text


def test_a_position_with_its_own_thumbnail_is_not_in_doubt(tmp_path: Path):
    genuine = camera_photo(tmp_path / "genuine.jpg", scene(1), scene(1))
    ws = init_workspace(tmp_path / "ws")
    case = workflow.open_case(ws, "t", title="t", incident_date=BEFORE_CAPTURE).code
    workflow.add_site(ws, "t", case, name=MARKET.name, lat=LAT, lon=LON, claimed=True)
    add_evidence(ws, "t", case, [genuine], kind="photo", links=[LinkSpec("supports_claim")])
    run_verify(ws, "t", case, checks=[GpsPlaceCheck()])
    report = build_report(ws, case)
    (position,) = report["map"]["positions"]
    assert position["in_doubt"] is None
    assert "(?)" not in render_html(report, derived_reader(ws))
