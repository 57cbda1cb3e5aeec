"""Stored pictures' grey pixels cached in the derived store (`cases.stored_pictures.stored_gray`):
a cached copy gives exactly the pixels decoding gives, a damaged or stale copy is never used
(decoded again and rewritten), the originals check still decides whether a photo has pixels,
and a search finds the same matches, with the same measurements, with or without the copies."""

from __future__ import annotations

import errno
import json
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest

from cases import workflow
from cases.analysis import PICTURE_FEATURES_NAMESPACE
from cases.ingest import add_evidence
from cases.originals import OriginalsCheck
from cases.search import search_files, stored_items
from cases.stored_pictures import (
    GRAY_SETTINGS,
    gray_from_bytes,
    gray_to_bytes,
    stored_gray,
)
from evidence_store.blobs import DerivedStore
from evidence_store.db import init_workspace, open_workspace
from evidence_store.errors import BlobError
from tests.verify.test_video import write_video
from verify.errors import UnreadableMediaError
from verify.media import load_image
from verify.samepicture import CONFIRM_SIDE, working_gray


def _save(path: Path, rgb: np.ndarray) -> Path:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    path.write_bytes(buf.tobytes())
    return path


@pytest.fixture
def workspace(tmp_path: Path, sites_dir: Path) -> tuple[Path, dict[str, Path]]:
    """A church photo, an unrelated photo and a two-shot video of the church and a castle."""
    church = sites_dir / "herz_jesu_church" / "0000.jpg"
    castle = sites_dir / "ettlingen_castle" / "0000.jpg"
    frames = [
        cv2.resize(load_image(p, max_side=CONFIRM_SIDE), (320, 240))
        for p in (church, castle)
        for _ in range(15)
    ]
    video = write_video(tmp_path / "shots.mp4", frames, 10.0)
    home = tmp_path / "ws"
    ws = init_workspace(home)
    workflow.open_case(ws, "t", title="t", incident_date=date(2020, 1, 1))
    add_evidence(ws, "t", "C-0001", [church, castle], kind="photo")
    add_evidence(ws, "t", "C-0001", [video], kind="video")
    return home, {"church": church, "castle": castle}


