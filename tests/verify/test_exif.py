"""Tests for verify.exif and verify.exifparse on real photos, Pillow-written EXIF and hand-built
hostile TIFF structures."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from verify.capturetime import ZoneSource
from verify.errors import MetadataError, UnreadableMediaError, UnsupportedMediaError, VerifyError
from verify.exif import ImageSize, PhotoMetadata, extract_photo_metadata, extract_thumbnail
from verify.exifparse import (
    dms_to_degrees,
    gps_datetime,
    parse_exif_date,
    parse_exif_datetime,
    parse_utc_offset,
    rational_to_float,
    signed_coordinate,
)

# Only a guard against hangs, generous for a loaded 2-core CI machine: tests assert that work is
# bounded (read budget, loop detection), never how fast; timings are measured in
# benchmarks/bench_metadata.py ("well under a second" per file is met there at <= 0.5 ms).
HANG_BOUND_S = 20.0


def run_bounded(func, *args):
    """Run func in a daemon thread; fail (instead of hanging the suite) if it does not finish."""
    box: dict[str, object] = {}

    def target():
        start = time.perf_counter()
        try:
            box["result"] = func(*args)
        except BaseException as exc:  # re-raised in the test thread below
            box["error"] = exc
        box["elapsed"] = time.perf_counter() - start

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_BOUND_S)
    assert not thread.is_alive(), f"{func.__name__}{args} did not finish in {HANG_BOUND_S} s"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"], box["elapsed"]


# -- hand-built EXIF ---------------------------------------------------------------------------

ASCII, SHORT, LONG, RATIONAL, SRATIONAL = 2, 3, 4, 5, 10
_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 10: 8}


def ascii_(tag, text):
    data = text.encode() + b"\x00"
    return (tag, ASCII, len(data), data)


def short(tag, value):
    return (tag, SHORT, 1, struct.pack("<H", value))


def long_(tag, value):
    return (tag, LONG, 1, struct.pack("<I", value))


def rationals(tag, pairs, kind=RATIONAL):
    fmt = "<II" if kind == RATIONAL else "<ii"
    return (tag, kind, len(pairs), b"".join(struct.pack(fmt, n, d) for n, d in pairs))


def build_tiff(ifd0, exif=None, gps=None):
    """A little-endian TIFF/EXIF structure with IFD0 and optional EXIF and GPS sub-IFDs."""
    ifd0 = list(ifd0)
    subs = []
    if exif is not None:
        ifd0.append(long_(0x8769, 0))
        subs.append(("exif", 0x8769, exif))
    if gps is not None:
        ifd0.append(long_(0x8825, 0))
        subs.append(("gps", 0x8825, gps))
    ifds = [ifd0] + [entries for _, _, entries in subs]
    offsets, pos = [], 8
    for entries in ifds:
        offsets.append(pos)
        pos += 2 + 12 * len(entries) + 4
    data_area = bytearray()
    data_start = pos
    pointer = {tag: offsets[i + 1] for i, (_, tag, _) in enumerate(subs)}
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for entries in ifds:
        out += struct.pack("<H", len(entries))
        for tag, kind, count, payload in sorted(entries, key=lambda e: e[0]):
            if tag in pointer and entries is ifd0:
                payload = struct.pack("<I", pointer[tag])
            if len(payload) <= 4:
                value = payload.ljust(4, b"\x00")
            else:
                value = struct.pack("<I", data_start + len(data_area))
                data_area += payload + (b"\x00" if len(payload) % 2 else b"")
            out += struct.pack("<HHI", tag, kind, count) + value
        out += struct.pack("<I", 0)
    return bytes(out + data_area)


def small_jpeg(color=(200, 40, 40), size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def jpeg_with_exif(tiff: bytes, jpeg: bytes | None = None) -> bytes:
    """Insert an Exif APP1 segment carrying `tiff` right after the SOI of a real JPEG."""
    jpeg = jpeg or small_jpeg()
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


GOOD_GPS = [
    ascii_(0x0001, "S"),
    rationals(0x0002, [(33, 1), (51, 1), (5400, 100)]),
    ascii_(0x0003, "W"),
    rationals(0x0004, [(70, 1), (30, 1), (0, 1)]),
]


# -- parsers (property tests) -------------------------------------------------------------------


@given(st.integers(-(2**31), 2**31), st.integers(1, 2**32))
def test_rational_is_exact_division(num, den):
    assert rational_to_float(num, den) == num / den


@given(st.integers(-(2**31), 2**32))
def test_zero_denominator_is_refused(num):
    with pytest.raises(MetadataError, match="zero denominator"):
        rational_to_float(num, 0)


@given(
    st.integers(0, 180),
    st.floats(0, 60, exclude_max=True),
    st.floats(0, 60, exclude_max=True),
)
def test_dms_round_trips(deg, minutes, seconds):
    value = dms_to_degrees(deg, minutes, seconds)
    # Minutes and seconds each stay below 60, so together they add less than 1 + 1/60 degree.
    assert deg <= value <= deg + 1 + 1 / 60 + 1e-9
    back_minutes = (value - deg) * 60
    assert back_minutes == pytest.approx(minutes + seconds / 60, abs=1e-6)


@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True))
def test_dms_never_accepts_bad_minutes(minutes, seconds):
    try:
        value = dms_to_degrees(10, minutes, seconds)
    except MetadataError:
        return
    assert 0 <= minutes < 60 and 0 <= seconds < 60 and 10 <= value <= 11 + 1 / 60 + 1e-9


@given(st.floats(0, 90), st.sampled_from(["N", "S", "n", "s ", None, "", "X"]))
def test_latitude_reference_applied_or_refused(magnitude, ref):
    if ref is None or ref.strip().upper() not in ("N", "S"):
        with pytest.raises(MetadataError):
            signed_coordinate(magnitude, ref, "lat")
        return
    value = signed_coordinate(magnitude, ref, "lat")
    assert value == (magnitude if ref.strip().upper() == "N" else -magnitude)


def test_coordinate_out_of_range_refused():
    with pytest.raises(MetadataError, match="outside"):
        signed_coordinate(95.0, "N", "lat")
    with pytest.raises(MetadataError, match="outside"):
        signed_coordinate(181.0, "E", "lon")


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_exif_datetime_round_trips(moment):
    moment = moment.replace(microsecond=0)
    assert parse_exif_datetime(moment.strftime("%Y:%m:%d %H:%M:%S").rjust(19, "0")) == moment


@pytest.mark.parametrize(
    "text",
    [
        "0000:00:00 00:00:00",
        "    :  :     :  :  ",
        "2020:13:45 10:00:00",
        "2020:02:30 25:61:00",
        "",
    ],
)
def test_exif_datetime_refuses_placeholders_and_impossible_dates(text):
    with pytest.raises(MetadataError):
        parse_exif_datetime(text)


@given(st.integers(-12 * 4, 14 * 4))
def test_utc_offset_round_trips(quarters):
    offset = timedelta(minutes=15 * quarters)
    total = int(offset.total_seconds()) // 60
    text = f"{'-' if total < 0 else '+'}{abs(total) // 60:02d}:{abs(total) % 60:02d}"
    assert parse_utc_offset(text) == offset


@pytest.mark.parametrize("text", ["+15:00", "-13:00", "+02:75", "02:00", "Z"])
def test_utc_offset_refused(text):
    with pytest.raises(MetadataError):
        parse_utc_offset(text)


def test_gps_datetime_is_utc():
    stamp = gps_datetime(parse_exif_date("2008:10:23"), (14.0, 27.0, 7.24))
    assert stamp == datetime(2008, 10, 23, 14, 27, 7, 240000, tzinfo=UTC)
    with pytest.raises(MetadataError):
        gps_datetime(date(2008, 1, 1), (24.0, 0.0, 0.0))


# -- real files ---------------------------------------------------------------------------------


def pillow_gps(path: Path) -> tuple[float, float, str]:
    """Latitude, longitude and DateTimeOriginal read independently with Pillow."""
    exif = Image.open(path).getexif()
    gps = exif.get_ifd(0x8825)

    def degrees(values, ref, negative):
        d, m, s = (float(v) for v in values)
        value = d + m / 60 + s / 3600
        return -value if ref.strip() == negative else value

    lat = degrees(gps[2], gps[1], "S")
    lon = degrees(gps[4], gps[3], "W")
    return lat, lon, exif.get_ifd(0x8769)[0x9003]


def test_real_gps_photos_match_pillow(exif_dir):
    files = sorted((exif_dir / "gps").glob("*.jpg"))
    assert len(files) == 9
    for path in files:
        meta = extract_photo_metadata(path)
        lat, lon, dto = pillow_gps(path)
        assert meta.gps is not None, path.name
        assert meta.gps.position.lat == pytest.approx(lat, abs=1e-9)
        assert meta.gps.position.lon == pytest.approx(lon, abs=1e-9)
        assert meta.capture is not None
        assert meta.capture.local == datetime.strptime(dto, "%Y:%m:%d %H:%M:%S")
        assert (meta.make, meta.model) == ("NIKON", "COOLPIX P6000")
        assert meta.thumbnail is not None and meta.thumbnail.format == "jpeg"
        assert meta.decoded_size == meta.exif_size
        assert meta.gps.datum == "WGS-84"
        # Arezzo, Italy.
        assert 43.4 < meta.gps.position.lat < 43.5 and 11.8 < meta.gps.position.lon < 11.9


def test_real_gps_clock_disagreeing_by_a_day_leaves_zone_unknown(exif_dir):
    # These files' GPSDateStamp is a day after DateTimeOriginal (22 h apart): not a zone offset.
    meta = extract_photo_metadata(exif_dir / "gps" / "DSCN0010.jpg")
    assert meta.capture.zone is ZoneSource.UNKNOWN and meta.capture.utc is None
    assert meta.gps.timestamp_utc == datetime(2008, 10, 23, 14, 27, 7, 240000, tzinfo=UTC)
    assert any("not a time-zone offset" in p for p in meta.problems)


def test_real_orientation_set(exif_dir):
    files = sorted((exif_dir / "orientation").glob("*.jpg"))
    assert len(files) == 16
    for path in files:
        meta = extract_photo_metadata(path)
        expected = int(path.stem.split("_")[1])
        assert meta.orientation == expected == Image.open(path).getexif()[0x0112]


def test_invalid_set_finishes_fast_without_untyped_errors(exif_dir):
    files = sorted((exif_dir / "invalid").glob("*.jpg"))
    assert len(files) == 7
    for path in files:
        try:
            meta, _ = run_bounded(extract_photo_metadata, path)
        except VerifyError:
            continue
        assert isinstance(meta, PhotoMetadata)
        assert meta.decoded_size is not None


def test_heif_sample(exif_dir):
    meta = extract_photo_metadata(exif_dir / "sample.heif")
    assert meta.media_type == "image/heif"
    assert meta.orientation == 1
    assert meta.exif_tag_count > 0
    # Decoded through pillow-heif: the size is measured and nothing is left unexplained.
    assert meta.decoded_size == ImageSize(640, 426) and meta.problems == ()


def test_json_round_trip_of_real_file(exif_dir):
    meta = extract_photo_metadata(exif_dir / "gps" / "DSCN0025.jpg")
    text = json.dumps(meta.to_dict())
    assert PhotoMetadata.from_dict(json.loads(text)) == meta


def test_thumbnail_bytes_are_a_jpeg(exif_dir):
    data = extract_thumbnail(exif_dir / "gps" / "DSCN0012.jpg")
    assert data is not None and data[:2] == b"\xff\xd8"
    assert Image.open(io.BytesIO(data)).size == (160, 120)


# -- Pillow-written EXIF ------------------------------------------------------------------------


def pillow_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif[0x0110] = "Model 7"
    exif[0x0131] = "Adobe Photoshop 25.0"
    exif[0x0112] = 6
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2024:05:06 12:00:00"
    sub[0x9011] = "+03:00"
    sub[0xA002] = 64
    sub[0xA003] = 48
    sub[0xA431] = "SN123"
    sub[0xA434] = "Wide 24mm"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.5)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.2)
    gps[5] = b"\x00"
    gps[6] = 35.5
    gps[0x10] = "T"
    gps[0x11] = 270.25
    gps[0x1F] = 4.5
    return exif


@pytest.mark.parametrize(
    "stamp,offset", [("9999:12:31 23:59:59", "-12:00"), ("0001:01:01 00:00:00", "+14:00")]
)
def test_a_capture_time_off_the_calendar_in_utc_keeps_its_zone_unknown(tmp_path, stamp, offset):
    """Legal tags whose UTC instant is past year 9999 or before year 1: converting them
    overflowed, and a hostile file stopped `evidence add` with an internal error."""
    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = stamp
    sub[0x9011] = offset
    path = tmp_path / "far.jpg"
    Image.new("RGB", (64, 48), (10, 120, 200)).save(path, "JPEG", exif=exif)
    meta = extract_photo_metadata(path)
    assert meta.capture.zone is ZoneSource.UNKNOWN and meta.capture.utc is None
    assert meta.capture.local == datetime.strptime(stamp, "%Y:%m:%d %H:%M:%S")
    assert any(f"offset {offset} is outside the calendar" in p for p in meta.problems)


@pytest.mark.parametrize(
    "fmt,suffix", [("JPEG", "jpg"), ("PNG", "png"), ("TIFF", "tif"), ("WEBP", "webp")]
)
def test_pillow_written_exif_in_each_format(tmp_path, fmt, suffix):
    path = tmp_path / f"cam.{suffix}"
    Image.new("RGB", (64, 48), (10, 120, 200)).save(path, fmt, exif=pillow_exif())
    meta = extract_photo_metadata(path)
    assert (meta.make, meta.model) == ("TestCam", "Model 7")
    assert meta.software == "Adobe Photoshop 25.0"
    assert meta.orientation == 6
    if fmt == "TIFF":
        # Pillow's TIFF writer keeps IFD0 only (sub-IFDs are dropped): see the raw-TIFF test.
        assert meta.gps is None and meta.capture is None
        return
    assert (meta.serial, meta.lens) == ("SN123", "Wide 24mm")
    assert meta.capture.zone is ZoneSource.OFFSET_TAG
    assert meta.capture.utc == datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
    assert meta.capture.utc_offset_minutes == 180
    assert meta.gps.position.lat == pytest.approx(48 + 51 / 60 + 29.5 / 3600)
    assert meta.gps.position.lon == pytest.approx(2 + 17 / 60 + 40.2 / 3600)
    assert meta.gps.altitude_m == pytest.approx(35.5)
    assert meta.gps.direction_deg == pytest.approx(270.25) and meta.gps.direction_ref == "T"
    assert meta.gps.horizontal_error_m == pytest.approx(4.5)
    assert meta.exif_size.width == 64 and meta.decoded_size.width == 64
    assert PhotoMetadata.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta


def test_raw_tiff_with_gps_and_exif_sub_ifds(tmp_path):
    tiff = build_tiff(
        [ascii_(0x010F, "RawCam")], exif=[ascii_(0x9003, "2021:08:20 07:34:45")], gps=GOOD_GPS
    )
    meta = extract_photo_metadata(write(tmp_path, "raw.tif", tiff))
    assert meta.media_type == "image/tiff" and meta.make == "RawCam"
    assert meta.gps.position.lat == pytest.approx(-(33 + 51 / 60 + 54 / 3600))
    assert meta.gps.position.lon == pytest.approx(-70.5)
    assert meta.capture.local == datetime(2021, 8, 20, 7, 34, 45)
    # No pixel data in this structure: recorded, not raised.
    assert meta.decoded_size is None and any("not decodable" in p for p in meta.problems)


def test_gps_clock_gives_zone_when_it_agrees(tmp_path):
    tiff = build_tiff(
        [ascii_(0x010F, "X")],
        exif=[ascii_(0x9003, "2024:05:06 12:00:40")],
        gps=[
            *GOOD_GPS,
            rationals(0x0007, [(10, 1), (0, 1), (5, 1)]),
            ascii_(0x001D, "2024:05:06"),
        ],
    )
    meta = extract_photo_metadata(write(tmp_path, "g.jpg", jpeg_with_exif(tiff)))
    assert meta.capture.zone is ZoneSource.GPS
    assert meta.capture.utc_offset_minutes == 120
    assert meta.capture.utc == datetime(2024, 5, 6, 10, 0, 40, tzinfo=UTC)
    assert meta.gps.position.lat < 0 and meta.gps.position.lon < 0


# -- hostile values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gps,reason",
    [
        ([ascii_(1, "N"), rationals(2, [(95, 1), (0, 1), (0, 1)]), *GOOD_GPS[2:]], "outside"),
        (
            [ascii_(1, "N"), rationals(2, [(45, 0), (0, 1), (0, 1)]), *GOOD_GPS[2:]],
            "zero denominator",
        ),
        ([ascii_(1, "N"), rationals(2, [(45, 1), (75, 1), (0, 1)]), *GOOD_GPS[2:]], "not below 60"),
        ([rationals(2, [(45, 1), (0, 1), (0, 1)]), *GOOD_GPS[2:]], "hemisphere unknown"),
        (
            [
                ascii_(1, "N"),
                rationals(2, [(0, 1)] * 3),
                ascii_(3, "E"),
                rationals(4, [(0, 1)] * 3),
            ],
            "0,0",
        ),
        (GOOD_GPS[:2], "only one"),
        ([*GOOD_GPS, ascii_(0x0009, "V")], "void"),
    ],
)
def test_hostile_gps_is_refused_with_reason(tmp_path, gps, reason):
    tiff = build_tiff([ascii_(0x010F, "X")], gps=gps)
    meta = extract_photo_metadata(write(tmp_path, "h.jpg", jpeg_with_exif(tiff)))
    assert meta.gps is None
    assert meta.make == "X"
    assert any(reason in p for p in meta.problems), meta.problems


def test_zero_denominator_altitude_keeps_position(tmp_path):
    gps = [*GOOD_GPS, rationals(0x0006, [(100, 0)]), rationals(0x001F, [(-5, 1)], SRATIONAL)]
    meta = extract_photo_metadata(write(tmp_path, "a.jpg", jpeg_with_exif(build_tiff([], gps=gps))))
    assert meta.gps is not None and meta.gps.altitude_m is None
    assert meta.gps.horizontal_error_m is None
    assert any("GPSAltitude" in p and "zero denominator" in p for p in meta.problems)
    assert any("GPSHPositioningError" in p for p in meta.problems)


@pytest.mark.parametrize(
    "text,year",
    [("2999:01:01 00:00:00", 2999), ("0001:01:01 00:00:00", 1), ("0000:00:00 00:00:00", None)],
)
def test_absurd_dates_are_kept_or_refused_never_crash(tmp_path, text, year):
    tiff = build_tiff([], exif=[ascii_(0x9003, text)])
    meta = extract_photo_metadata(write(tmp_path, "d.jpg", jpeg_with_exif(tiff)))
    if year is None:
        assert meta.capture is None and any("placeholder" in p for p in meta.problems)
    else:
        assert meta.capture.local.year == year and meta.capture.zone is ZoneSource.UNKNOWN


def huge_ifd_tiff(entries_declared: int = 65535) -> bytes:
    """IFD0 declaring 65535 entries in a few hundred bytes, with absurd counts and offsets."""
    body = bytearray(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", entries_declared))
    for i in range(20):
        # ASCII tags claiming 4 GB at offsets past the end; RATIONAL with a huge count.
        body += struct.pack("<HHII", 0x010F + (i % 3), ASCII, 0xFFFFFFFF, 0xFFFFFF00)
        body += struct.pack("<HHII", 0x8825, LONG, 1, 0xFFFFFFF0)
        body += struct.pack("<HHII", 0x0002, RATIONAL, 999, 12)
    return bytes(body)


def self_loop_tiff() -> bytes:
    """Two IFDs whose next-IFD pointers point at each other, each pointing to EXIF = itself."""
    ifd_a = struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, LONG, 1, 8) + struct.pack("<I", 26)
    ifd_b = struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, LONG, 1, 26) + struct.pack("<I", 8)
    return b"II*\x00" + struct.pack("<I", 8) + ifd_a + ifd_b


@pytest.mark.parametrize("builder", [huge_ifd_tiff, self_loop_tiff])
@pytest.mark.parametrize("container", ["jpeg", "tiff"])
def test_absurd_tag_counts_and_offsets_finish(tmp_path, builder, container):
    tiff = builder()
    data = jpeg_with_exif(tiff) if container == "jpeg" else tiff
    path = write(tmp_path, f"x.{container}", data)
    meta, _ = run_bounded(extract_photo_metadata, path)
    assert isinstance(meta, PhotoMetadata)
    # Bounded by work, not by the clock (a loaded CI machine is slow): the read budget or the
    # loop detection stopped it, and said so.
    stopped = "abandoned after" if builder is huge_ifd_tiff else "loop"
    assert any(stopped in problem for problem in meta.problems), meta.problems
    assert meta.gps is None
    if container == "tiff":
        # Not a decodable TIFF image either: recorded, not raised.
        assert meta.decoded_size is None and meta.problems


def test_not_an_image_raises_typed_errors(tmp_path):
    with pytest.raises(UnreadableMediaError, match="empty"):
        extract_photo_metadata(write(tmp_path, "empty.jpg", b""))
    with pytest.raises(UnsupportedMediaError, match="not an image"):
        extract_photo_metadata(write(tmp_path, "notes.jpg", b"a statement, not a photo\n"))
    with pytest.raises(UnreadableMediaError):
        extract_photo_metadata(tmp_path / "missing.jpg")


def test_truncated_real_jpeg_still_gives_metadata(tmp_path, exif_dir):
    data = (exif_dir / "gps" / "DSCN0010.jpg").read_bytes()
    meta = extract_photo_metadata(write(tmp_path, "cut.jpg", data[:3000]))
    # The EXIF block survives the cut (it sits in the first segment); GPS data lies further in.
    assert meta.make == "NIKON"
    meta = extract_photo_metadata(write(tmp_path, "cut2.jpg", data[:40]))
    assert meta.make is None and meta.gps is None
    assert any("Exif segment truncated" in p for p in meta.problems)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_real_jpeg_never_escapes_untyped(tmp_path_factory, exif_dir, data):
    original = (exif_dir / "gps" / "DSCN0040.jpg").read_bytes()
    head = bytearray(original[:20_000])
    for _ in range(data.draw(st.integers(1, 12))):
        pos = data.draw(st.integers(2, len(head) - 1))
        head[pos] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("fuzz") / "m.jpg"
    path.write_bytes(bytes(head) + original[20_000:])
    try:
        meta, _ = run_bounded(extract_photo_metadata, path)
    except VerifyError:
        return
    json.dumps(meta.to_dict())


def test_content_not_extension_decides_and_odd_paths_work(tmp_path):
    folder = tmp_path / "dir with spaces" / "ünïcödé"
    folder.mkdir(parents=True)
    path = folder / "photo that lies.jpg"
    Image.new("RGB", (20, 10), (1, 2, 3)).save(path, "PNG", exif=pillow_exif())
    meta = extract_photo_metadata(path)
    assert meta.media_type == "image/png" and meta.make == "TestCam"
    assert meta.decoded_size.width == 20


def test_hostile_exif_prints_nothing(tmp_path):
    """In a plain interpreter (no pytest log capture) exifread's warnings must not reach stderr."""
    path = write(tmp_path, "h.tif", huge_ifd_tiff())
    code = (
        "import sys; from pathlib import Path; from verify.exif import extract_photo_metadata; "
        "m = extract_photo_metadata(Path(sys.argv[1])); assert m.problems"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


def test_failing_thumbnail_step_does_not_lose_the_tags(tmp_path, exif_dir, monkeypatch):
    """exifread's thumbnail extraction trusts offsets and counts; when it fails, a second pass
    without it keeps every tag and records why the thumbnail is missing."""
    from exifread.core.exif_header import ExifHeader

    def broken(self):
        raise struct.error("unpack requires a buffer of 4 bytes")

    monkeypatch.setattr(ExifHeader, "extract_jpeg_thumbnail", broken)
    meta = extract_photo_metadata(exif_dir / "gps" / "DSCN0010.jpg")
    assert meta.make == "NIKON" and meta.gps is not None
    assert meta.thumbnail is None
    assert any("unreadable with thumbnail: error" in p for p in meta.problems), meta.problems


def test_formats_without_exif_are_quiet(tmp_path):
    for fmt in ("GIF", "BMP"):
        path = tmp_path / f"x.{fmt.lower()}"
        Image.new("RGB", (8, 8)).save(path, fmt)
        meta = extract_photo_metadata(path)
        assert meta.exif_tag_count == 0 and meta.problems == ()
        assert meta.decoded_size.width == 8


def test_webp_declaring_a_bomb_canvas_is_recorded_not_raised(tmp_path):
    """Regression (fuzzing): Pillow raises DecompressionBombError from the WebP header parser,
    which open_image does not translate; extraction must still return a result."""
    path = tmp_path / "bomb.webp"
    Image.new("RGB", (64, 48)).save(path, "WEBP", exif=pillow_exif())
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"VP8X"
    data[24:30] = b"\xff\xff\x3f\xff\xff\x3f"  # canvas 4194304 x 4194304
    path.write_bytes(bytes(data))
    meta = extract_photo_metadata(path)
    assert meta.make == "TestCam"
    assert meta.decoded_size is None
    assert any("not decodable" in p for p in meta.problems), meta.problems


@pytest.mark.parametrize("fmt,suffix", [("PNG", "png"), ("WEBP", "webp")])
def test_a_file_without_exif_records_no_problem(tmp_path, fmt, suffix):
    # exifread logs "PNG file does not have exif data." as a warning; having no EXIF is not a
    # reading problem, and recorded as one it reached findings as library chatter.
    path = tmp_path / f"plain.{suffix}"
    Image.new("RGB", (64, 48), (10, 120, 200)).save(path, fmt)
    meta = extract_photo_metadata(path)
    assert not meta.problems and meta.exif_tag_count == 0
