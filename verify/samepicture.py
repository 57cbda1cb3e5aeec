"""Second opinion on two pictures whose hashes are close but not close enough: are they the same
picture, cropped, rotated or watermarked?

Whole-picture hashes do not survive a crop of a few percent plus a watermark, or a small
rotation (benchmarks/RESULTS.md, issue 4). For pairs whose hashes fall in a wider band around
the match radii (`NEAR_RADII`), or that share a few of their strongest ORB descriptors
("anchors", stored beside the hashes and indexed like them, which survive large crops), the
pixels decide: ORB features are matched and one similarity transform (scale, rotation, shift:
what cropping, resizing and rotating do) is fitted with RANSAC. The same picture is then
pixel-aligned: after warping one onto the other, their overlapping pixels correlate almost
perfectly. Two photos of one scene from another position or
moment fit no single similarity that well (parallax, moved people, other light).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from verify.errors import InvalidValueError
from verify.hashing import HashDistances

# Working size of the comparison: enough ORB corners on a 4% crop of a 1-MP photo, ~15 ms a pair.
CONFIRM_SIDE = 480
_ORB_FEATURES = 1000
_RATIO_TEST = 0.8
_RANSAC_THRESHOLD_PX = 3.0
# Calibrated by benchmarks/bench_hashing.py ("second stage") on the dev set: true copies under
# every transform of the suite against the near-band non-duplicates (same facade, next frame).
MIN_INLIERS = 25
MIN_OVERLAP = 0.45
MIN_CORRELATION = 0.75
_GRADIENT_BLUR_SIGMA = 1.5
# Pairs are confirmed only inside this band of hash distances: wide enough for a 10% crop with
# a watermark, or 5 degrees of rotation (benchmarks/bench_second_stage.py: every such copy of the
# dev and calibration sets falls inside it; a 25% crop mostly does not). PDQ 112 of 256 bits is
# about two standard deviations below the distance of unrelated pictures.
NEAR_RADII = {"pdq": 112, "phash": 26, "dhash": 18}
# At most this many near candidates (closest PDQ first) are aligned per query picture, so a
# query against a large store stays bounded (~5 ms a pair once features are made); pairs beyond
# it are judged on their hashes alone. On the dev suite 7.5% of non-duplicate pairs fall in the
# near band, i.e. a store of ~2,500 pictures before the cap bites.
MAX_ALIGNMENTS_PER_QUERY = 200


# Anchors: the strongest ORB descriptors of a picture (256-bit binary codes), stored with its
# hashes so that a crop of 25% or more, which moves whole-picture hashes to the distance of
# unrelated pictures, still finds its original: a stored picture sharing >= MIN_ANCHOR_VOTES
# anchors (within ANCHOR_RADIUS bits) with the query goes to the pixel check too.
# benchmarks/bench_second_stage.py ("anchor gate"): with 64 anchors, radius 40 and 3 votes, 96%
# (dev) / 82% (drone) of 25% crops pass, against about 4% of unrelated pairs.
ANCHOR_COUNT = 64
ANCHOR_RADIUS = 40
MIN_ANCHOR_VOTES = 3


# A pair with near hashes is aligned only if it also shares at least this many anchors. Zero:
# requiring one shared anchor cut the pairs aligned from 10.2% to 4.3% (dev) and 14.9% to 4.7%
# (drone photos) but lost 2 of 17 text + logo overlays and one 25% crop on the drone photos
# (suite 0.971 -> 0.958; benchmarks/bench_second_stage.py): a watermark's text corners are the
# strongest in the picture and push the original's anchors out. Recall is worth the time.
MIN_ANCHOR_VOTES_NEAR = 0


def in_near_band(d: HashDistances) -> bool:
    """Whether a pair's hash distances are close enough to be worth confirming by pixels."""
    return d.pdq <= NEAR_RADII["pdq"] or (
        d.phash <= NEAR_RADII["phash"] and d.dhash <= NEAR_RADII["dhash"]
    )


@dataclass(frozen=True)
class PictureAlignment:
    """How one picture maps onto the other: inliers of the similarity fit, its scale and
    rotation, the share of the smaller picture they overlap on, and the pixel correlation
    there; `is_same` applies the calibrated thresholds."""

    is_same: bool
    inliers: int
    scale: float
    rotation_deg: float
    overlap: float
    correlation: float
    mirrored: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "is_same": self.is_same,
            "inliers": self.inliers,
            "scale": round(self.scale, 3),
            "rotation_deg": round(self.rotation_deg, 2),
            "overlap": round(self.overlap, 3),
            "correlation": round(self.correlation, 3),
            "mirrored": self.mirrored,
        }


_NO_ALIGNMENT = PictureAlignment(False, 0, 0.0, 0.0, 0.0, 0.0, False)


class PictureFeatures:
    """A picture prepared for alignment: grey at `CONFIRM_SIDE`, its ORB features, and (made on
    first use) those of its mirror image. Prepare once, align against many."""

    def __init__(self, image: np.ndarray) -> None:
        self.gray = _gray(image)
        self.keypoints, self.descriptors = _detect(self.gray)
        self._mirror: PictureFeatures | None = None

    def mirror(self) -> PictureFeatures:
        if self._mirror is None:
            self._mirror = PictureFeatures(np.ascontiguousarray(self.gray[:, ::-1]))
        return self._mirror


