"""Second opinion on two pictures whose hashes are close but not close enough: are they the same
picture, cropped, rotated or watermarked?

Whole-picture hashes do not survive a crop of a few percent plus a watermark, or a small
rotation (benchmarks/RESULTS.md, issue 4). For pairs whose hashes fall in a wider band around
the match radii (`NEAR_RADII`) and that share one of their "anchors" (strong ORB descriptors
spread over the picture and three scales, stored beside the hashes and indexed like them), or that
share several anchors whatever their hashes (anchors survive large crops), the pixels decide:
ORB features are matched and one similarity transform (scale, rotation, shift: what cropping,
resizing and rotating do) is fitted with RANSAC. The same picture is then pixel-aligned: after
warping one onto the other, their overlapping pixels correlate almost perfectly. Two photos of
one scene from another position or moment fit no single similarity that well (parallax, moved
people, other light).
"""

from __future__ import annotations

import dataclasses
import io
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from verify.errors import InvalidValueError
from verify.hamming import nearest_two
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
# it are judged on their hashes alone. On the dev suite 4.5% of non-duplicate pairs are aligned
# (near band sharing an anchor, or enough anchors), i.e. a store of ~4,400 pictures before the
# cap bites.
MAX_ALIGNMENTS_PER_QUERY = 200


# Anchors: a few of a picture's strongest ORB descriptors (256-bit binary codes), stored with its
# hashes so that a crop of 25% or more, which moves whole-picture hashes to the distance of
# unrelated pictures, still finds its original: a stored picture sharing >= MIN_ANCHOR_VOTES
# anchors (within ANCHOR_RADIUS bits) with the query goes to the pixel check too.
# Chosen spread out, in space and in scale: the strongest ANCHORS_PER_CELL of each cell of an
# ANCHOR_GRID x ANCHOR_GRID grid, at the working size and at ANCHOR_SCALES of it. The 64 strongest
# corners of the whole picture (the first definition) cluster where the texture is richest, which
# a crop often removes, and a crop shown at the same size is a zoom, which changes which corners
# are strongest. benchmarks/bench_anchor_variants.py (dev set only, 952 true copies, 64,260
# non-duplicate pairs): 64 strongest / 3 votes missed 3 of 68 25% crops and sent 1,823
# non-duplicate pairs to the pixel check through anchors alone; the 4x4 grid at two scales
# (128 anchors) / 4 votes missed none and sent 1,563.
# Scales a factor sqrt(2) apart (since 2026-11-29): a crop of 25-35% shown at the same size is a
# zoom of 1.33-1.54x, which falls between two octaves; with a scale in between, some scale of the
# copy is within 1.2x of some scale of the original. On a harder dev-only proxy (the suite plus
# crop 35%, crops 25/35% as q40 half-size thumbnails, 3-degree straightening + crop 25%, crop 25%
# + watermark: 340 harder copies; `bench_anchor_variants.py --proxy`), 3 per cell at 1, 0.71 and
# 0.5 (144 anchors) / 5 votes let 3 of them past the gate unexamined where the two-scale 4 per
# cell / 4 votes let 19, for 8% more non-duplicate pairs aligned (3,592 vs 3,316 of 85,680); more
# anchors per cell at two scales did less at the same count (6 per cell, 192: 6 at 3,878).
ANCHOR_GRID = 4
ANCHORS_PER_CELL = 3
ANCHOR_SCALES = (1.0, 0.71, 0.5)
ANCHOR_COUNT = ANCHOR_GRID * ANCHOR_GRID * ANCHORS_PER_CELL * len(ANCHOR_SCALES)
ANCHOR_RADIUS = 40
MIN_ANCHOR_VOTES = 5


