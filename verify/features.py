"""Local image features (keypoints + descriptors) for geometric site matching.

Footage and reference imagery differ in viewpoint, time and camera, so whole-image hashes cannot say
whether they show the same place; local features matched and then verified geometrically can
(see `verify.geometry`). Features are computed once per image and cached by the caller as derived
artefacts, so `Features` serialises to plain `np.savez` bytes that load without pickle.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from verify.errors import InvalidValueError, UnreadableMediaError
from verify.media import load_image, open_image, to_gray

# SIFT descriptors with RootSIFT normalisation (Arandjelovic & Zisserman 2012): L1-normalise, then
# square-root, so that Euclidean distance compares descriptors like the Hellinger kernel. It is
# the default because it matches wide-baseline photos (different people, years apart) more
# reliably than plain SIFT at the same cost.
METHOD_ROOTSIFT = "rootsift"
METHOD_SIFT = "sift"
# ORB: binary descriptors, several times faster to extract and match, fewer wide-baseline matches.
METHOD_ORB = "orb"
METHODS = (METHOD_ROOTSIFT, METHOD_SIFT, METHOD_ORB)
DEFAULT_METHOD = METHOD_ROOTSIFT

# Images are detected at most this many pixels on their longest side. Reference photos of sites
# are typically 800-1600 px; at 1024 px SIFT still finds the building-scale structure that
# survives a change of camera, and extraction stays well under a second per image
# (benchmarks/bench_sitematch.py, "Site matching (issue 3)").
DEFAULT_MAX_SIDE = 1024

# Strongest keypoints kept per image. Matching cost grows with the product of both images'
# counts; 2000 per image keeps one footage frame against 10 references under 0.5 s on one core
# while leaving same-site pairs far above the decision threshold (same benchmark).
DEFAULT_MAX_FEATURES = 2000

# SIFT contrast threshold lowered from OpenCV's 0.04 so that flat, low-contrast footage (haze,
# compression) still yields keypoints; the max_features cap keeps only the strongest anyway.
SIFT_CONTRAST_THRESHOLD = 0.02

# ORB pyramid: 8 levels at 1.2 is OpenCV's default and covers a 4x scale change.
ORB_SCALE_FACTOR = 1.2
ORB_LEVELS = 8

# Version of the byte format written by `Features.to_bytes`, checked on load.
_FORMAT_VERSION = 1
_EXIF_ORIENTATION_TAG = 0x0112
FLOAT_DESCRIPTOR_DIM = 128
_ORB_DESCRIPTOR_BYTES = 32


@dataclass(frozen=True, eq=False)
class Features:
    """Keypoints and descriptors of one image.

    `keypoints` are (x, y) in the ORIGINAL image's pixel coordinates (as decoded, EXIF orientation
    applied), whatever resolution detection ran at; `image_size` is that original (width, height).
    `scale` is detection pixels per original pixel (<= 1), so geometric thresholds can be set in
    the pixels the keypoints were actually localised in. `sizes` and `angles` are the keypoints'
    diameters (original pixels) and orientations (degrees).
    """

    method: str
    keypoints: np.ndarray  # float32 (N, 2)
    descriptors: np.ndarray  # float32 (N, 128) for SIFT/RootSIFT, uint8 (N, 32) for ORB
    image_size: tuple[int, int]
    scale: float
    sizes: np.ndarray  # float32 (N,)
    angles: np.ndarray  # float32 (N,)

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def is_binary(self) -> bool:
        """True for binary (Hamming-distance) descriptors such as ORB."""
        return self.method == METHOD_ORB

    def to_bytes(self) -> bytes:
        """Serialise with `np.savez` (no pickle), for the derived-artefact cache."""
        buf = io.BytesIO()
        np.savez(
            buf,
            version=np.array(_FORMAT_VERSION, dtype=np.int32),
            method=np.array(self.method),
            keypoints=self.keypoints,
            descriptors=self.descriptors,
            image_size=np.array(self.image_size, dtype=np.int64),
            scale=np.array(self.scale, dtype=np.float64),
            sizes=self.sizes,
            angles=self.angles,
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Features:
        """Load bytes written by `to_bytes`; anything else raises `InvalidValueError`."""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                inflated = sum(info.file_size for info in archive.infolist())
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise InvalidValueError(f"not a serialised Features blob: {exc}") from exc
        if inflated > len(data):
            # `to_bytes` stores its arrays uncompressed, so they never inflate past the file: a
            # small deflated file that would (a run of zeros, gigabytes) is not ours, and is
            # refused before numpy allocates it.
            raise InvalidValueError(
                f"not a serialised Features blob: {inflated} bytes inflated from {len(data)}"
            )
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise InvalidValueError(f"not a serialised Features blob: {exc}") from exc
        required = {"version", "method", "keypoints", "descriptors", "image_size", "scale"}
        missing = required - arrays.keys()
        if missing:
            raise InvalidValueError(f"Features blob lacks {', '.join(sorted(missing))}")
        try:
            version = int(arrays["version"])
            if version != _FORMAT_VERSION:
                raise InvalidValueError(f"Features blob has unknown version {version}")
            keypoints = arrays["keypoints"].astype(np.float32, copy=False)
            n = int(keypoints.shape[0]) if keypoints.ndim == 2 else 0
            image_size = arrays["image_size"].reshape(-1)
            features = cls(
                method=str(arrays["method"]),
                keypoints=keypoints,
                descriptors=arrays["descriptors"],
                image_size=(int(image_size[0]), int(image_size[1])),
                scale=float(arrays["scale"]),
                sizes=arrays.get("sizes", np.zeros(n, np.float32)).astype(np.float32),
                angles=arrays.get("angles", np.zeros(n, np.float32)).astype(np.float32),
            )
        except (TypeError, ValueError, IndexError, OverflowError) as exc:
            # Wrong shapes or dtypes (a damaged or hand-made blob): never an untyped error.
            raise InvalidValueError(f"malformed Features blob: {exc}") from exc
        _validate(features)
        return features


class KeypointLookup:
    """Which keypoint of one image sits at given coordinates: `match_pair` returns its inliers
    as the keypoints' own float32 coordinates (also as cached), and the link search needs to know
    which features they are, to follow one feature from image to image."""

    def __init__(self, features: Features) -> None:
        keys = _packed(features.keypoints)
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]

    def indices(self, points: np.ndarray) -> np.ndarray:
        """int64 index of the keypoint at each (x, y) of `points`, -1 where no keypoint is
        (several keypoints at one spot, as SIFT gives one per orientation: the first)."""
        wanted = _packed(points)
        if len(self._keys) == 0:
            return np.full(len(wanted), -1, np.int64)
        at = np.minimum(np.searchsorted(self._keys, wanted), len(self._keys) - 1)
        return np.where(self._keys[at] == wanted, self._order[at], -1).astype(np.int64)


def _packed(points: np.ndarray) -> np.ndarray:
    """One int64 per float32 (x, y): its two coordinates' bits, so equal means bit-identical."""
    xy = np.ascontiguousarray(np.asarray(points, np.float32).reshape(-1, 2))
    return xy.view(np.int64).ravel()


