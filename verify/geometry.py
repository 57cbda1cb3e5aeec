"""Geometric verification of two images' local features: how many matches one 3-D scene explains.

Descriptor matches alone are noisy (repeated windows, foliage, text); only matches that agree with
one camera geometry count. Tentative matches (nearest neighbours, Lowe's ratio test, mutual check)
are verified with MAGSAC++ (OpenCV USAC) against a fundamental matrix, and against a homography
for planar scenes (facades, aerial views) where the fundamental matrix is degenerate. The result
is the inlier count the site decision (`verify.sitematch`) is built on.

RootSIFT neighbours are searched only within visual words (an inverted file, faiss
`IndexIVFFlat`, over a fixed 64-word vocabulary shipped with the package): exact distances to
the descriptors filed under the query's 2 nearest words, instead of FLANN's randomised KD-trees.
Measured on the development photos (benchmarks/RESULTS.md, issue 9, seventh session) it finds
the same geometry (different-site pairs stay under 20 inliers, same-site pairs reaching 35 within
a few percent) at a fifth of the cost, which is what lets footage link search verify the pairs
it needs. SIFT and ORB keep FLANN (the vocabulary is RootSIFT's).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from verify.errors import InvalidValueError
from verify.features import FLOAT_DESCRIPTOR_DIM, METHOD_ROOTSIFT, Features
from verify.hamming import faiss_module

# Lowe's ratio test: keep a match only if its nearest neighbour is clearly closer than the second
# nearest. Lowe's 0.8 is too strict for photos taken years apart by different people: on
# ../shared/data/sites most landmark same-site pairs kept under 20 tentative matches at 0.8 and
# could not be told from chance. At 0.9 they keep 100-400; the extra false matches are removed by
# the mutual check and MAGSAC, and different-site pairs still verify at most 17 inliers
# (benchmarks/bench_sitematch.py).
RATIO_TEST = 0.9

# RootSIFT: the visual vocabulary (benchmarks/train_match_vocabulary.py: k-means of the
# development photos' descriptors) and how many nearest words a query descriptor looks in. With
# one word, a descriptor near a word boundary misses its true neighbour; 2 probes of 64 words
# kept as many same-site pairs above the site threshold as 3 of 128 or 4 of 256, at less cost.
VOCABULARY_PATH = Path(__file__).with_name("data") / "rootsift_words.npy"
VOCABULARY_PROBES = 2

# FLANN randomised KD-trees for SIFT descriptors. 32 leaf checks take 20 ms for 2000 descriptors
# against 36 ms at 64; the accuracy figures in benchmarks/RESULTS.md are measured at 32.
FLANN_TREES = 4
FLANN_CHECKS = 32

# FLANN multi-probe LSH for binary (ORB) descriptors: 6 hash tables of 12-bit keys, probing
# neighbouring buckets once. 2.5x faster than brute-force Hamming at 2000 descriptors (16 vs
# 41 ms), which is ORB's whole point as the fast option.
LSH_TABLES = 6
LSH_KEY_BITS = 12
LSH_PROBE_LEVEL = 1

# Fewer tentative matches than this cannot support a verified model with any confidence (the
# fundamental matrix needs 7, and 7-15 random matches fit one by chance), so we report 0 inliers.
MIN_TENTATIVE = 15

# MAGSAC++ thresholds, in pixels of the image as features were DETECTED (see `Features.scale`),
# i.e. at most ~1024 px on the longest side. Keypoints are localised to about a pixel there.
FUNDAMENTAL_THRESHOLD_PX = 1.0
HOMOGRAPHY_THRESHOLD_PX = 3.0
RANSAC_CONFIDENCE = 0.999
# Tentative matches are ordered best ratio first and sampled by PROSAC, which draws from the most
# distinctive matches before the rest: a real scene's model turns up within the first few hundred
# samples even when most matches are wrong, so 2,000 iterations find the same models as 10,000
# uniform ones did (same-site pairs reaching 35 inliers within 1-2%, and different-site pairs
# no higher) at a quarter of the cost: most pairs of a case are not links and ran to the limit.
RANSAC_MAX_ITERS = 2_000

# A homography explains a planar (or purely rotated) view with a 2-D point-to-point constraint, so
# its inliers are far less likely to be chance than the fundamental matrix's point-to-line ones.
# When the homography keeps at least this share of the fundamental matrix's inliers, the scene is
# treated as planar and the homography is the model reported.
HOMOGRAPHY_SHARE = 0.8

# Fixed RNG seed for MAGSAC's sampling so the same pair of images always gives the same count.
RNG_SEED = 0


def _vocabulary_digest() -> str:
    try:
        return hashlib.sha256(VOCABULARY_PATH.read_bytes()).hexdigest()
    except OSError:
        # Reported when matching is attempted (`_vocabulary`); the key only has to differ.
        return "missing"


# Names every setting above that changes an inlier count, for cache keys: a verified pair cached
# under other settings is a different measurement and must not be reused.
MATCHER_KEY = (
    "match-"
    + hashlib.sha256(
        repr(
            (
                "ivf-prosac",
                _vocabulary_digest(),
                VOCABULARY_PROBES,
                RATIO_TEST,
                FLANN_TREES,
                FLANN_CHECKS,
                LSH_TABLES,
                LSH_KEY_BITS,
                LSH_PROBE_LEVEL,
                MIN_TENTATIVE,
                FUNDAMENTAL_THRESHOLD_PX,
                HOMOGRAPHY_THRESHOLD_PX,
                RANSAC_CONFIDENCE,
                RANSAC_MAX_ITERS,
                HOMOGRAPHY_SHARE,
                RNG_SEED,
            )
        ).encode()
    ).hexdigest()[:10]
)


class GeometryModel(StrEnum):
    """Which two-view model verified the matches."""

    FUNDAMENTAL = "fundamental"
    HOMOGRAPHY = "homography"
    NONE = "none"
    # No model was fitted because fewer tentative matches survived than the caller's
    # `min_inliers`: the pair cannot reach it (inliers are a subset of tentative matches), so
    # the fit was skipped. `inliers` is then 0 and `tentative` is an upper bound on the count.
    NOT_FITTED = "not_fitted"


@dataclass(frozen=True, eq=False)
class PairMatch:
    """Result of verifying image A against image B.

    `tentative` counts matches surviving the ratio test and mutual check; `inliers` those the
    `model` explains. `points_a`/`points_b` are the inlier correspondences, float32 (K, 2) in each
    image's ORIGINAL pixel coordinates; `size_a`/`size_b` are those images' (width, height), so a
    picture drawn at another resolution can rescale the points.
    """

    inliers: int
    tentative: int
    model: GeometryModel
    points_a: np.ndarray
    points_b: np.ndarray
    size_a: tuple[int, int]
    size_b: tuple[int, int]

    @property
    def inlier_ratio(self) -> float:
        """Inliers as a share of tentative matches (0 when there were none)."""
        return self.inliers / self.tentative if self.tentative else 0.0


def match_pair(a: Features, b: Features, *, min_inliers: int = 0) -> PairMatch:
    """Match two images' features and count the matches one scene geometry explains.

    Deterministic: the same two inputs always give the same result. Degenerate inputs (no or too
    few keypoints) give `inliers=0, model=NONE`; features of different methods raise
    `InvalidValueError`, as their descriptors cannot be compared.

    `min_inliers` is for callers that only need to know whether a pair reaches that many inliers
    (footage link search): with fewer tentative matches than that, the two MAGSAC fits are
    skipped and the result is `model=NOT_FITTED, inliers=0`, which is exact for that question.
    The default (0) always fits, so site matching's reported counts are never affected.
    """
    if a.method != b.method:
        raise InvalidValueError(f"cannot match {a.method} features against {b.method} features")
    idx_a, idx_b = tentative_matches(a, b)
    tentative = len(idx_a)
    if tentative < MIN_TENTATIVE:
        return _no_match(a, b, tentative)
    if tentative < min_inliers:
        return _no_match(a, b, tentative, GeometryModel.NOT_FITTED)
    pts_a = a.keypoints[idx_a]
    pts_b = b.keypoints[idx_b]
    # Verify in detection pixels, where the thresholds are defined.
    det_a = (pts_a * np.float32(a.scale)).astype(np.float64)
    det_b = (pts_b * np.float32(b.scale)).astype(np.float64)
    f_mask = _verify(det_a, det_b, GeometryModel.FUNDAMENTAL)
    h_mask = _verify(det_a, det_b, GeometryModel.HOMOGRAPHY)
    f_count, h_count = int(f_mask.sum()), int(h_mask.sum())
    if h_count > 0 and h_count >= HOMOGRAPHY_SHARE * f_count:
        model, mask = GeometryModel.HOMOGRAPHY, h_mask
    elif f_count > 0:
        model, mask = GeometryModel.FUNDAMENTAL, f_mask
    else:
        return _no_match(a, b, tentative)
    return PairMatch(
        inliers=int(mask.sum()),
        tentative=tentative,
        model=model,
        points_a=np.ascontiguousarray(pts_a[mask]),
        points_b=np.ascontiguousarray(pts_b[mask]),
        size_a=a.image_size,
        size_b=b.image_size,
    )


def tentative_matches(a: Features, b: Features) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into a, into b) of matches passing the ratio test and the mutual check, the most
    distinctive (lowest ratio of nearest to second-nearest distance) first.

    a[i] -> b[j] is kept when b[j] is a[i]'s nearest neighbour by Lowe's ratio test AND a[i] is
    b[j]'s nearest neighbour. The backward search only runs for the b[j] the forward pass
    selected, which halves the cost of a full two-way match at the same result.
    """
    empty = np.zeros(0, np.intp)
    if len(a) < 2 or len(b) < 2:
        return empty, empty
    dist, nearest = _search(b, a, None, k=2)
    # faiss marks a missing second neighbour (fewer than 2 descriptors in the probed words) -1:
    # without one the ratio test cannot be applied, so the match is not kept.
    ratio = np.full(len(a), np.inf)
    valid = nearest[:, 1] >= 0
    ratio[valid] = dist[valid, 0] / np.maximum(dist[valid, 1], np.finfo(np.float32).tiny)
    idx_a = np.flatnonzero(ratio < RATIO_TEST)
    if len(idx_a) == 0:
        return empty, empty
    idx_b = nearest[idx_a, 0].astype(np.intp)
    # Mutual check on the unique b candidates only.
    candidates = np.unique(idx_b)
    _, back_nearest = _search(a, b, candidates, k=1)
    back = np.full(len(b), -1, np.intp)
    back[candidates] = back_nearest[:, 0]
    keep = back[idx_b] == idx_a
    idx_a, idx_b = idx_a[keep], idx_b[keep]
    order = np.argsort(ratio[idx_a], kind="stable")
    return idx_a[order], idx_b[order]


