"""Tests for verify.features: extraction, coordinates, serialisation, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.errors import InvalidValueError
from verify.features import (
    METHOD_ORB,
    METHOD_ROOTSIFT,
    METHOD_SIFT,
    Features,
    extract_features,
    extract_features_from_file,
)
from verify.media import load_image


def texture(seed: int, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A random blob texture: plenty of corners and blobs at several scales."""
    rng = np.random.default_rng(seed)
    import cv2

    img = np.zeros(size, np.float32)
    for scale in (4, 16, 48):
        small = rng.random((size[0] // scale + 1, size[1] // scale + 1)).astype(np.float32)
        img += cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return img.astype(np.uint8)


@pytest.mark.parametrize("method", [METHOD_ROOTSIFT, METHOD_SIFT, METHOD_ORB])
def test_extracts_keypoints_in_original_coordinates(method):
    img = texture(1, (900, 1600))
    f = extract_features(img, method=method, max_side=800, max_features=500)
    assert f.method == method
    assert 100 < len(f) <= 500
    assert f.image_size == (1600, 900)
    assert f.scale == pytest.approx(0.5)
    # Detection ran at 800 px but keypoints span the full 1600 px frame.
    assert f.keypoints[:, 0].max() > 1200
    assert f.keypoints.min() >= -1 and f.keypoints[:, 0].max() <= 1600
    assert f.keypoints.dtype == np.float32 and f.keypoints.shape == (len(f), 2)


def test_rootsift_descriptors_are_unit_l2():
    f = extract_features(texture(2), max_features=300)
    norms = np.linalg.norm(f.descriptors, axis=1)
    # sqrt of an L1-normalised non-negative vector has unit L2 norm.
    np.testing.assert_allclose(norms, 1.0, atol=1e-3)
    assert f.descriptors.dtype == np.float32 and f.descriptors.shape[1] == 128


def test_orb_descriptors_are_binary_bytes():
    f = extract_features(texture(3), method=METHOD_ORB, max_features=300)
    assert f.descriptors.dtype == np.uint8 and f.descriptors.shape == (len(f), 32)
    assert f.is_binary


def test_rgb_and_gray_give_the_same_features():
    gray = texture(4)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    a, b = extract_features(gray), extract_features(rgb)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)


@pytest.mark.parametrize("method", [METHOD_ROOTSIFT, METHOD_ORB])
def test_bytes_round_trip(method):
    f = extract_features(texture(5), method=method, max_features=200)
    g = Features.from_bytes(f.to_bytes())
    assert g.method == f.method and g.image_size == f.image_size and g.scale == f.scale
    np.testing.assert_array_equal(g.keypoints, f.keypoints)
    np.testing.assert_array_equal(g.descriptors, f.descriptors)
    np.testing.assert_array_equal(g.sizes, f.sizes)
    np.testing.assert_array_equal(g.angles, f.angles)


def test_from_bytes_rejects_garbage_and_pickles():
    with pytest.raises(InvalidValueError):
        Features.from_bytes(b"not an npz")
    import io

    buf = io.BytesIO()
    np.savez(buf, method=np.array([object()], dtype=object))
    with pytest.raises(InvalidValueError):
        Features.from_bytes(buf.getvalue())


def test_from_bytes_refuses_a_blob_that_would_inflate_before_loading_it(monkeypatch):
    # A small compressed file of zeros is not what `to_bytes` writes (it never compresses):
    # refused from the zip directory alone, before numpy allocates the arrays.
    import io

    f = extract_features(texture(7), max_features=50)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        version=np.array(1, dtype=np.int32),
        method=np.array(f.method),
        keypoints=np.zeros((300_000, 2), np.float32),
        descriptors=np.zeros((300_000, 128), np.float32),
        image_size=np.array(f.image_size, dtype=np.int64),
        scale=np.array(f.scale, dtype=np.float64),
    )
    data = buf.getvalue()
    assert len(data) < 1_000_000  # ~156 MB of arrays in a fraction of a megabyte

    def never(*args, **kwargs):
        raise AssertionError("numpy was asked to load the arrays")

    monkeypatch.setattr(np, "load", never)
    with pytest.raises(InvalidValueError, match="inflated"):
        Features.from_bytes(data)


def test_from_bytes_rejects_inconsistent_arrays():
    f = extract_features(texture(6), max_features=100)
    broken = Features(
        method=f.method,
        keypoints=f.keypoints,
        descriptors=f.descriptors[:-1],
        image_size=f.image_size,
        scale=f.scale,
        sizes=f.sizes,
        angles=f.angles,
    )
    with pytest.raises(InvalidValueError):
        Features.from_bytes(broken.to_bytes())


def test_blank_image_has_no_keypoints():
    f = extract_features(np.full((300, 400, 3), 128, np.uint8))
    assert len(f) == 0 and f.descriptors.shape == (0, 128)
    assert Features.from_bytes(f.to_bytes()).descriptors.shape == (0, 128)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10), np.float32), np.zeros((10, 10, 4), np.uint8), np.zeros((0, 5), np.uint8)],
)
def test_bad_images_raise_typed_error(bad):
    with pytest.raises(InvalidValueError):
        extract_features(bad)


def test_unknown_method_raises():
    with pytest.raises(InvalidValueError):
        extract_features(texture(7), method="akaze-ish")


def test_from_file_maps_keypoints_to_full_resolution(sites_dir):
    path = sites_dir / "herz_jesu_church" / "0000.jpg"
    f = extract_features_from_file(path, max_side=512, max_features=300)
    full = load_image(path)
    assert f.image_size == (full.shape[1], full.shape[0])
    assert f.keypoints[:, 0].max() > 1000  # full image is 1536 wide, detection was 512
    assert f.scale == pytest.approx(512 / 1536, rel=0.01)


def test_corrupt_file_raises_typed_error(tmp_path, sites_dir):
    from verify.errors import VerifyError

    good = (sites_dir / "herz_jesu_church" / "0000.jpg").read_bytes()
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(good[:2000])
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\x00garbage" * 100)
    for path in (truncated, junk):
        with pytest.raises(VerifyError):
            extract_features_from_file(path)


def test_settings_key_names_every_setting():
    from verify.features import settings_key

    assert settings_key() == "rootsift-1024-2000-v1"
    assert settings_key("orb", 640, 500) != settings_key("orb", 640, 501)


@given(
    st.dictionaries(
        st.sampled_from(
            ["version", "method", "keypoints", "descriptors", "image_size", "scale", "sizes"]
        ),
        st.sampled_from(
            [
                np.zeros(()),
                np.zeros(3),
                np.zeros((2, 2)),
                np.array("rootsift"),
                np.array(1, np.int32),
                np.full((1, 2), np.nan, np.float32),
                np.zeros((1, 128), np.float32),
            ]
        ),
    )
)
@settings(max_examples=150, deadline=None)
def test_from_bytes_never_raises_untyped_errors(arrays):
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(InvalidValueError):
        Features.from_bytes(buf.getvalue())