def settings_key(
    method: str = DEFAULT_METHOD,
    max_side: int = DEFAULT_MAX_SIDE,
    max_features: int = DEFAULT_MAX_FEATURES,
) -> str:
    """A short text naming the extraction settings, e.g. "rootsift-1024-2000-v1", for cache keys:
    features cached under other settings (or an older byte format) must not be reused."""
    return f"{method}-{max_side}-{max_features}-v{_FORMAT_VERSION}"


def _validate(f: Features) -> None:
    """Reject inconsistent Features (a damaged cache entry must not reach the matcher)."""
    if f.method not in METHODS:
        raise InvalidValueError(f"unknown feature method {f.method!r}")
    if f.keypoints.ndim != 2 or f.keypoints.shape[1] != 2:
        raise InvalidValueError(f"keypoints must be (N, 2), got {f.keypoints.shape}")
    if not np.isfinite(f.keypoints).all():
        raise InvalidValueError("keypoints contain NaN or infinite coordinates")
    n = f.keypoints.shape[0]
    dim, dtype = (
        (_ORB_DESCRIPTOR_BYTES, np.uint8) if f.is_binary else (FLOAT_DESCRIPTOR_DIM, np.float32)
    )
    if f.descriptors.shape != (n, dim) or f.descriptors.dtype != dtype:
        raise InvalidValueError(
            f"{f.method} descriptors must be {np.dtype(dtype).name} ({n}, {dim}), "
            f"got {f.descriptors.dtype} {f.descriptors.shape}"
        )
    if f.sizes.shape != (n,) or f.angles.shape != (n,):
        raise InvalidValueError("keypoint sizes/angles do not match the keypoint count")
    if min(f.image_size) <= 0 or not 0.0 < f.scale <= 1.0:
        raise InvalidValueError(f"bad image size {f.image_size} or scale {f.scale}")


