"""Tests for verify/hashing.py: hash values, bit-exactness with imagehash, and compare()."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from verify.errors import InvalidValueError, UnreadableMediaError
from verify.hashing import (
    HASH_BITS,
    HashKind,
    ImageHashes,
    PerceptualHash,
    compare,
    dhash_of_gray,
    hash_file,
    hash_image,
    phash_of_gray,
)
from verify.media import load_image


@pytest.fixture(scope="module")
def castle(sites_dir: Path) -> Path:
    return sites_dir / "ettlingen_castle" / "0000.jpg"


@pytest.fixture(scope="module")
def castle_rgb(castle: Path) -> np.ndarray:
    return load_image(castle)


def _jpeg_copy(tmp_path: Path, rgb: np.ndarray, quality: int = 90, name: str = "c.jpg") -> Path:
    path = tmp_path / name
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    path.write_bytes(buf.tobytes())
    return path


@given(kind=st.sampled_from(list(HashKind)), data=st.data())
def test_hex_and_words_round_trip(kind, data):
    value = data.draw(st.integers(min_value=0, max_value=(1 << HASH_BITS[kind]) - 1))
    h = PerceptualHash(kind, value)
    assert PerceptualHash.from_hex(kind, str(h)) == h
    assert PerceptualHash.from_words(kind, h.to_words()) == h
    assert h - h == 0


def test_distance_is_hamming():
    a = PerceptualHash(HashKind.PHASH, 0b1011)
    b = PerceptualHash(HashKind.PHASH, 0b0110)
    assert a - b == 3
    assert str(a) == "000000000000000b"


def test_distance_between_kinds_is_refused():
    with pytest.raises(InvalidValueError):
        _ = PerceptualHash(HashKind.PHASH, 1) - PerceptualHash(HashKind.DHASH, 1)


def test_bad_hex_is_refused():
    with pytest.raises(InvalidValueError):
        PerceptualHash.from_hex(HashKind.PHASH, "xyz")
    with pytest.raises(InvalidValueError):
        PerceptualHash.from_hex(HashKind.PDQ, "00ff")


def test_phash_and_dhash_equal_imagehash_bit_for_bit(shared_data: Path):
    paths = sorted((shared_data / "sites").glob("*/*.jpg"))[::4]
    paths += sorted((shared_data / "sequence").glob("*.png"))[::4]
    for path in paths:
        img = Image.open(path).convert("RGB")
        img.thumbnail((400, 400))
        gray = img.convert("L")
        assert str(phash_of_gray(gray)) == str(imagehash.phash(img)), path.name
        assert str(dhash_of_gray(gray)) == str(imagehash.dhash(img)), path.name


def test_reduced_decode_keeps_hash_meaning(castle: Path, castle_rgb: np.ndarray):
    # Measured over the dev photos (bench_hashing.py): at most pHash 2, dHash 3, PDQ 12 bits.
    reduced = hash_file(castle)
    full = hash_image(castle_rgb)
    assert reduced.phash - full.phash <= 4
    assert reduced.dhash - full.dhash <= 6
    assert reduced.pdq - full.pdq <= 24
    assert compare(reduced, full).is_match


def test_edited_copies_are_found(tmp_path: Path, castle: Path, castle_rgb: np.ndarray):
    original = hash_file(castle)
    h, w = castle_rgb.shape[:2]
    copies = {
        "reencoded_q40": (castle_rgb, 40),
        "resized_quarter": (cv2.resize(castle_rgb, (w // 4, h // 4), cv2.INTER_AREA), 85),
        "cropped_2pct": (castle_rgb[h // 50 : h - h // 50, w // 50 : w - w // 50], 85),
    }
    for name, (rgb, quality) in copies.items():
        match = compare(hash_file(_jpeg_copy(tmp_path, rgb, quality, f"{name}.jpg")), original)
        assert match.is_match, (name, match)
        assert not match.mirrored


def test_unrelated_photo_is_not_matched(sites_dir: Path, castle: Path):
    original = hash_file(castle)
    for other in sorted(sites_dir.glob("*/*.jpg")):
        if other == castle:
            continue
        assert not compare(hash_file(other), original).is_match, other.name


def test_mirrored_copy_matches_as_mirror(tmp_path: Path, castle: Path, castle_rgb: np.ndarray):
    mirrored = _jpeg_copy(tmp_path, np.ascontiguousarray(castle_rgb[:, ::-1]))
    match = compare(hash_file(mirrored), hash_file(castle))
    assert match.is_match
    assert match.mirrored
    assert "mirror" in match.reason


def test_exif_orientation_is_applied_before_hashing(exif_dir: Path):
    upright = hash_file(exif_dir / "orientation" / "landscape_1.jpg")
    for k in range(2, 9):
        rotated = hash_file(exif_dir / "orientation" / f"landscape_{k}.jpg")
        match = compare(rotated, upright)
        assert match.is_match and not match.mirrored, k


def test_corrupt_and_empty_files_raise_typed_errors(tmp_path: Path, castle: Path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(castle.read_bytes()[:300])
    for path in (empty, truncated):
        with pytest.raises(UnreadableMediaError):
            hash_file(path)


def test_bad_arrays_are_refused():
    with pytest.raises(InvalidValueError):
        hash_image(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(InvalidValueError):
        hash_image(np.zeros((10, 10, 4), dtype=np.uint8))
    with pytest.raises(UnreadableMediaError):
        hash_image(np.zeros((1, 10, 3), dtype=np.uint8))


def test_flat_picture_does_not_match_by_pdq():
    # A flat picture has PDQ quality 0: its PDQ hash is noise and must not decide.
    flat = hash_image(np.full((64, 64, 3), 128, dtype=np.uint8))
    assert flat.pdq_quality < 50


def test_screenshot_with_ui_bars_matches_after_removing_bars(
    tmp_path: Path, castle: Path, castle_rgb: np.ndarray
):
    h, w = castle_rgb.shape[:2]
    canvas = np.full((h + h // 6 + h // 4, w + w // 30, 3), 24, dtype=np.uint8)
    canvas[h // 6 : h // 6 + h, w // 60 : w // 60 + w] = castle_rgb
    cv2.putText(canvas, "@ministry 2h", (40, h // 10), cv2.FONT_HERSHEY_SIMPLEX, 2, (230,) * 3, 4)
    screenshot = hash_file(_jpeg_copy(tmp_path, canvas))
    assert screenshot.without_bars is not None
    match = compare(screenshot, hash_file(castle))
    assert match.is_match and match.bars_removed
    assert "bars removed" in match.reason
    # Whole pictures alone do not match: the bars are what the extra comparison is for.
    assert not compare(replace(screenshot, without_bars=None), hash_file(castle)).is_match


def test_hashes_round_trip_through_their_stored_form(castle: Path):
    hashes = hash_image(load_image(castle, max_side=300))
    padded = np.pad(load_image(castle, max_side=300), ((40, 60), (0, 0), (0, 0)))
    with_bars = hash_image(padded)
    assert with_bars.without_bars is not None
    for h in (hashes, with_bars):
        assert ImageHashes.from_dict(h.as_dict()) == h
    with pytest.raises(InvalidValueError):
        ImageHashes.from_dict({"phash": "00"})


def test_a_heic_copy_of_a_photo_is_the_same_picture(sites_dir: Path, tmp_path: Path):
    """iPhones store HEIC: a HEIC copy must hash like the JPEG it shows, and a HEIC of another
    picture must not match it."""
    from verify.hashing import compare, hash_file

    castle = sites_dir / "ettlingen_castle" / "0003.jpg"
    Image.open(castle).save(tmp_path / "castle.heic", quality=80)
    bridge = sites_dir / "london_bridge" / "london_bridge_94185272_3874562886.jpg"
    Image.open(bridge).save(tmp_path / "bridge.heic", quality=80)
    original = hash_file(castle)
    assert compare(original, hash_file(tmp_path / "castle.heic")).is_match
    assert not compare(original, hash_file(tmp_path / "bridge.heic")).is_match