# A pair with near hashes is aligned only if it also shares at least this many anchors (counted
# on the mirror image when the hashes are closer mirrored). With the first anchors (64 strongest
# of the whole picture) this was 0: requiring one lost 2 of 17 text + logo overlays and a 25%
# crop of the drone photos, because a watermark's text corners were the strongest in the picture
# and pushed out every anchor (dev overlays shared median 0 anchors with their originals).
# Spread anchors keep those cells' anchors only: on dev every copy of every transform shares
# anchors with its original (overlay min 70, screenshot padding 15, resize 0.25 min 2; only a
# few 25% crops share none, and those in the near band shared >= 15), while 75% of non-duplicate
# near pairs share none: pairs aligned 6,390 -> 2,909 with no copy lost
# (benchmarks/bench_anchor_variants.py --near-gate, dev set only).
MIN_ANCHOR_VOTES_NEAR = 1


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
    """A picture prepared for alignment: its ORB corners (positions, strengths, descriptors) at
    `CONFIRM_SIDE`, its grey pixels, and (made on first use) the same for its mirror image.
    Prepare once, align against many.

    Features can be cached (`to_bytes` / `from_bytes`, e.g. in a workspace's derived store) and
    the pixels then loaded only when a pair gets as far as the pixel comparison: most pairs are
    rejected on their ORB matches alone.
    """

    def __init__(self, image: np.ndarray) -> None:
        gray = working_gray(image)
        self._gray: np.ndarray | None = gray
        self._load: Callable[[], np.ndarray] | None = None
        self.shape: tuple[int, int] = (int(gray.shape[0]), int(gray.shape[1]))
        self.points, self.responses, self.descriptors = _detect(gray)
        self._mirror: PictureFeatures | None = None
        # The picture's anchors, made once (they need the pixels at smaller sizes too).
        self._anchors: np.ndarray | None = None

    @property
    def gray(self) -> np.ndarray:
        """The grey picture at `CONFIRM_SIDE` (loaded on first use for cached features)."""
        if self._gray is None:
            assert self._load is not None
            gray = working_gray(self._load())
            if gray.shape != self.shape:
                raise InvalidValueError(
                    f"cached features were made on a {self.shape} picture, not {gray.shape}"
                )
            self._gray = gray
        return self._gray

    def mirror(self) -> PictureFeatures:
        if self._mirror is None:
            self._mirror = PictureFeatures(np.ascontiguousarray(self.gray[:, ::-1]))
        return self._mirror

    def to_bytes(self) -> bytes:
        """The ORB features and anchors (not the pixels) in a compact self-describing form."""
        out = io.BytesIO()
        descriptors = self.descriptors if self.descriptors is not None else _NO_DESCRIPTORS
        np.savez(
            out,
            settings=np.array(FEATURE_SETTINGS),
            shape=np.array(self.shape, np.int32),
            points=self.points,
            responses=self.responses,
            descriptors=descriptors,
            anchor_set=np.array(ANCHOR_SET),
            anchors=anchor_descriptors(self),
        )
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, load: Callable[[], np.ndarray]) -> PictureFeatures:
        """Features written by `to_bytes`; `load()` gives the picture (uint8 RGB or grey) when
        its pixels are needed. Raises InvalidValueError for a damaged blob or one made with
        other settings (the caller recomputes)."""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                inflated = sum(info.file_size for info in archive.infolist())
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise InvalidValueError(f"malformed picture features: {exc}") from exc
        if inflated > _MAX_FEATURES_INFLATED:
            # A small file may inflate to gigabytes (a deflated run of zeros): refused before
            # numpy allocates it. zipfile reads no member past its declared size.
            raise InvalidValueError(
                f"malformed picture features: {inflated} bytes inflated, over the "
                f"{_MAX_FEATURES_INFLATED} any features file holds"
            )
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                settings = str(z["settings"])
                shape = tuple(int(v) for v in z["shape"])
                points, responses = z["points"], z["responses"]
                descriptors = z["descriptors"]
                anchor_set = str(z["anchor_set"]) if "anchor_set" in z else None
                anchors = z.get("anchors")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise InvalidValueError(f"malformed picture features: {exc}") from exc
        if settings != FEATURE_SETTINGS:
            raise InvalidValueError(
                f"picture features made with {settings}, not {FEATURE_SETTINGS}"
            )
        n = len(points)
        if (
            len(shape) != 2
            or min(shape) <= 0
            or points.shape != (n, 2)
            or points.dtype != np.float32
            or responses.shape != (n,)
            or responses.dtype != np.float32
            or descriptors.dtype != np.uint8
            or descriptors.shape != (n, 32)
            or not np.isfinite(points).all()
            or (anchors is not None and (anchors.dtype != np.uint8 or anchors.shape[1:] != (32,)))
        ):
            raise InvalidValueError("malformed picture features: inconsistent arrays")
        features = cls.__new__(cls)
        features._gray = None
        features._load = load
        features.shape = (shape[0], shape[1])
        features.points, features.responses = points, responses
        features.descriptors = descriptors if n else None
        features._mirror = None
        # Anchors cached under another definition are not used: made again from the pixels.
        features._anchors = anchors if anchor_set == ANCHOR_SET else None
        return features