def extract_features(
    image: np.ndarray,
    *,
    method: str = DEFAULT_METHOD,
    max_side: int = DEFAULT_MAX_SIDE,
    max_features: int = DEFAULT_MAX_FEATURES,
) -> Features:
    """Detect keypoints and compute descriptors on an RGB uint8 or gray image.

    The image is downscaled (area interpolation) so its longest side is at most `max_side` before
    detection; keypoints are returned in the original image's coordinates. A blank or tiny image
    yields zero keypoints, not an error.
    """
    if method not in METHODS:
        raise InvalidValueError(f"unknown feature method {method!r}; expected one of {METHODS}")
    if max_side < 32 or max_features < 1:
        raise InvalidValueError(f"max_side must be >= 32 and max_features >= 1 ({max_side=})")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InvalidValueError("image must be a uint8 numpy array")
    if image.ndim == 3 and image.shape[2] == 3:
        gray = to_gray(image)
    elif image.ndim == 2:
        gray = image
    else:
        raise InvalidValueError(f"image must be RGB (H, W, 3) or gray (H, W), got {image.shape}")
    height, width = gray.shape
    if width == 0 or height == 0:
        raise InvalidValueError("image has no pixels")
    scale = min(1.0, max_side / max(width, height))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    gray = np.ascontiguousarray(gray)

    # OpenCV's stubs lack the detector factories (attr-defined below).
    if method == METHOD_ORB:
        detector = cv2.ORB_create(  # type: ignore[attr-defined]
            nfeatures=max_features, scaleFactor=ORB_SCALE_FACTOR, nlevels=ORB_LEVELS
        )
    else:
        detector = cv2.SIFT_create(  # type: ignore[attr-defined]
            nfeatures=max_features, contrastThreshold=SIFT_CONTRAST_THRESHOLD
        )
    keypoints, descriptors = detector.detectAndCompute(gray, None)
    if descriptors is None or len(keypoints) == 0:
        return _empty(method, (width, height), scale)
    # SIFT's nfeatures cap can return a few extra keypoints of equal response; trim exactly.
    keypoints, descriptors = keypoints[:max_features], descriptors[:max_features]

    # Keypoint coordinates refer to pixel centres; map back to the original image's pixels.
    xy = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    xy = (xy + 0.5) / np.float32(scale) - 0.5
    sizes = np.array([kp.size for kp in keypoints], dtype=np.float32) / np.float32(scale)
    angles = np.array([kp.angle for kp in keypoints], dtype=np.float32)
    if method == METHOD_ROOTSIFT:
        descriptors = _root_sift(descriptors)
    elif method == METHOD_SIFT:
        descriptors = descriptors.astype(np.float32, copy=False)
    return Features(
        method=method,
        keypoints=xy,
        descriptors=np.ascontiguousarray(descriptors),
        image_size=(int(width), int(height)),
        scale=float(scale),
        sizes=sizes,
        angles=angles,
    )


def extract_features_from_file(
    path: Path,
    *,
    method: str = DEFAULT_METHOD,
    max_side: int = DEFAULT_MAX_SIDE,
    max_features: int = DEFAULT_MAX_FEATURES,
) -> Features:
    """`extract_features` on an image file, decoded by `verify.media.load_image`.

    The file is decoded at reduced size (`max_side`, reduced-DCT JPEG decoding makes that cheap),
    but keypoints and `image_size` still refer to the full image as `load_image(path)` returns it
    (EXIF orientation applied), so they line up with any other decode of the same file.
    """
    path = Path(path)
    image = load_image(path, max_side=max_side)
    features = extract_features(image, method=method, max_side=max_side, max_features=max_features)
    full_size = _oriented_size(path)
    if full_size == features.image_size:
        return features
    sx = full_size[0] / features.image_size[0]
    sy = full_size[1] / features.image_size[1]
    xy = features.keypoints
    full_xy = np.empty_like(xy)
    full_xy[:, 0] = (xy[:, 0] + 0.5) * np.float32(sx) - 0.5
    full_xy[:, 1] = (xy[:, 1] + 0.5) * np.float32(sy) - 0.5
    return Features(
        method=features.method,
        keypoints=full_xy,
        descriptors=features.descriptors,
        image_size=full_size,
        scale=min(1.0, features.scale / max(sx, sy)),
        sizes=features.sizes * np.float32(max(sx, sy)),
        angles=features.angles,
    )


def _oriented_size(path: Path) -> tuple[int, int]:
    """Full (width, height) of an image after EXIF orientation, without decoding pixels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = open_image(path)
        try:
            width, height = img.size
            try:
                orientation = img.getexif().get(_EXIF_ORIENTATION_TAG)
            except (OSError, ValueError, SyntaxError, EOFError) as exc:
                raise UnreadableMediaError(f"cannot read EXIF of {path.name}: {exc}") from exc
        finally:
            img.close()
    # Orientations 5-8 are transposes: the displayed image is height x width.
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return int(width), int(height)


def _root_sift(descriptors: np.ndarray) -> np.ndarray:
    """RootSIFT: L1-normalise each SIFT descriptor, then take the element-wise square root."""
    d = descriptors.astype(np.float32, copy=False)
    d = d / np.maximum(d.sum(axis=1, keepdims=True), np.float32(1e-7))
    return np.sqrt(d).astype(np.float32)


def _empty(method: str, image_size: tuple[int, int], scale: float) -> Features:
    binary = method == METHOD_ORB
    return Features(
        method=method,
        keypoints=np.zeros((0, 2), np.float32),
        descriptors=np.zeros(
            (0, _ORB_DESCRIPTOR_BYTES if binary else FLOAT_DESCRIPTOR_DIM),
            np.uint8 if binary else np.float32,
        ),
        image_size=(int(image_size[0]), int(image_size[1])),
        scale=float(scale),
        sizes=np.zeros(0, np.float32),
        angles=np.zeros(0, np.float32),
    )
