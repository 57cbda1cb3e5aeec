"""The capture_time and provenance checks on real photos (../shared/data/exif) and on JPEGs whose
EXIF the tests write, stored exactly as ingest stores them (cases.analysis.analyse_file)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cases.analysis import analyse_file
from cases.checks.base import CheckContext, NoProgress
from cases.checks.capture_time import CaptureTimeCheck
from cases.checks.provenance import ProvenanceCheck
from cases.snapshot import CaseSnapshot, DenialInfo, ItemInfo
from evidence_store.timeutil import utcnow
from tests.verify.test_provenance import jpeg_bytes, photo_with_thumbnail, scene
from tests.verify.test_video import write_video
from verify.provenance import NOT_PROOF
from verify.verdict import Verdict

_MAKE, _MODEL, _SOFTWARE, _DATETIME = 0x010F, 0x0110, 0x0131, 0x0132
_EXIF_IFD, _DTO, _OFFSET_DTO, _PIXEL_X, _PIXEL_Y = 0x8769, 0x9003, 0x9011, 0xA002, 0xA003


def photo(
    path: Path,
    *,
    size: tuple[int, int] = (320, 240),
    taken: str | None = None,
    offset: str | None = None,
    software: str | None = None,
    exif_size: tuple[int, int] | None = None,
    camera: bool = True,
) -> Path:
    """A JPEG with the EXIF a test asks for (Pillow's Exif API); no tags at all if none given."""
    rgb = (np.random.default_rng(len(path.name)).random((size[1], size[0], 3)) * 255).astype(
        "uint8"
    )
    exif = Image.Exif()
    if camera:
        exif[_MAKE], exif[_MODEL] = "samsung", "SM-A505F"
    if software:
        exif[_SOFTWARE] = software
    sub = exif.get_ifd(_EXIF_IFD)
    if taken:
        sub[_DTO] = taken
    if offset:
        sub[_OFFSET_DTO] = offset
    if exif_size:
        sub[_PIXEL_X], sub[_PIXEL_Y] = exif_size
    options = {"exif": exif.tobytes()} if len(exif) or len(sub) else {}
    Image.fromarray(rgb).save(path, "JPEG", quality=90, **options)
    return path


def item(path: Path, code: str, *roles: str, reference_of: tuple[str, ...] = ()) -> ItemInfo:
    media_type = {".jpg": "image/jpeg", ".png": "image/png"}.get(path.suffix, "video/mp4")
    kind = "photo" if media_type.startswith("image/") else "video"
    return ItemInfo(
        code=code,
        case="C-0001",
        kind=kind,
        sha256="0" * 64,
        filename=path.name,
        media_type=media_type,
        path=path,
        roles=tuple(sorted(roles)),
        reference_of=reference_of,
        metadata=analyse_file(path, media_type, kind).metadata,
        frames=(),
        collected_at=None,
        ingested_at=utcnow(),
    )


def run(check, items, incident: date, denial: date | None = None):
    case = CaseSnapshot(
        code="C-0001",
        title="t",
        incident_date=incident,
        claim=None,
        denial=DenialInfo("Ministry", denial, "denied") if denial else None,
        sites=(),
        items=tuple(items),
    )
    ctx = CheckContext(ws=None, case=case, progress=NoProgress(), workspace_items=list)  # type: ignore[arg-type]
    return {(f.items[0], f.values.get("role") or f.values.get("trace")): f for f in check.run(ctx)}


# ------------------------------------------------------------------ capture time, real files


def test_real_photo_zone_unknown_is_inconclusive_on_the_incident_day(exif_dir: Path):
    # DSCN0010: DateTimeOriginal 2008-10-22 16:28:39, no offset tag: any zone is possible.
    real = item(exif_dir / "gps" / "DSCN0010.jpg", "E-1", "supports_claim")
    [f] = run(CaptureTimeCheck(), [real], date(2008, 10, 22)).values()
    assert f.verdict is Verdict.INCONCLUSIVE
    assert "Time-zone uncertainty" in f.detail and "unknown zone" in f.detail
    assert f.values["capture"]["local"] == "2008-10-22T16:28:39"
    assert f.values["before_incident"] == "uncertain"
    [f] = run(CaptureTimeCheck(), [real], date(2008, 10, 21)).values()
    assert f.verdict is Verdict.CONSISTENT and f.values["before_incident"] == "no"
    [f] = run(CaptureTimeCheck(), [real], date(2008, 10, 24)).values()
    assert f.verdict is Verdict.MISMATCH and "before the incident" in f.detail


def test_zone_unknown_says_why_the_files_gps_time_was_not_used(exif_dir: Path, tmp_path: Path):
    # DSCN0010 carries a GPS time (2008-10-23 14:27:07 UTC) 22 h off its DateTimeOriginal: not
    # a time-zone offset, so the zone stays unknown. The investigator sees a GPS time in the
    # file; the finding must say why it was not used (and the disagreement is a trace itself).
    real = item(exif_dir / "gps" / "DSCN0010.jpg", "E-1", "supports_claim")
    [f] = run(CaptureTimeCheck(), [real], date(2008, 10, 22)).values()
    assert f.values["capture"]["zone"] == "unknown"
    assert "GPS time 2008-10-23 14:27:07 UTC and DateTimeOriginal" in f.detail
    assert "not a time-zone offset" in f.detail
    # An offset tag that does not parse leaves the zone unknown too, and is named.
    bad = photo(tmp_path / "bad_offset.jpg", taken="2019:07:22 10:00:00", offset="+3h")
    [f] = run(CaptureTimeCheck(), [item(bad, "E-2", "supports_claim")], date(2019, 7, 22)).values()
    assert f.values["capture"]["zone"] == "unknown" and "offset" in f.detail.split("records:")[1]
    # A known zone adds nothing.
    good = photo(tmp_path / "good.jpg", taken="2019:07:22 10:00:00", offset="+03:00")
    [f] = run(CaptureTimeCheck(), [item(good, "E-3", "supports_claim")], date(2019, 7, 22)).values()
    assert "also records" not in f.detail


def test_one_file_offered_by_both_sides_gets_findings_that_say_which_side(tmp_path: Path):
    # Without a capture time the sentence names no side: two identical lines would leave the
    # reader guessing which finding is about the claim's use of the file and which the denial's.
    bare = photo(tmp_path / "bare.jpg", camera=False)
    found = run(CaptureTimeCheck(), [item(bare, "E-1", "supports_claim", "denial_footage")],
                date(2019, 7, 22), date(2019, 7, 23))  # fmt: skip
    claim, denial = found["E-1", "claim"], found["E-1", "denial"]
    assert claim.detail.startswith("bare.jpg (as claim evidence): ")
    assert denial.detail.startswith("bare.jpg (as denial footage): ")
    # One side only: the file name alone, as before.
    [alone] = run(
        CaptureTimeCheck(), [item(bare, "E-2", "supports_claim")], date(2019, 7, 22)
    ).values()
    assert alone.detail.startswith("bare.jpg: ")


def test_real_photo_offered_by_a_denial_published_before_it_was_taken(exif_dir: Path):
    real = item(exif_dir / "gps" / "DSCN0042.jpg", "E-1", "denial_footage")
    [f] = run(CaptureTimeCheck(), [real], date(2008, 10, 19), date(2008, 10, 20)).values()
    assert f.verdict is Verdict.MISMATCH
    assert "after the denial" in f.detail
    assert f.values["after_denial"] == "yes" and f.values["denial_date"] == "2008-10-20"


# ------------------------------------------------------------- capture time, generated EXIF


def test_generated_times_with_known_zone(tmp_path: Path):
    before = photo(tmp_path / "before.jpg", taken="2019:07:20 16:30:00", offset="+03:00")
    after = photo(tmp_path / "after.jpg", taken="2019:07:23 08:47:00", offset="+03:00")
    bare = photo(tmp_path / "bare.jpg", camera=False)
    other = photo(tmp_path / "other.jpg", taken="2019:07:20 16:30:00", offset="+03:00")
    ref = photo(tmp_path / "ref.jpg", taken="2010:01:01 00:00:00")
    items = [
        item(before, "E-1", "denial_footage"),
        item(after, "E-2", "denial_footage"),
        item(bare, "E-3", "denial_footage"),
        item(other, "E-4", "other"),
        item(ref, "E-5", "site_reference", reference_of=("market",)),
        # Reference imagery that is also claim footage is checked as claim footage (audit 8).
        item(ref, "E-6", "site_reference", "supports_claim", reference_of=("market",)),
        item(ref, "E-7", "site_reference", "other", reference_of=("market",)),
    ]
    found = run(CaptureTimeCheck(), items, date(2019, 7, 22), date(2019, 7, 23))
    assert set(found) == {
        ("E-1", "denial"),
        ("E-2", "denial"),
        ("E-3", "denial"),
        ("E-4", "other"),
        ("E-6", "claim"),
    }
    early = found["E-1", "denial"]
    assert early.verdict is Verdict.MISMATCH
    assert early.values["capture"]["utc"] == "2019-07-20T13:30:00+00:00"
    assert "captured before the incident" in early.detail and "offset_tag" in early.detail
    assert found["E-2", "denial"].verdict is Verdict.CONSISTENT
    none = found["E-3", "denial"]
    assert none.verdict is Verdict.INCONCLUSIVE and "No capture time" in none.detail
    assert found["E-4", "other"].verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    "stamp", ["1901:01:01 00:00:00", "2999:12:31 23:59:59", "0000:00:00 00:00:00", "9999:99:99"]
)
def test_absurd_capture_dates_are_never_compared(tmp_path: Path, stamp: str):
    hostile = photo(tmp_path / "absurd.jpg", taken=stamp, offset="+99:99")
    [f] = run(
        CaptureTimeCheck(), [item(hostile, "E-1", "supports_claim")], date(2019, 7, 22)
    ).values()
    assert f.verdict is Verdict.INCONCLUSIVE


