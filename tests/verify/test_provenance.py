"""Tests for verify.provenance on real photos and on JPEGs whose EXIF (and embedded thumbnail)
the tests write themselves."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from verify.exif import extract_photo_metadata
from verify.provenance import NOT_PROOF, THUMBNAIL_PHASH_MAX_DISTANCE, TraceKind, find_traces


def scene(seed: int, size=(640, 480)) -> Image.Image:
    """A smooth picture of random shapes: perceptual hashes of two seeds differ widely."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.integers(0, size[0]), rng.integers(0, size[1])
        w, h = rng.integers(60, 300), rng.integers(60, 300)
        box = (int(x0), int(y0), int(x0 + w), int(y0 + h))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return img


def jpeg_bytes(img: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, **kwargs)
    return buf.getvalue()


def exif_with_thumbnail(
    thumb: bytes, *, orientation: int = 1, software: str | None = None
) -> bytes:
    """TIFF/EXIF bytes: IFD0 (Make, Orientation, Software) then IFD1 holding a JPEG thumbnail."""
    entries0 = [(0x010F, 2, 4, b"Cam\x00")]
    entries0.append((0x0112, 3, 1, struct.pack("<H", orientation) + b"\x00\x00"))
    soft = software.encode() + b"\x00" if software else b""
    n0 = len(entries0) + (1 if software else 0)
    ifd0_at, ifd1_at = 8, 8 + 2 + 12 * n0 + 4
    data_at = ifd1_at + 2 + 12 * 3 + 4
    thumb_at = data_at + len(soft)
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd0_at) + struct.pack("<H", n0))
    for tag, kind, count, value in entries0:
        out += struct.pack("<HHI", tag, kind, count) + value[:4].ljust(4, b"\x00")
    if software:
        out += struct.pack("<HHII", 0x0131, 2, len(soft), data_at)
    out += struct.pack("<I", ifd1_at) + struct.pack("<H", 3)
    out += struct.pack("<HHI", 0x0103, 3, 1) + struct.pack("<H", 6) + b"\x00\x00"
    out += struct.pack("<HHII", 0x0201, 4, 1, thumb_at)
    out += struct.pack("<HHII", 0x0202, 4, 1, len(thumb))
    out += struct.pack("<I", 0)
    return bytes(out + soft + thumb)


def photo_with_thumbnail(tmp_path: Path, main: Image.Image, thumb: bytes, **kwargs) -> Path:
    data = jpeg_bytes(main)
    payload = b"Exif\x00\x00" + exif_with_thumbnail(thumb, **kwargs)
    path = tmp_path / "photo.jpg"
    path.write_bytes(
        data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]
    )
    return path


THUMBNAIL_KINDS = {TraceKind.THUMBNAIL_DIFFERS, TraceKind.THUMBNAIL_UNREADABLE}


def kinds(traces) -> set[TraceKind]:
    return {t.kind for t in traces}


def assert_all_say_not_proof(traces):
    for trace in traces:
        assert trace.detail.endswith(NOT_PROOF)
        assert trace.to_dict()["kind"] == trace.kind.value


def test_matching_thumbnail_gives_no_trace(tmp_path):
    main = scene(1)
    path = photo_with_thumbnail(tmp_path, main, jpeg_bytes(main.resize((160, 120))))
    meta = extract_photo_metadata(path)
    assert meta.thumbnail is not None and meta.make == "Cam"
    assert not kinds(find_traces(meta, path)) & THUMBNAIL_KINDS


def test_thumbnail_of_another_picture_is_a_trace_naming_the_hashes(tmp_path):
    path = photo_with_thumbnail(tmp_path, scene(1), jpeg_bytes(scene(2).resize((160, 120))))
    traces = find_traces(extract_photo_metadata(path), path)
    trace = next(t for t in traces if t.kind is TraceKind.THUMBNAIL_DIFFERS)
    values = dict(trace.values)
    assert int(values["distance"]) > THUMBNAIL_PHASH_MAX_DISTANCE
    assert values["thumbnail_phash"] in trace.detail and values["image_phash"] in trace.detail
    assert_all_say_not_proof(traces)