def anchor_descriptors(image: np.ndarray | PictureFeatures) -> np.ndarray:
    """The `ANCHOR_COUNT` strongest ORB descriptors of a picture, (n, 32) uint8, strongest first."""
    features = image if isinstance(image, PictureFeatures) else PictureFeatures(image)
    if features.descriptors is None or not len(features.keypoints):
        return np.zeros((0, 32), np.uint8)
    order = np.argsort([-k.response for k in features.keypoints], kind="stable")[:ANCHOR_COUNT]
    return np.ascontiguousarray(features.descriptors[order])


def anchors_to_hex(anchors: np.ndarray) -> list[str]:
    return [row.tobytes().hex() for row in anchors]


def align_pictures(
    a: np.ndarray | PictureFeatures,
    b: np.ndarray | PictureFeatures,
    *,
    mirrored: bool | None = None,
) -> PictureAlignment:
    """Fit `b` onto `a` (uint8 RGB or grey arrays, or prepared features): as it is
    (`mirrored=False`), mirrored (`True`), or both, keeping the better fit (`None`). Callers that
    know the likely orientation (the hashes say which is closer) pass it: matching is most of
    the cost."""
    fa = a if isinstance(a, PictureFeatures) else PictureFeatures(a)
    fb = b if isinstance(b, PictureFeatures) else PictureFeatures(b)
    if mirrored is not None:
        return _align(fa, fb.mirror() if mirrored else fb, mirrored=mirrored)
    direct = _align(fa, fb, mirrored=False)
    if direct.is_same:
        return direct
    flipped = _align(fa, fb.mirror(), mirrored=True)
    if flipped.is_same:
        return flipped
    return max(direct, flipped, key=lambda r: (r.inliers, r.correlation))


def _gray(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise InvalidValueError("expected a uint8 RGB or grey image")
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    scale = CONFIRM_SIDE / max(gray.shape)
    if scale < 1:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(gray)


def _detect(gray: np.ndarray) -> tuple[tuple, np.ndarray | None]:
    # One detector per call: cv2 feature objects are not safe to share across threads.
    return cv2.ORB_create(nfeatures=_ORB_FEATURES).detectAndCompute(gray, None)


def _align(fa: PictureFeatures, fb: PictureFeatures, *, mirrored: bool) -> PictureAlignment:
    ka, da, kb, db = fa.keypoints, fa.descriptors, fb.keypoints, fb.descriptors
    if da is None or db is None or len(ka) < MIN_INLIERS or len(kb) < MIN_INLIERS:
        return _NO_ALIGNMENT
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(db, da, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < _RATIO_TEST * p[1].distance]
    if len(good) < MIN_INLIERS:
        return _NO_ALIGNMENT
    src = np.array([kb[m.queryIdx].pt for m in good], dtype=np.float32)
    dst = np.array([ka[m.trainIdx].pt for m in good], dtype=np.float32)
    matrix, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=_RANSAC_THRESHOLD_PX
    )
    if matrix is None or mask is None:
        return _NO_ALIGNMENT
    inliers = int(mask.sum())
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    rotation = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
    if inliers < MIN_INLIERS:
        return PictureAlignment(False, inliers, scale, rotation, 0.0, 0.0, mirrored)
    overlap, correlation = _pixel_agreement(fa.gray, fb.gray, matrix)
    is_same = overlap >= MIN_OVERLAP and correlation >= MIN_CORRELATION
    return PictureAlignment(is_same, inliers, scale, rotation, overlap, correlation, mirrored)


def _pixel_agreement(ga: np.ndarray, gb: np.ndarray, matrix: np.ndarray) -> tuple[float, float]:
    """Share of the smaller picture inside the overlap, and the correlation of the two
    pictures' intensity gradients there. Gradients, not intensities: two views of one scene
    share their broad light and dark areas (intensity correlation 0.87-0.90 between different
    renders of the demo market), but parallax moves every edge (gradient correlation <= 0.53),
    while the same picture re-encoded keeps its edges in place (0.97). A light blur first, so
    JPEG noise and sub-pixel misalignment do not count."""
    h, w = ga.shape
    warped = cv2.warpAffine(gb, matrix, (w, h), flags=cv2.INTER_AREA)
    valid = cv2.warpAffine(np.full(gb.shape, 255, np.uint8), matrix, (w, h)) == 255
    # Stay clear of the interpolated border of the warped picture (blur and Sobel reach 6 px).
    valid = cv2.erode(valid.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    area = int(valid.sum())
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    smaller = min(h * w, gb.shape[0] * gb.shape[1] * scale * scale)
    if area < 100 or smaller <= 0:
        return 0.0, 0.0
    ax, ay = _gradients(ga)
    bx, by = _gradients(warped)
    x = np.concatenate([ax[valid], ay[valid]])
    y = np.concatenate([bx[valid], by[valid]])
    denom = float(np.sqrt(float((x * x).sum()) * float((y * y).sum())))
    correlation = float((x * y).sum()) / denom if denom > 0 else 0.0
    return min(1.0, area / smaller), correlation


def _gradients(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    smooth = cv2.GaussianBlur(gray, (0, 0), _GRADIENT_BLUR_SIGMA).astype(np.float32)
    return cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