def _search(
    index_of: Features, query_of: Features, rows: np.ndarray | None, *, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(distances, indices), each (queries, k), of the k nearest neighbours among `index_of`'s
    descriptors of `query_of`'s descriptors (those at `rows`, or all); index -1 where fewer
    than k were found."""
    index = _index(index_of)
    queries = query_of.descriptors if rows is None else query_of.descriptors[rows]
    queries = np.ascontiguousarray(queries)
    if isinstance(index, _WordIndex):
        # The query descriptors' nearest words were found when their own image was indexed;
        # an image is matched against many others, and finding them again was a quarter of
        # the search (the same result: faiss's own search does exactly this assignment first).
        words = _index(query_of)
        assert isinstance(words, _WordIndex)
        word_dist, word_ids = words.assignment
        if rows is not None:
            word_dist, word_ids = word_dist[rows], word_ids[rows]
        squared, found = index.ivf.search_preassigned(queries, k, word_ids, word_dist)
        return np.sqrt(np.maximum(squared, 0.0)), found
    dist = np.full((len(queries), k), np.inf, np.float64)
    found = np.full((len(queries), k), -1, np.int64)
    for row, neighbours in enumerate(index.knnMatch(queries, k=k)):
        for col, m in enumerate(neighbours[:k]):
            dist[row, col] = m.distance
            found[row, col] = m.trainIdx
    return dist, found


class _WordIndex:
    """An image's RootSIFT descriptors filed under the shared vocabulary's words, and the
    `VOCABULARY_PROBES` nearest words of each (for when the image is the query)."""

    def __init__(self, descriptors: np.ndarray) -> None:
        faiss = faiss_module()
        quantizer = _quantizer()
        vectors = np.ascontiguousarray(descriptors, dtype=np.float32)
        self.ivf: Any = faiss.IndexIVFFlat(quantizer, quantizer.d, quantizer.ntotal)
        self.ivf.nprobe = VOCABULARY_PROBES
        self.assignment: tuple[np.ndarray, np.ndarray] = quantizer.search(
            vectors, VOCABULARY_PROBES
        )
        # Filed under each descriptor's nearest word: the first column of the assignment (what
        # `add` would compute again). Both arrays must outlive the call: faiss reads raw pointers.
        nearest = np.ascontiguousarray(self.assignment[1][:, 0], dtype=np.int64)
        self.ivf.add_core(len(vectors), faiss.swig_ptr(vectors), None, faiss.swig_ptr(nearest))


@cache
def _quantizer() -> Any:
    words = _vocabulary()
    quantizer = faiss_module().IndexFlatL2(words.shape[1])
    quantizer.add(words)
    return quantizer


def _vocabulary() -> np.ndarray:
    try:
        words = np.load(VOCABULARY_PATH, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        # numpy's own messages are long and about pickles; the investigator needs the fix.
        raise InvalidValueError(
            f"the matching vocabulary {VOCABULARY_PATH} is missing or damaged; reinstall claimcheck"
        ) from exc
    # Words of another width than RootSIFT's descriptors would reach faiss, whose bare
    # AssertionError names nothing.
    if words.ndim != 2 or words.shape[0] < 2 or words.dtype != np.float32:
        raise InvalidValueError(f"the matching vocabulary {VOCABULARY_PATH} is malformed")
    if words.shape[1] != FLOAT_DESCRIPTOR_DIM or not np.isfinite(words).all():
        raise InvalidValueError(f"the matching vocabulary {VOCABULARY_PATH} is malformed")
    return np.ascontiguousarray(words)


# Search indexes of recently matched Features, per thread (OpenCV matchers are not thread-safe).
# One footage frame is matched against every reference image and each reference against every
# frame, so reusing an image's index saves its construction on every pair but the first. Footage
# link search verifies tens of thousands of pairs among ~1,000 frames and touches both ends'
# indexes; an index holds ~1-2 MB, so 256 of them (~0.5 GB) cover a tile of
# `verify.linking.INDEX_TILE` frames.
_INDEX_CACHE_SIZE = 256
_local = threading.local()


def clear_index_cache() -> None:
    """Forget this thread's cached search indexes (benchmarks use it to time cold matching)."""
    cache = getattr(_local, "cache", None)
    if cache is not None:
        cache.clear()


def _index(features: Features) -> cv2.DescriptorMatcher | _WordIndex:
    indexes: OrderedDict[int, tuple[Features, cv2.DescriptorMatcher | _WordIndex]] = (
        getattr(_local, "cache", None) or OrderedDict()
    )
    _local.cache = indexes
    hit = indexes.get(id(features))
    if hit is not None and hit[0] is features:
        indexes.move_to_end(id(features))
        return hit[1]
    matcher = _new_index(features)
    indexes[id(features)] = (features, matcher)
    while len(indexes) > _INDEX_CACHE_SIZE:
        indexes.popitem(last=False)
    return matcher


def _new_index(features: Features) -> cv2.DescriptorMatcher | _WordIndex:
    if features.method == METHOD_ROOTSIFT:
        return _WordIndex(features.descriptors)
    index_params: dict[str, bool | int | float | str]
    if features.is_binary:
        index_params = {
            "algorithm": 6,  # FLANN_INDEX_LSH
            "table_number": LSH_TABLES,
            "key_size": LSH_KEY_BITS,
            "multi_probe_level": LSH_PROBE_LEVEL,
        }
    else:
        index_params = {"algorithm": 1, "trees": FLANN_TREES}  # 1 = FLANN_INDEX_KDTREE
    matcher = cv2.FlannBasedMatcher(index_params, {"checks": FLANN_CHECKS})
    matcher.add([features.descriptors])
    # FLANN's randomised KD-trees draw split dimensions from OpenCV's global RNG; seeding it
    # before construction makes approximate matching repeatable.
    cv2.setRNGSeed(RNG_SEED)
    matcher.train()
    return matcher


def _verify(pts_a: np.ndarray, pts_b: np.ndarray, model: GeometryModel) -> np.ndarray:
    """Boolean inlier mask of MAGSAC++ fitting `model`; all False if no model is found."""
    params = cv2.UsacParams()
    # Points arrive best match first (`tentative_matches`), the order PROSAC samples in.
    params.sampler = cv2.SAMPLING_PROSAC
    params.score = cv2.SCORE_METHOD_MAGSAC
    params.loMethod = cv2.LOCAL_OPTIM_SIGMA
    params.loIterations = 10
    params.loSampleSize = 20
    params.confidence = RANSAC_CONFIDENCE
    params.maxIterations = RANSAC_MAX_ITERS
    params.randomGeneratorState = RNG_SEED
    params.isParallel = False
    try:
        if model is GeometryModel.FUNDAMENTAL:
            params.threshold = FUNDAMENTAL_THRESHOLD_PX
            result, mask = cv2.findFundamentalMat(pts_a, pts_b, params=params)
        else:
            params.threshold = HOMOGRAPHY_THRESHOLD_PX
            result, mask = cv2.findHomography(pts_a, pts_b, params=params)
    except cv2.error:
        # OpenCV raises on degenerate configurations (all points collinear or identical): no model.
        return np.zeros(len(pts_a), bool)
    if result is None or mask is None:
        return np.zeros(len(pts_a), bool)
    return mask.ravel().astype(bool)


def _no_match(
    a: Features, b: Features, tentative: int, model: GeometryModel = GeometryModel.NONE
) -> PairMatch:
    empty = np.zeros((0, 2), np.float32)
    return PairMatch(
        inliers=0,
        tentative=tentative,
        model=model,
        points_a=empty,
        points_b=empty.copy(),
        size_a=a.image_size,
        size_b=b.image_size,
    )