# ORB settings the features (and anchors) depend on: a cached blob or stored anchor set made under
# other settings must not be compared with these.
FEATURE_SETTINGS = f"orb{_ORB_FEATURES}-{CONFIRM_SIDE}px-v1"
_NO_DESCRIPTORS = np.zeros((0, 32), np.uint8)
# Far above what `to_bytes` writes (~50 kB: 1,000 keypoints with their descriptors and anchors).
_MAX_FEATURES_INFLATED = 1 << 23
# Names how anchors are chosen: stored anchors recorded under another name (or none: the first
# definition, the 64 strongest, was not named) are recomputed, never compared with these. Change
# it whenever `anchor_descriptors` or its constants change.
ANCHOR_SET = (
    f"grid{ANCHOR_GRID}x{ANCHORS_PER_CELL}-scales{'+'.join(map(str, ANCHOR_SCALES))}"
    f"-r{ANCHOR_RADIUS}-{FEATURE_SETTINGS}"
)


# Names every setting an alignment's outcome depends on, for caches of alignments: one made
# under other settings is a different measurement and must not be reused.
ALIGNMENT_SETTINGS = (
    f"align-{FEATURE_SETTINGS}-ratio{_RATIO_TEST}-ransac{_RANSAC_THRESHOLD_PX}"
    f"-in{MIN_INLIERS}-ov{MIN_OVERLAP}-corr{MIN_CORRELATION}-blur{_GRADIENT_BLUR_SIGMA}-v1"
)


def alignment_to_dict(alignment: PictureAlignment) -> dict[str, object]:
    """Every field at full precision (`as_dict` rounds for display), for caching."""
    return dataclasses.asdict(alignment)


def alignment_from_dict(data: dict[str, object]) -> PictureAlignment:
    """The alignment `alignment_to_dict` wrote; InvalidValueError if `data` is not one."""
    try:
        return PictureAlignment(
            is_same=_strict(data["is_same"], bool),
            inliers=_strict(data["inliers"], int),
            scale=float(_strict(data["scale"], float | int)),
            rotation_deg=float(_strict(data["rotation_deg"], float | int)),
            overlap=float(_strict(data["overlap"], float | int)),
            correlation=float(_strict(data["correlation"], float | int)),
            mirrored=_strict(data["mirrored"], bool),
        )
    except (KeyError, TypeError) as exc:
        raise InvalidValueError(f"not a cached alignment: {exc}") from exc


def _strict(value: object, kind: Any) -> Any:
    # bool is an int to isinstance: a cached flag must be a bool and a count must not be one.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"unexpected {type(value).__name__}")
    return value