def test_unreadable_file_is_inconclusive_with_the_reason(tmp_path: Path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00" + b"\x00" * 40)
    [f] = run(
        CaptureTimeCheck(), [item(broken, "E-1", "supports_claim")], date(2019, 7, 22)
    ).values()
    assert f.verdict is Verdict.INCONCLUSIVE and f.values["capture"] is None


# ---------------------------------------------------------------------------- provenance


def test_real_photos_show_only_the_transfer_resave_which_never_counts(exif_dir: Path):
    real = item(exif_dir / "gps" / "DSCN0010.jpg", "E-1", "denial_footage")
    found = run(ProvenanceCheck(), [real], date(2008, 10, 22))
    assert set(found) == {("E-1", "modified_after_capture")}
    f = found["E-1", "modified_after_capture"]
    assert f.verdict is Verdict.INCONCLUSIVE and NOT_PROOF in f.detail
    assert f.values["software"] == "Nikon Transfer 1.1 W"
    assert f.values["captured"] == "2008-10-22T16:28:39"


def test_editor_stripped_and_resized_traces(tmp_path: Path):
    edited = photo(
        tmp_path / "edited.jpg",
        taken="2019:07:23 08:47:00",
        software="Adobe Photoshop CC 2019 (Windows)",
    )
    stripped = photo(tmp_path / "stripped.jpg", camera=False)
    resized = photo(tmp_path / "resized.jpg", taken="2019:07:23 08:47:00", exif_size=(1280, 720))
    clean = photo(tmp_path / "clean.jpg", taken="2019:07:23 08:47:00")
    items = [
        item(edited, "E-1", "denial_footage"),
        item(stripped, "E-2", "denial_footage"),
        item(resized, "E-3", "supports_claim"),
        item(clean, "E-4", "denial_footage"),
        item(edited, "E-5", "other"),
        item(stripped, "E-6", "other"),
    ]
    found = run(ProvenanceCheck(), items, date(2019, 7, 22))
    # Traces, not contradictions of what the denial or the claim says (audit 11): an editor
    # re-save, stripped EXIF and a resized copy are what sharing does to a genuine photo too.
    editor = found["E-1", "editor_software"]
    assert editor.verdict is Verdict.INCONCLUSIVE
    assert editor.values["editor"] == "photoshop" and editor.values["presented_as"] == ["denial"]
    assert NOT_PROOF in editor.detail and "offered by the denial" in editor.detail.lower()
    assert "does not contradict that on its own" in editor.detail
    strip = found["E-2", "stripped_metadata"]
    assert strip.verdict is Verdict.INCONCLUSIVE and strip.values["exif_tag_count"] == "0"
    assert "messaging apps and social platforms strip it" in strip.detail
    size = found["E-3", "dimensions_disagree"]
    assert size.verdict is Verdict.INCONCLUSIVE
    assert (size.values["exif_size"], size.values["decoded_size"]) == ("1280x720", "320x240")
    [ok] = [f for k, f in found.items() if k[0] == "E-4"]
    assert ok.verdict is Verdict.CONSISTENT and ok.values["make"] == "samsung"
    assert found["E-5", "editor_software"].verdict is Verdict.INCONCLUSIVE
    # Not presented as an original: missing metadata is no trace at all.
    assert [f.verdict for k, f in found.items() if k[0] == "E-6"] == [Verdict.CONSISTENT]


def test_thumbnail_of_another_picture(tmp_path: Path):
    path = photo_with_thumbnail(tmp_path, scene(2), jpeg_bytes(scene(1).resize((160, 120))))
    found = run(ProvenanceCheck(), [item(path, "E-1", "denial_footage")], date(2019, 7, 22))
    f = found["E-1", "thumbnail_differs"]
    # The pixels changed after capture (a crop as much as a forgery): a trace, and a warning
    # that the file's own capture time and GPS may describe the thumbnail's picture.
    assert f.verdict is Verdict.INCONCLUSIVE
    assert "capture_time and gps_place findings of this item" in f.detail
    assert int(f.values["distance"]) > int(f.values["threshold"])
    assert f.values["thumbnail_phash"] != f.values["image_phash"]


def test_a_png_or_truncated_photo_without_exif_is_a_trace_not_a_mismatch(tmp_path: Path):
    png = tmp_path / "screenshot.png"
    Image.open(photo(tmp_path / "shot.jpg", camera=False)).save(png)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photo(tmp_path / "full.jpg", camera=False).read_bytes()[:2000])
    shot = item(png, "E-1", "supports_claim")
    found = run(
        ProvenanceCheck(), [shot, item(truncated, "E-2", "denial_footage")], date(2019, 7, 22)
    )
    assert all(f.verdict is Verdict.INCONCLUSIVE for f in found.values())
    assert (
        "PNG files (screenshots, re-exports) seldom carry EXIF"
        in found["E-1", "stripped_metadata"].detail
    )
    assert "offered by the denial" in found["E-2", "stripped_metadata"].detail.lower()