def test_thumbnail_is_compared_in_the_main_image_orientation(tmp_path):
    main = scene(3)  # stored sideways, displayed rotated by orientation 6
    path = photo_with_thumbnail(tmp_path, main, jpeg_bytes(main.resize((160, 120))), orientation=6)
    meta = extract_photo_metadata(path)
    assert meta.orientation == 6
    assert not kinds(find_traces(meta, path)) & THUMBNAIL_KINDS


def test_letterboxed_thumbnail_still_matches(tmp_path):
    main = scene(4, size=(640, 360))
    thumb = Image.new("RGB", (160, 120))
    thumb.paste(main.resize((160, 90)), (0, 15))
    path = photo_with_thumbnail(tmp_path, main, jpeg_bytes(thumb))
    assert not kinds(find_traces(extract_photo_metadata(path), path)) & THUMBNAIL_KINDS


def test_undecodable_thumbnail_is_reported(tmp_path):
    path = photo_with_thumbnail(tmp_path, scene(5), b"\xff\xd8 not really a jpeg")
    traces = find_traces(extract_photo_metadata(path), path)
    assert TraceKind.THUMBNAIL_UNREADABLE in kinds(traces)
    assert_all_say_not_proof(traces)


def test_editor_software_is_a_trace(tmp_path):
    main = scene(6)
    path = photo_with_thumbnail(
        tmp_path, main, jpeg_bytes(main.resize((160, 120))), software="Snapseed 2.0"
    )
    traces = find_traces(extract_photo_metadata(path), path)
    trace = next(t for t in traces if t.kind is TraceKind.EDITOR_SOFTWARE)
    assert "'Snapseed 2.0'" in trace.detail and dict(trace.values)["editor"] == "snapseed"


def test_real_nikon_photos(exif_dir):
    for path in sorted((exif_dir / "gps").glob("*.jpg")):
        meta = extract_photo_metadata(path)
        traces = find_traces(meta, path, presented_as_original=True)
        found = kinds(traces)
        # Thumbnails match, sizes agree, "Nikon Transfer" is not an editor, EXIF is complete.
        assert found == {TraceKind.MODIFIED_AFTER_CAPTURE}, (path.name, traces)
        assert "2008-11-01 21:" in traces[0].detail
        assert_all_say_not_proof(traces)


def test_stripped_metadata_only_matters_for_claimed_originals(exif_dir):
    path = exif_dir / "invalid" / "image01551.jpg"  # no EXIF at all
    meta = extract_photo_metadata(path)
    assert find_traces(meta, path) == []
    traces = find_traces(meta, path, presented_as_original=True)
    assert kinds(traces) == {TraceKind.STRIPPED_METADATA}
    assert "no EXIF metadata at all" in traces[0].detail
    assert_all_say_not_proof(traces)


def test_exif_without_camera_fields_is_stripped_for_originals(exif_dir):
    # The orientation samples carry only orientation/resolution/size tags.
    path = exif_dir / "orientation" / "landscape_2.jpg"
    traces = find_traces(extract_photo_metadata(path), path, presented_as_original=True)
    assert TraceKind.STRIPPED_METADATA in kinds(traces)


def _with_dims(tmp_path: Path, exif_w: int, exif_h: int) -> Path:
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    sub = exif.get_ifd(0x8769)
    sub[0xA002], sub[0xA003] = exif_w, exif_h
    path = tmp_path / f"d{exif_w}x{exif_h}.jpg"
    scene(7).save(path, "JPEG", exif=exif)
    return path


def test_dimension_disagreement(tmp_path):
    resized = _with_dims(tmp_path, 4000, 3000)
    trace = next(t for t in find_traces(extract_photo_metadata(resized), resized))
    assert trace.kind is TraceKind.DIMENSIONS_DISAGREE
    assert "EXIF says 4000x3000" in trace.detail and "640x480" in trace.detail
    assert "resized copy" in trace.detail
    cropped = _with_dims(tmp_path, 4000, 2250)
    trace = next(t for t in find_traces(extract_photo_metadata(cropped), cropped))
    assert "different aspect ratio" in trace.detail
    for w, h in ((640, 480), (480, 640)):
        same = _with_dims(tmp_path, w, h)
        assert find_traces(extract_photo_metadata(same), same) == []
