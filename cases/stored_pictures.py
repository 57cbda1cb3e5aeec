"""A stored picture's pixels and ORB features, read from the originals and the derived store
alone: the same-picture search reads them in this process (`cases.search.workspace_pixels`) and
in worker processes (`cases.align_workers`), which have no database and import little. Both are
cached in the derived store beside the original's SHA-256: the features always, the grey
pixels at the working size once a search first needs them (`stored_gray`)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from typing import Protocol

import cv2
import numpy as np
import PIL

from cases.analysis import PICTURE_FEATURES_NAMESPACE, picture_features_name
from cases.originals import naming
from evidence_store.blobs import BlobStore, DerivedStore
from evidence_store.errors import BlobError, StoreUnavailableError
from verify.errors import InvalidValueError, UnreadableMediaError, VerifyError
from verify.media import load_image
from verify.samepicture import CONFIRM_SIDE, PictureFeatures, working_gray


class OriginalsState(Protocol):
    """What reading a stored picture needs of `cases.originals.OriginalsCheck`."""

    def intact(self, sha256: str) -> bool: ...

    def problem(self, sha256: str) -> str | None: ...


def stored_features(
    blobs: BlobStore,
    derived: DerivedStore,
    originals: OriginalsState | None,
    sha256: str,
    kind: str,
    frame_index: int,
    *,
    write: bool,
) -> PictureFeatures | None:
    """One stored frame's features, its pixels loaded on first use: read from the derived
    store, else made from its pixels (and written there when `write`). None when the picture
    cannot be had. With `originals`, a photo whose original no longer matches its SHA-256 has
    no pixels."""
    name = picture_features_name(frame_index)
    pixels = functools.partial(
        stored_gray, blobs, derived, originals, sha256, kind, frame_index, write=write
    )
    cached = _cached(derived, sha256, name, _MAX_FEATURES_BYTES)
    if cached is not None:
        try:
            return PictureFeatures.from_bytes(cached, pixels)
        except InvalidValueError:
            pass  # a damaged cache entry: recomputed (and rewritten) below
    try:
        features = PictureFeatures(pixels())
    except VerifyError:
        return None
    if write:
        # The cache only saves time: if it cannot be written, the next call recomputes.
        with contextlib.suppress(BlobError, StoreUnavailableError):
            derived.write(PICTURE_FEATURES_NAMESPACE, sha256, name, features.to_bytes())
    return features


def stored_gray(
    blobs: BlobStore,
    derived: DerivedStore,
    originals: OriginalsState | None,
    sha256: str,
    kind: str,
    frame_index: int,
    *,
    write: bool,
) -> np.ndarray:
    """A stored frame's grey pixels at the pixel check's working size (`working_gray` of a
    photo's original or a keyframe's thumbnail), read from the derived store when a verified
    copy is there (else decoded, and written there when `write`). Raises VerifyError when the
    picture cannot be had, whether or not a copy is cached: a photo whose original fails the
    `originals` check, or a keyframe whose thumbnail is gone, has no pixels (without
    `originals` the store is trusted, as everywhere else).

    Decoding the original was ~7 of the ~55 ms a search query cost (it is paid again by every
    later search that aligns with the picture); the cached copy reads in ~0.2 ms."""
    if kind != "video":
        _check_original(originals, sha256)
        source = sha256
        keyframe = None
    else:
        keyframe = _keyframe_bytes(derived, sha256, frame_index)
        # The thumbnail the pixels come from is a derived file itself: the copy must have been
        # made from these very bytes.
        source = hashlib.sha256(keyframe).hexdigest()
    name = _gray_name(frame_index)
    cached = _cached(derived, sha256, name, _MAX_GRAY_BYTES)
    if cached is not None:
        gray = gray_from_bytes(cached, source)
        if gray is not None:
            return gray
    if keyframe is None:
        picture = _decode_original(blobs, sha256)
    else:
        picture = _decode_keyframe(keyframe, sha256, frame_index)
    gray = working_gray(picture)
    if write:
        # The cache only saves time: if it cannot be written, the next call decodes again.
        with contextlib.suppress(BlobError, StoreUnavailableError):
            derived.write(PICTURE_FEATURES_NAMESPACE, sha256, name, gray_to_bytes(gray, source))
    return gray


# Everything the cached grey pixels depend on: the working size, and the decoders that made
# them (another Pillow or OpenCV may decode a JPEG to slightly different pixels, and the copy
# must equal what decoding now gives). A copy made under other settings is made again.
GRAY_SETTINGS = f"gray-{CONFIRM_SIDE}px-pillow{PIL.__version__}-opencv{cv2.__version__}-raw-v1"
_GRAY_MAGIC = b"claimcheck-gray\n"


def _gray_name(frame_index: int) -> str:
    # One name per frame whatever the settings: a copy made under older ones is replaced, not
    # left beside the new one.
    return f"gray-{CONFIRM_SIDE}px-{frame_index:08d}.bin"


def gray_to_bytes(gray: np.ndarray, source: str) -> bytes:
    """A grey picture made from `source` (the original's SHA-256, or the SHA-256 of a
    keyframe's thumbnail) as a self-checking derived file: a header naming the settings, the
    source, the shape and a SHA-256 of all three and the pixels, then the pixels."""
    raw = np.ascontiguousarray(gray, np.uint8).tobytes()
    shape = (int(gray.shape[0]), int(gray.shape[1]))
    header = {
        "settings": GRAY_SETTINGS,
        "source": source,
        "shape": list(shape),
        "pixels": _digest(source, shape, raw),
    }
    # Uncompressed: a cache that is written on a search's first use of a picture must cost
    # less than the decode it saves. On 20 dev photos at 480 px, zlib level 1 took 2.5 ms to
    # write and 0.8 to read for 103 kB of 154 (Huffman only: 1.2 ms, 124 kB); raw, ~0.2 ms.
    return _GRAY_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + raw


def gray_from_bytes(data: bytes, source: str) -> np.ndarray | None:
    """The grey picture `gray_to_bytes` wrote for `source` under the current settings, or None
    for anything else (damaged, truncated, made from another source or under other settings):
    the caller decodes the picture again. Never trusted unchecked: the pixels must hash to the
    digest in the header, which covers the settings, source and shape too."""
    if not data.startswith(_GRAY_MAGIC):
        return None
    head, sep, raw = data[len(_GRAY_MAGIC) :].partition(b"\n")
    try:
        header = json.loads(head) if sep else None
    except ValueError:
        return None
    if (
        not isinstance(header, dict)
        or header.get("settings") != GRAY_SETTINGS
        or header.get("source") != source
    ):
        return None
    shape, digest = header.get("shape"), header.get("pixels")
    if (
        not isinstance(shape, list)
        or len(shape) != 2
        or not all(type(v) is int and 0 < v <= CONFIRM_SIDE for v in shape)
        or not isinstance(digest, str)
    ):
        return None
    if len(raw) != shape[0] * shape[1] or _digest(source, (shape[0], shape[1]), raw) != digest:
        return None
    return np.frombuffer(raw, np.uint8).reshape(shape[0], shape[1]).copy()


def _digest(source: str, shape: tuple[int, int], raw: bytes) -> str:
    # Over the settings, source and shape too: the same bytes read as another shape (or for
    # another picture) are another picture.
    head = f"{GRAY_SETTINGS}\n{source}\n{shape[0]}x{shape[1]}\n".encode()
    return hashlib.sha256(head + raw).hexdigest()


# Upper bounds on what `stored_features` and `stored_gray` write, so that a cache file swapped
# for a huge one is not read whole: the pixels of a picture at the working size plus a header
# of a few hundred bytes; and ~80 kB of ORB features and anchors (1,000 keypoints at most),
# with ample room.
_MAX_GRAY_BYTES = CONFIRM_SIDE * CONFIRM_SIDE + 4096
_MAX_FEATURES_BYTES = 1 << 20


def _cached(derived: DerivedStore, sha256: str, name: str, max_bytes: int) -> bytes | None:
    # An entry that cannot be read (a folder in its place, no permission) or is too large to be
    # ours is a cache miss like a damaged one: the picture is decoded again, not the search
    # stopped.
    try:
        return derived.read(PICTURE_FEATURES_NAMESPACE, sha256, name, max_bytes=max_bytes)
    except BlobError:
        return None


def _check_original(originals: OriginalsState | None, sha256: str) -> None:
    if originals is not None and not originals.intact(sha256):
        raise UnreadableMediaError(
            f"the original with SHA-256 {sha256} no longer matches it ({originals.problem(sha256)})"
        )


def _decode_original(blobs: BlobStore, sha256: str) -> np.ndarray:
    path = blobs.path(sha256)
    with naming(path, f"the original with SHA-256 {sha256}"):
        return load_image(path, max_side=CONFIRM_SIDE)


def _keyframe_bytes(derived: DerivedStore, sha256: str, frame_index: int) -> bytes:
    data = derived.read("keyframes", sha256, f"{frame_index:08d}.jpg")
    if data is None:
        raise UnreadableMediaError(f"keyframe {frame_index} of SHA-256 {sha256} is not available")
    return data


def _decode_keyframe(data: bytes, sha256: str, frame_index: int) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UnreadableMediaError(f"keyframe {frame_index} of SHA-256 {sha256} is not available")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