def test_missing_blob_is_inconclusive(tmp_path: Path):
    path = photo_with_thumbnail(tmp_path, scene(1), jpeg_bytes(scene(1).resize((160, 120))))
    info = item(path, "E-1", "denial_footage")
    shutil.move(path, tmp_path / "elsewhere.jpg")
    found = run(ProvenanceCheck(), [info], date(2019, 7, 22))
    assert ("E-1", "thumbnail_unreadable") in found
    assert all(f.verdict is Verdict.INCONCLUSIVE for f in found.values())


def test_video_without_creation_time(tmp_path: Path):
    path = write_video(
        tmp_path / "clip.mp4", [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(10)], 10
    )
    video = item(path, "E-1", "denial_footage")
    assert video.metadata["media_type"] == "video/mp4"
    [t] = run(CaptureTimeCheck(), [video], date(2019, 7, 22), date(2019, 7, 23)).values()
    assert t.verdict is Verdict.INCONCLUSIVE and "No capture time" in t.detail
    [p] = run(ProvenanceCheck(), [video], date(2019, 7, 22)).values()
    assert p.verdict is Verdict.INCONCLUSIVE and "not examined" in p.detail


def test_all_real_gps_photos_against_incident_dates(exif_dir: Path):
    """Ground truth: each file's own DateTimeOriginal, read independently with Pillow."""
    files = sorted((exif_dir / "gps").glob("*.jpg"))
    assert len(files) == 9
    items = [item(p, f"E-{n}", "supports_claim") for n, p in enumerate(files)]
    for n, path in enumerate(files):
        with Image.open(path) as img:
            stamp = img.getexif().get_ifd(_EXIF_IFD)[_DTO]
        assert items[n].metadata["capture"]["local"] == stamp.replace(":", "-", 2).replace(" ", "T")
    expected = {
        date(2008, 10, 21): Verdict.CONSISTENT,  # the day before: after it in every zone
        date(2008, 10, 22): Verdict.INCONCLUSIVE,  # same day, zone unknown
        date(2008, 10, 24): Verdict.MISMATCH,  # two days later: before it in every zone
    }
    for incident, verdict in expected.items():
        found = run(CaptureTimeCheck(), items, incident)
        assert len(found) == 9
        assert {f.verdict for f in found.values()} == {verdict}, incident


def test_gps_place_without_sites_says_inconclusive_for_each_item(exif_dir: Path, tmp_path: Path):
    from cases.checks.gps_place import GpsPlaceCheck

    with_gps = item(exif_dir / "gps" / "DSCN0010.jpg", "E-1", "supports_claim")
    without = item(photo(tmp_path / "plain.jpg"), "E-2", "denial_footage")
    found = {
        f.items[0]: f
        for f in run(GpsPlaceCheck(), [with_gps, without], date(2008, 10, 22)).values()
    }
    assert set(found) == {"E-1", "E-2"}  # none skipped silently
    assert {f.verdict for f in found.values()} == {Verdict.INCONCLUSIVE}
    assert found["E-1"].values["position"]["lat"] == pytest.approx(43.46, abs=0.01)
    assert "no site to compare its recorded position 43.4" in found["E-1"].detail
    assert found["E-2"].values["position"] is None and "records none" in found["E-2"].detail