def _crop25(church: np.ndarray, tmp_path: Path) -> Path:
    """A 25% crop of the church photo: found by anchors and pixel alignment, not by hashes."""
    h, w = church.shape[:2]
    return _save(tmp_path / "crop25.jpg", church[h // 6 : h - h // 12, w // 6 :])


def _searching(home: Path, queries: list[Path]) -> Callable[[], list[dict]]:
    """A search of `queries` in a freshly opened workspace, as JSON-ready results."""
    return lambda: [r.as_dict() for r in search_files(open_workspace(home), queries)]


def _crop_search(home: Path, photos: dict[str, Path], tmp_path: Path) -> Callable[[], list[dict]]:
    return _searching(home, [_crop25(load_image(photos["church"]), tmp_path)])


def _frames(home: Path) -> list[tuple[str, str, int]]:
    ws = open_workspace(home)
    return [(it.sha256, it.kind, f.index) for it in stored_items(ws) for f in it.frames]


def _gray_files(home: Path) -> list[Path]:
    return sorted((home / "derived" / PICTURE_FEATURES_NAMESPACE).rglob("gray-*.bin"))


def _decoded(home: Path, sha256: str, kind: str, frame_index: int) -> np.ndarray:
    """The grey picture as decoding gives it, from the original or the keyframe thumbnail."""
    ws = open_workspace(home)
    if kind != "video":
        return working_gray(load_image(ws.blobs.path(sha256), max_side=CONFIRM_SIDE))
    data = ws.derived.read("keyframes", sha256, f"{frame_index:08d}.jpg")
    assert data is not None
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return working_gray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _gray(home: Path, frame: tuple[str, str, int], *, write: bool = True) -> np.ndarray:
    ws = open_workspace(home)
    return stored_gray(ws.blobs, ws.derived, OriginalsCheck(ws.blobs), *frame, write=write)


def test_cached_grey_pixels_equal_decoded_ones(workspace, monkeypatch):
    home, _ = workspace
    frames = _frames(home)
    assert {kind for _, kind, _ in frames} == {"photo", "video"}
    assert _gray_files(home) == []  # made on first use, not at ingest
    decoded = {frame: _decoded(home, *frame) for frame in frames}
    for frame in frames:
        assert np.array_equal(_gray(home, frame), decoded[frame])
    assert len(_gray_files(home)) == len(frames)

    # Read back without decoding anything: the copies alone give the same pixels.
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although a copy was cached")

    monkeypatch.setattr("cases.stored_pictures.load_image", no_decoding)
    monkeypatch.setattr("cases.stored_pictures.cv2.imdecode", no_decoding)
    for frame in frames:
        again = _gray(home, frame)
        assert again.dtype == np.uint8 and again.shape == decoded[frame].shape
        assert np.array_equal(again, decoded[frame])


@pytest.mark.parametrize(
    "damage",
    [
        "flip_pixel_byte",
        "truncate",
        "no_magic",
        "other_settings",
        "other_source",
        "bad_header",
        "wrong_shape",
        "empty",
    ],
)
def test_damaged_or_stale_copies_are_decoded_again_and_rewritten(workspace, damage):
    home, _ = workspace
    frame = next(f for f in _frames(home) if f[1] == "photo")
    expected = _gray(home, frame)
    [path] = [p for p in _gray_files(home) if p.parent.name == frame[0]]
    data = path.read_bytes()
    magic, rest = data.split(b"\n", 1)
    head, body = rest.split(b"\n", 1)
    header = json.loads(head)
    if damage == "flip_pixel_byte":
        # One pixel changed, the file otherwise intact: only the digest can tell.
        raw = bytearray(expected.tobytes())
        raw[len(raw) // 2] ^= 0xFF
        bad = magic + b"\n" + head + b"\n" + bytes(raw)
    elif damage == "truncate":
        bad = data[: len(data) // 2]
    elif damage == "no_magic":
        bad = data[1:]
    elif damage == "other_settings":
        header["settings"] = GRAY_SETTINGS.replace("pillow", "pillow0.")
        bad = magic + b"\n" + json.dumps(header).encode() + b"\n" + body
    elif damage == "other_source":
        header["source"] = "0" * 64
        bad = magic + b"\n" + json.dumps(header).encode() + b"\n" + body
    elif damage == "bad_header":
        bad = magic + b"\n{not json\n" + body
    elif damage == "wrong_shape":
        header["shape"] = [header["shape"][1], header["shape"][0]]
        bad = magic + b"\n" + json.dumps(header).encode() + b"\n" + body
    else:
        bad = b""
    path.write_bytes(bad)
    assert gray_from_bytes(bad, frame[0]) is None
    assert np.array_equal(_gray(home, frame), expected)
    assert path.read_bytes() == data  # rewritten as it was made the first time


def test_a_copy_of_another_keyframe_thumbnail_is_not_used(workspace):
    """The keyframe thumbnail is a derived file too: if it changes, the copy made from the old
    one no longer stands for it."""
    home, _ = workspace
    frame = next(f for f in _frames(home) if f[1] == "video")
    _gray(home, frame)
    ws = open_workspace(home)
    thumb = ws.derived.path("keyframes", frame[0], f"{frame[2]:08d}.jpg")
    rgb = cv2.cvtColor(
        cv2.imdecode(np.fromfile(thumb, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    _save(thumb, np.ascontiguousarray(rgb[:, ::-1]))
    assert np.array_equal(_gray(home, frame), _decoded(home, *frame))
    thumb.unlink()
    with pytest.raises(UnreadableMediaError):
        _gray(home, frame)  # no thumbnail, no pixels, whatever is cached


def test_an_altered_original_has_no_pixels_even_with_a_cached_copy(workspace):
    home, _ = workspace
    frame = next(f for f in _frames(home) if f[1] == "photo")
    _gray(home, frame)
    ws = open_workspace(home)
    original = ws.blobs.path(frame[0])
    original.chmod(0o644)
    original.write_bytes(original.read_bytes() + b"\0")
    with pytest.raises(UnreadableMediaError, match="no longer matches"):
        _gray(home, frame)


def test_not_written_when_asked_not_to(workspace):
    home, _ = workspace
    frame = _frames(home)[0]
    assert np.array_equal(_gray(home, frame, write=False), _decoded(home, *frame))
    assert _gray_files(home) == []


def test_gray_round_trip_keeps_every_pixel():
    rng = np.random.default_rng(4)
    gray = rng.integers(0, 256, (CONFIRM_SIDE - 7, 311), np.uint8)
    back = gray_from_bytes(gray_to_bytes(gray, "a" * 64), "a" * 64)
    assert back is not None and back.dtype == np.uint8 and np.array_equal(back, gray)
    assert gray_from_bytes(gray_to_bytes(gray, "a" * 64), "b" * 64) is None


def test_search_results_are_the_same_with_and_without_cached_pixels(workspace, tmp_path):
    """The pixel stage runs (a 25% crop found by anchors and alignment, a rotation), and the
    JSON of every result is identical: before any copy exists, with copies, with damaged ones."""
    home, photos = workspace
    church = load_image(photos["church"])
    h, w = church.shape[:2]
    centre = (w / 2, h / 2)
    rotated = cv2.warpAffine(church, cv2.getRotationMatrix2D(centre, 5, 1.08), (w, h))
    run = _searching(
        home,
        [
            _crop25(church, tmp_path),
            _save(tmp_path / "rotated.jpg", rotated),
            _save(tmp_path / "castle.jpg", load_image(photos["castle"], max_side=600)),
        ],
    )

    uncached = run()
    assert any(m["confirmed_by"] == "pixel_alignment" for r in uncached for m in r["matches"])
    assert _gray_files(home)  # the search cached the pixels it decoded
    assert run() == uncached
    for path in _gray_files(home):
        path.write_bytes(path.read_bytes()[:-10])
    assert run() == uncached


def test_a_derived_store_that_refuses_writes_only_costs_time(workspace, tmp_path, monkeypatch):
    """The copies and features are caches: a derived folder that is read-only (or full) must
    not stop a search, which gives exactly the results it gives when they can be written."""
    home, photos = workspace
    run = _crop_search(home, photos, tmp_path)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    with monkeypatch.context() as patch:
        patch.setattr("evidence_store.blobs.tempfile.mkstemp", read_only)
        refused = run()
        assert _gray_files(home) == []
    assert any(m["confirmed_by"] == "pixel_alignment" for r in refused for m in r["matches"])
    assert run() == refused


@pytest.mark.parametrize("entry", ["gray-*.bin", "orb*.npz"])
def test_an_unreadable_cache_entry_is_made_again_not_fatal(workspace, tmp_path, entry):
    """A folder where a cached copy or features file should be (it cannot be read, nor
    replaced) is a cache miss: the search decodes the picture and gives the same results."""
    home, photos = workspace
    run = _crop_search(home, photos, tmp_path)

    expected = run()
    entries = sorted((home / "derived" / PICTURE_FEATURES_NAMESPACE).rglob(entry))
    assert entries
    for path in entries:
        path.unlink()
        path.mkdir()
    assert run() == expected


HUGE = 1 << 28


def test_a_cache_entry_swapped_for_a_huge_file_is_not_read_whole(workspace, tmp_path):
    """A cached copy or features file replaced by a huge one is a cache miss read no further
    than anything claimcheck writes there (a search read 3 GB into memory to reject it)."""
    home, photos = workspace
    run = _crop_search(home, photos, tmp_path)

    expected = run()
    entries = [
        *(home / "derived" / PICTURE_FEATURES_NAMESPACE).rglob("gray-*.bin"),
        *(home / "derived" / PICTURE_FEATURES_NAMESPACE).rglob("orb*.npz"),
    ]
    assert entries
    for path in entries:
        with open(path, "r+b") as fh:
            fh.truncate(HUGE)  # sparse: costs no disk
    tracemalloc.start()
    try:
        assert run() == expected
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < HUGE // 2
    # The pictures the search compared were decoded again and their copies rewritten.
    assert any(path.stat().st_size < 1 << 21 for path in entries)


def test_an_unreadable_derived_entry_is_a_store_error_naming_it(tmp_path):
    derived = DerivedStore(tmp_path)
    derived.path("keyframes", "ab" * 32, "00000000.jpg").mkdir(parents=True)
    with pytest.raises(BlobError, match=r"cannot read derived artefact .*00000000\.jpg"):
        derived.read("keyframes", "ab" * 32, "00000000.jpg")
    assert derived.read("keyframes", "cd" * 32, "00000000.jpg") is None
    derived.write("keyframes", "cd" * 32, "00000000.jpg", b"x" * 11)
    assert derived.read("keyframes", "cd" * 32, "00000000.jpg", max_bytes=11) == b"x" * 11
    with pytest.raises(BlobError, match="larger than the 10 bytes"):
        derived.read("keyframes", "cd" * 32, "00000000.jpg", max_bytes=10)