def anchor_descriptors(image: np.ndarray | PictureFeatures) -> np.ndarray:
    """A picture's anchors, (at most ANCHOR_COUNT, 32) uint8: at each of ANCHOR_SCALES, the
    strongest ORB corners of each grid cell (slots of cells with too few corners go to the
    strongest corners left)."""
    features = image if isinstance(image, PictureFeatures) else PictureFeatures(image)
    if features._anchors is not None:
        return features._anchors
    per_scale = ANCHOR_COUNT // len(ANCHOR_SCALES)
    parts = [_spread_strongest(features, per_scale)]
    for scale in ANCHOR_SCALES[1:]:
        h, w = features.shape
        size = (max(1, int(w * scale)), max(1, int(h * scale)))
        smaller = cv2.resize(features.gray, size, interpolation=cv2.INTER_AREA)
        parts.append(_spread_strongest(PictureFeatures(smaller), per_scale))
    features._anchors = np.ascontiguousarray(np.concatenate(parts))
    return features._anchors


def _spread_strongest(features: PictureFeatures, count: int) -> np.ndarray:
    if features.descriptors is None or not len(features.points):
        return _NO_DESCRIPTORS
    order = np.argsort(-features.responses, kind="stable")
    h, w = features.shape
    pts = features.points[order].astype(np.float64)
    col = np.minimum((pts[:, 0] * ANCHOR_GRID / w).astype(int), ANCHOR_GRID - 1)
    row = np.minimum((pts[:, 1] * ANCHOR_GRID / h).astype(int), ANCHOR_GRID - 1)
    cell = row * ANCHOR_GRID + col
    taken = _rank_within_groups(cell) < ANCHORS_PER_CELL
    rest = np.flatnonzero(~taken)[: max(0, count - int(taken.sum()))]
    chosen = np.sort(np.concatenate([np.flatnonzero(taken), rest]))[:count]
    return features.descriptors[order[chosen]]


def _rank_within_groups(groups: np.ndarray) -> np.ndarray:
    """For each entry, how many entries of its group come before it: its rank within its grid
    cell when the corners are in strength order (a Python loop over the ~1,000 corners was
    ~0.4 ms of each picture's anchors)."""
    by_group = np.argsort(groups, kind="stable")
    grouped = groups[by_group]
    first = np.searchsorted(grouped, grouped, side="left")
    rank = np.empty(len(groups), np.int64)
    rank[by_group] = np.arange(len(groups)) - first
    return rank


def anchors_to_hex(anchors: np.ndarray) -> list[str]:
    return [row.tobytes().hex() for row in anchors]


def anchor_words(anchors: np.ndarray) -> np.ndarray:
    """Anchors as the (n, 4) big-endian uint64 words a 256-bit `HashIndex` stores: the same
    values `words_from_hex(anchors_to_hex(anchors), 256)` gives."""
    raw = np.ascontiguousarray(anchors, dtype=np.uint8).tobytes()
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


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


