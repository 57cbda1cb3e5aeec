"""Tests for verify.geometry: matching and geometric verification."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from tests.verify.test_features import texture
from verify import geometry
from verify.errors import InvalidValueError
from verify.features import METHOD_ORB, KeypointLookup, extract_features
from verify.geometry import (
    RATIO_TEST,
    VOCABULARY_PATH,
    GeometryModel,
    match_pair,
    tentative_matches,
)

H = np.array([[0.9, 0.08, 30.0], [-0.05, 0.95, 20.0], [1e-4, 5e-5, 1.0]])


def warped_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    img = texture(seed)
    return img, cv2.warpPerspective(img, H, (img.shape[1], img.shape[0]))


@pytest.mark.parametrize("method", ["rootsift", METHOD_ORB])
def test_homography_warp_matches_with_many_inliers(method):
    a, b = warped_pair(10)
    m = match_pair(extract_features(a, method=method), extract_features(b, method=method))
    assert m.inliers >= 100
    assert m.model is GeometryModel.HOMOGRAPHY
    # The inliers really follow the warp.
    proj = cv2.perspectiveTransform(m.points_a.reshape(-1, 1, 2).astype(np.float64), H)
    err = np.linalg.norm(proj.reshape(-1, 2) - m.points_b, axis=1)
    assert np.median(err) < 2.0


def test_unrelated_textures_do_not_match():
    m = match_pair(extract_features(texture(11)), extract_features(texture(12)))
    assert m.inliers < 15


def test_same_inputs_give_same_result():
    a, b = warped_pair(13)
    fa, fb = extract_features(a), extract_features(b)
    first, second = match_pair(fa, fb), match_pair(fa, fb)
    assert first.inliers == second.inliers and first.tentative == second.tentative
    np.testing.assert_array_equal(first.points_a, second.points_a)


def test_degenerate_inputs_give_no_match():
    blank = extract_features(np.zeros((200, 200), np.uint8))
    rich = extract_features(texture(14))
    for a, b in [(blank, rich), (rich, blank), (blank, blank)]:
        m = match_pair(a, b)
        assert m.inliers == 0 and m.model is GeometryModel.NONE
        assert m.points_a.shape == (0, 2)


def test_methods_cannot_be_mixed():
    img = texture(15)
    with pytest.raises(InvalidValueError):
        match_pair(extract_features(img), extract_features(img, method=METHOD_ORB))


def test_scaled_copy_matches_in_original_coordinates():
    img = texture(16, (600, 800))
    small = cv2.resize(img, (400, 300), interpolation=cv2.INTER_AREA)
    m = match_pair(extract_features(img), extract_features(small))
    assert m.inliers >= 50
    np.testing.assert_allclose(m.points_a / 2.0, m.points_b, atol=2.0)


def test_min_inliers_skips_the_fit_only_below_the_tentative_count():
    # Link search asks only "at least N inliers?": with fewer tentative matches than N the
    # answer is no without fitting (inliers are a subset of tentative matches).
    a, b = warped_pair(16)
    fa, fb = extract_features(a), extract_features(b)
    full = match_pair(fa, fb)
    assert full.tentative > 40 and full.model is not GeometryModel.NOT_FITTED
    # A threshold at or below the tentative count changes nothing: the same fit, same count.
    same = match_pair(fa, fb, min_inliers=full.tentative)
    assert (same.inliers, same.model) == (full.inliers, full.model)
    np.testing.assert_array_equal(same.points_a, full.points_a)
    skipped = match_pair(fa, fb, min_inliers=full.tentative + 1)
    assert skipped.model is GeometryModel.NOT_FITTED
    assert skipped.inliers == 0 and skipped.tentative == full.tentative
    assert skipped.points_a.shape == (0, 2)


def _brute_force_tentative(fa, fb) -> set[tuple[int, int]]:
    """The ratio test and mutual check over exact nearest neighbours among ALL descriptors."""
    d = np.linalg.norm(fa.descriptors[:, None, :] - fb.descriptors[None, :, :], axis=2)
    order = np.argsort(d, axis=1)
    best, second = order[:, 0], order[:, 1]
    rows = np.arange(len(d))
    ok = d[rows, best] < RATIO_TEST * d[rows, second]
    back = np.argmin(d, axis=0)
    return {(int(i), int(best[i])) for i in np.flatnonzero(ok) if back[best[i]] == i}


def test_rootsift_matches_within_words_find_the_exact_matches_of_a_real_scene():
    # The vocabulary only restricts where a neighbour is looked for: on a warped scene most
    # exact (all-descriptor) matches are found (89% here), and little else.
    a, b = warped_pair(17)
    fa, fb = extract_features(a), extract_features(b)
    idx_a, idx_b = tentative_matches(fa, fb)
    found = set(zip(idx_a.tolist(), idx_b.tolist(), strict=True))
    exact = _brute_force_tentative(fa, fb)
    assert len(exact) > 100
    assert len(found & exact) >= 0.85 * len(exact)
    assert len(found - exact) <= 0.05 * len(found)
    d = np.linalg.norm(fa.descriptors[idx_a] - fb.descriptors[idx_b], axis=1)
    assert len(set(idx_a.tolist())) == len(idx_a) and len(set(idx_b.tolist())) == len(idx_b)
    assert np.all(np.isfinite(d))


@pytest.mark.parametrize("method", ["rootsift", "sift", METHOD_ORB])
def test_tentative_matches_come_best_ratio_first(method):
    # PROSAC samples the first matches first, so the order is part of the result.
    a, b = warped_pair(18)
    fa, fb = extract_features(a, method=method), extract_features(b, method=method)
    idx_a, _ = tentative_matches(fa, fb)
    assert len(idx_a) > 30
    dist, _ = geometry._search(fb, fa, idx_a, k=2)
    ratios = dist[:, 0] / dist[:, 1]
    assert np.all(np.diff(ratios) >= 0)
    assert np.all(ratios < RATIO_TEST)


def test_vocabulary_ships_with_the_package_and_names_the_cache_key():
    words = np.load(VOCABULARY_PATH, allow_pickle=False)
    assert words.shape == (64, 128) and words.dtype == np.float32
    assert np.isfinite(words).all()
    # Pair caches made with another vocabulary must not be reused: the file's digest is in
    # the key (a changed file gives a changed key when the module is loaded).
    assert geometry._vocabulary_digest() == hashlib.sha256(VOCABULARY_PATH.read_bytes()).hexdigest()


def _words_file(path, content) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        np.save(path, content)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "missing or damaged"),
        (b"", "missing or damaged"),
        (b"not a numpy file", "missing or damaged"),
        (np.zeros((64, 128), np.float64), "malformed"),
        (np.zeros((64, 64), np.float32), "malformed"),
        (np.zeros((64, 256), np.float32), "malformed"),
        (np.full((64, 128), np.nan, np.float32), "malformed"),
        (np.zeros(128, np.float32), "malformed"),
    ],
)
def test_bad_vocabulary_is_a_clear_error(tmp_path, monkeypatch, content, message):
    path = tmp_path / "words.npy"
    _words_file(path, content)
    monkeypatch.setattr(geometry, "VOCABULARY_PATH", path)
    geometry._quantizer.cache_clear()
    geometry.clear_index_cache()
    try:
        with pytest.raises(InvalidValueError, match=message):
            match_pair(extract_features(texture(19)), extract_features(texture(20)))
    finally:
        geometry._quantizer.cache_clear()
        geometry.clear_index_cache()


def test_reused_word_assignment_gives_faiss_own_search():
    # Each image's nearest words are found once and reused whenever it is the query: the
    # neighbours must be exactly those of faiss's plain IVF search, which assigns every time.
    from verify.hamming import faiss_module

    faiss = faiss_module()
    fa, fb = (extract_features(img) for img in warped_pair(21))
    plain = faiss.IndexIVFFlat(geometry._quantizer(), 128, geometry._quantizer().ntotal)
    plain.nprobe = geometry.VOCABULARY_PROBES
    plain.add(fb.descriptors)
    want_dist, want = plain.search(fa.descriptors, 2)
    got_dist, got = geometry._search(fb, fa, None, k=2)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_dist, np.sqrt(np.maximum(want_dist, 0.0)))
    rows = np.arange(0, len(fa), 7)
    _, some = geometry._search(fb, fa, rows, k=2)
    np.testing.assert_array_equal(some, want[rows])


def test_keypoint_lookup_names_the_features_a_match_used():
    # match_pair returns inliers as coordinates; the lookup gives back which keypoints they are.
    a, b = warped_pair(10)
    fa, fb = extract_features(a), extract_features(b)
    m = match_pair(fa, fb)
    at_a = KeypointLookup(fa).indices(m.points_a)
    at_b = KeypointLookup(fb).indices(m.points_b)
    assert (at_a >= 0).all() and (at_b >= 0).all()
    assert np.array_equal(fa.keypoints[at_a], m.points_a)
    assert np.array_equal(fb.keypoints[at_b], m.points_b)
    # A point where no keypoint is, and an image without keypoints, give -1.
    off = np.array([[-5.5, -7.25]], np.float32)
    assert KeypointLookup(fa).indices(off).tolist() == [-1]
    empty = extract_features(np.zeros((64, 64), np.uint8))
    assert KeypointLookup(empty).indices(m.points_a[:3]).tolist() == [-1, -1, -1]
