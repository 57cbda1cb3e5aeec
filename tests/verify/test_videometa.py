"""Tests for verify.videometa: videos written by PyAV in tmp_path, and the ISO 6709 parser."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.capturetime import ZoneSource
from verify.errors import MetadataError, UnreadableMediaError, UnsupportedMediaError, VerifyError
from verify.videometa import VideoMetadata, extract_video_metadata, parse_iso6709

from .test_exif import run_bounded


def write_video(path: Path, metadata: dict[str, str], fmt: str = "mp4", frames: int = 12, **opts):
    container = av.open(str(path), "w", format=fmt, options=opts)
    for key, value in metadata.items():
        container.metadata[key] = value
    stream = container.add_stream("mpeg4", rate=24)
    stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(np.full((64, 96, 3), i * 15, np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


# -- ISO 6709 ------------------------------------------------------------------------------------


def test_iso6709_examples():
    parsed = parse_iso6709("+48.8577+002.2950+035.000/")
    assert (parsed.position.lat, parsed.position.lon, parsed.altitude_m) == (48.8577, 2.295, 35.0)
    parsed = parse_iso6709("-33.8688+151.2093/")
    assert (parsed.position.lat, parsed.position.lon) == (-33.8688, 151.2093)
    assert parsed.altitude_m is None
    # Degrees and decimal minutes.
    point = parse_iso6709("+4851.462+00217.700/").position
    assert point.lat == pytest.approx(48 + 51.462 / 60)
    assert point.lon == pytest.approx(2 + 17.7 / 60)
    # Degrees, minutes, seconds, with a CRS suffix.
    point = parse_iso6709("+485127.7+0021742.0CRSWGS_84/").position
    assert point.lat == pytest.approx(48 + 51 / 60 + 27.7 / 3600)
    assert point.lon == pytest.approx(2 + 17 / 60 + 42 / 3600)
    # Short form without the terminator, as some phones write it.
    point = parse_iso6709(" +40.7-074.0 ").position
    assert (point.lat, point.lon) == (40.7, -74.0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/",
        "48.8577,2.2950",
        "+95.0+010.0/",
        "+45.0+190.0/",
        "+4875.0+00217.7/",
        "+1+2+3+4/",
        "+123456789+0/",
        "nan",
        "+48.8577+002.2950+inf/",
    ],
)
def test_iso6709_refuses_malformed(text):
    with pytest.raises(MetadataError):
        parse_iso6709(text)


@given(st.floats(-90, 90), st.floats(-180, 180), st.none() | st.floats(-500, 9000))
def test_iso6709_decimal_round_trip(lat, lon, alt):
    text = f"{lat:+08.4f}{lon:+09.4f}" + (f"{alt:+.3f}" if alt is not None else "") + "/"
    parsed = parse_iso6709(text)
    point, parsed_alt = parsed.position, parsed.altitude_m
    assert point.lat == pytest.approx(lat, abs=5e-5) and point.lon == pytest.approx(lon, abs=5e-5)
    assert parsed_alt == (pytest.approx(alt, abs=5e-4) if alt is not None else None)


@given(st.integers(0, 89), st.integers(0, 59), st.integers(0, 59), st.sampled_from("+-"))
def test_iso6709_dms_round_trip(deg, minutes, seconds, sign):
    text = f"{sign}{deg:02d}{minutes:02d}{seconds:02d}.0+0100000.0/"
    parsed = parse_iso6709(text)
    point, _ = parsed.position, parsed.altitude_m
    expected = (deg + minutes / 60 + seconds / 3600) * (-1 if sign == "-" else 1)
    assert point.lat == pytest.approx(expected, abs=1e-9) and point.lon == 10.0


@settings(max_examples=300)
@given(st.text(alphabet="+-0123456789./CRSW_ ", max_size=40))
def test_iso6709_never_raises_untyped(text):
    try:
        point = parse_iso6709(text).position
    except (MetadataError, VerifyError):
        return
    assert -90 <= point.lat <= 90 and -180 <= point.lon <= 180


# -- container metadata ----------------------------------------------------------------------------


def test_mp4_location_creation_time_and_stream_facts(tmp_path):
    path = write_video(
        tmp_path / "clip.mp4",
        {"location": "+36.2021+037.1343+400.000/", "creation_time": "2024-03-11T08:15:00.000000Z"},
    )
    meta = extract_video_metadata(path)
    assert meta.media_type == "video/mp4"
    assert (meta.width, meta.height, meta.codec) == (96, 64, "mpeg4")
    assert meta.frame_rate == 24.0 and meta.declared_frames == 12
    assert meta.duration_s == pytest.approx(0.5, abs=0.05)
    assert meta.location.position.lat == pytest.approx(36.2021)
    assert meta.location.position.lon == pytest.approx(37.1343)
    assert meta.location.altitude_m == pytest.approx(400)
    assert meta.creation.zone is ZoneSource.CONTAINER_UTC
    assert meta.creation.utc == datetime(2024, 3, 11, 8, 15, tzinfo=UTC)
    assert meta.problems == ()
    assert VideoMetadata.from_dict(meta.to_dict()) == meta


def test_apple_keys_preferred_with_local_offset(tmp_path):
    path = write_video(
        tmp_path / "phone.mp4",
        {
            "com.apple.quicktime.location.ISO6709": "+48.8577+002.2950+035.000/",
            "location": "+10.0000+010.0000/",
            "com.apple.quicktime.creationdate": "2024-03-11T10:15:00+0200",
            "com.apple.quicktime.make": "Apple",
            "com.apple.quicktime.model": "iPhone 15",
        },
        movflags="use_metadata_tags",
    )
    meta = extract_video_metadata(path)
    assert meta.location.tag == "com.apple.quicktime.location.iso6709"
    assert meta.location.position.lat == pytest.approx(48.8577)
    assert meta.creation.zone is ZoneSource.OFFSET_TAG
    assert meta.creation.utc == datetime(2024, 3, 11, 8, 15, tzinfo=UTC)
    assert meta.creation.utc_offset_minutes == 120
    assert (meta.make, meta.model) == ("Apple", "iPhone 15")


def test_bad_location_and_zero_date_are_problems(tmp_path):
    # FFmpeg itself drops a zero mvhd creation_time; a string tag carries the zero date through.
    path = write_video(
        tmp_path / "bad.mp4",
        {
            "location": "+95.0000+010.0000/",
            "com.apple.quicktime.creationdate": "1904-01-01T00:00:00+0000",
        },
        movflags="use_metadata_tags",
    )
    meta = extract_video_metadata(path)
    assert meta.location is None and meta.creation is None
    assert any("location" in p for p in meta.problems)
    assert any("zero date" in p for p in meta.problems)


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-1200", "0001-01-01T00:00:00+1400"])
def test_a_creation_time_off_the_calendar_in_utc_is_a_problem(tmp_path, stamp):
    """Legal ISO 8601 whose UTC instant is past year 9999 or before year 1: converting it
    overflowed, and a hostile video stopped `evidence add` with an internal error."""
    path = write_video(
        tmp_path / "far.mp4",
        {"com.apple.quicktime.creationdate": stamp},
        movflags="use_metadata_tags",
    )
    meta = extract_video_metadata(path)
    assert meta.creation is None
    assert any("outside the calendar in UTC" in p for p in meta.problems)


def test_video_without_metadata(tmp_path):
    meta = extract_video_metadata(write_video(tmp_path / "plain.mp4", {}))
    assert meta.location is None
    assert meta.width == 96


def test_bad_files_raise_typed_errors_fast(tmp_path):
    good = write_video(tmp_path / "good.mp4", {"location": "+1.0+001.0/"}).read_bytes()
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableMediaError, match="empty"):
        extract_video_metadata(empty)
    text = tmp_path / "statement.mp4"
    text.write_text("not a video")
    with pytest.raises(UnsupportedMediaError):
        extract_video_metadata(text)
    for cut in (40, 300, len(good) // 2):
        path = tmp_path / f"cut{cut}.mp4"
        path.write_bytes(good[:cut])
        try:
            meta, _ = run_bounded(extract_video_metadata, path)
        except VerifyError:
            continue
        assert isinstance(meta, VideoMetadata)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(good[:32] + bytes(range(256)) * 40)
    with pytest.raises(VerifyError):
        run_bounded(extract_video_metadata, garbage)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_mutated_video_never_escapes_untyped(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("vfuzz")
    good = write_video(folder / "seed.mp4", {"location": "+1.0+001.0/"}, frames=4).read_bytes()
    mutated = bytearray(good)
    for _ in range(data.draw(st.integers(1, 16))):
        mutated[data.draw(st.integers(8, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    path = folder / "m.mp4"
    path.write_bytes(bytes(mutated))
    try:
        meta, _ = run_bounded(extract_video_metadata, path)
    except VerifyError:
        return
    VideoMetadata.from_dict(meta.to_dict())