def working_gray(image: np.ndarray) -> np.ndarray:
    """The grey picture alignment works on: `image` (uint8 RGB or grey) in grey, shrunk to
    `CONFIRM_SIDE` if larger. A grey picture already that size comes back unchanged, so a cache
    of this result stands in exactly for the picture it was made from."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise InvalidValueError("expected a uint8 RGB or grey image")
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    scale = CONFIRM_SIDE / max(gray.shape)
    if scale < 1:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(gray)


# ORB keeps no corner within its edge threshold (31 px) of the border, so a picture under 63 px
# on a side has none; its scale pyramid even fails with an OpenCV error below 4 px.
_MIN_DETECT_SIDE = 63


def _detect(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if min(gray.shape) < _MIN_DETECT_SIDE:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.float32), None
    # One detector per call: cv2 feature objects are not safe to share across threads. (OpenCV's
    # stubs lack ORB_create and KeyPoint_convert: attr-defined below.)
    detector = cv2.ORB_create(nfeatures=_ORB_FEATURES)  # type: ignore[attr-defined]
    keypoints, descriptors = detector.detectAndCompute(gray, None)
    # KeyPoint_convert gives the same float32 positions as reading `k.pt` one by one, ~40x
    # faster (0.2 ms of each picture's six detections per search query); it returns a tuple for
    # no keypoints.
    converted = cv2.KeyPoint_convert(keypoints) if keypoints else ()  # type: ignore[attr-defined]
    points = np.asarray(converted, np.float32).reshape(-1, 2)
    responses = np.array([k.response for k in keypoints], np.float32)
    return points, responses, descriptors


def _align(fa: PictureFeatures, fb: PictureFeatures, *, mirrored: bool) -> PictureAlignment:
    da, db = fa.descriptors, fb.descriptors
    if da is None or db is None or len(da) < MIN_INLIERS or len(db) < MIN_INLIERS:
        return _NO_ALIGNMENT
    # Exact two nearest neighbours (faiss: 1.2 ms where OpenCV's brute-force matcher took 7).
    distances, nearest = nearest_two(db, da)
    good = np.flatnonzero(distances[:, 0] < _RATIO_TEST * distances[:, 1])
    if len(good) < MIN_INLIERS:
        return _NO_ALIGNMENT
    src = fb.points[good]
    dst = fa.points[nearest[good, 0]]
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
    overlap, correlation = _pixel_agreement(fa, fb, matrix)
    is_same = overlap >= MIN_OVERLAP and correlation >= MIN_CORRELATION
    return PictureAlignment(is_same, inliers, scale, rotation, overlap, correlation, mirrored)


def _pixel_agreement(
    fa: PictureFeatures, fb: PictureFeatures, matrix: np.ndarray
) -> tuple[float, float]:
    """Share of the smaller picture inside the overlap, and the correlation of the two
    pictures' intensity gradients there. Gradients, not intensities: two views of one scene
    share their broad light and dark areas (intensity correlation 0.87-0.90 between different
    renders of the demo market), but parallax moves every edge (gradient correlation <= 0.53),
    while the same picture re-encoded keeps its edges in place (0.97). A light blur first, so
    JPEG noise and sub-pixel misalignment do not count."""
    h, w = fa.shape
    # The overlap needs no pixels: a pair that cannot reach MIN_OVERLAP is decided before either
    # picture is loaded or warped.
    valid = cv2.warpAffine(np.full(fb.shape, 255, np.uint8), matrix, (w, h)) == 255
    # Stay clear of the interpolated border of the warped picture (blur and Sobel reach 6 px).
    valid = cv2.erode(valid.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    area = int(valid.sum())
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    smaller = min(h * w, fb.shape[0] * fb.shape[1] * scale * scale)
    if area < 100 or smaller <= 0:
        return 0.0, 0.0
    overlap = min(1.0, area / smaller)
    if overlap < MIN_OVERLAP:
        return overlap, 0.0
    warped = cv2.warpAffine(fb.gray, matrix, (w, h), flags=cv2.INTER_AREA)
    ax, ay = _query_gradients(fa.gray)
    bx, by = _gradients(warped)
    x = np.concatenate([ax[valid], ay[valid]])
    y = np.concatenate([bx[valid], by[valid]])
    denom = float(np.sqrt(float((x * x).sum()) * float((y * y).sum())))
    correlation = float((x * y).sum()) / denom if denom > 0 else 0.0
    return overlap, correlation


# Not cached per picture: two float planes are 8x the grey picture, and a search holds up to
# 1,024 stored pictures. But a query is aligned with its candidates one after another, so the
# last query's gradients are kept (per thread), keyed by its grey picture itself.
_last_gradients = threading.local()


def _query_gradients(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    kept = getattr(_last_gradients, "entry", None)
    if kept is not None and kept[0] is gray:
        return kept[1]
    found = _gradients(gray)
    _last_gradients.entry = (gray, found)
    return found


def _gradients(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    smooth = cv2.GaussianBlur(gray, (0, 0), _GRADIENT_BLUR_SIGMA).astype(np.float32)
    return cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
