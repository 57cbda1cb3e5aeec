"""Match pictures kept in the derived store, drawn again only when what they show changed.

A picture's name (`matches/<blob>/<site>-<reference>.jpg`, `via-<a>-<b>.jpg`) says which pair it
shows, not what was drawn: the same name can hold another match after a change of features,
matcher or inputs. Beside each picture a small record (namespace DRAWN_NAMESPACE, same key and
name) keeps the digest of exactly what was drawn (both pictures' SHA-256, frame and decoding,
the inlier points and image sizes, the caption, the drawing settings and versions) and the
SHA-256 of the stored JPEG. A re-run whose digest matches the record, and finds the JPEG intact,
reuses it without decoding either picture; anything else (no record, a damaged record or
picture, other inputs) draws it again. The digest is kept out of the name on purpose: the
report names pictures, and inlier points depend on the CPU, so a digest name would differ by
machine.

Redrawing every picture was ~19% of a no-change re-run of a 1,000-frame case (each one decodes
both pictures, a video's keyframes all at once).
"""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np

from cases.checks.base import CheckContext
from cases.checks.footage_frames import FrameFeatures, FrameImages
from evidence_store.errors import BlobError
from verify import __version__ as TOOL_VERSION
from verify.errors import VerifyError
from verify.features import DEFAULT_MAX_SIDE
from verify.geometry import PairMatch
from verify.keyframes import THUMBNAIL_SIDE
from verify.matchviz import DRAWING_VERSION, draw_matches, encode_jpeg

PICTURE_NAMESPACE = "matches"
DRAWN_NAMESPACE = "matches_drawn"
# What the report shows: at most this wide (plus the caption), at most this many inlier lines.
PICTURE_MAX_SIDE = 800
PICTURE_MAX_LINES = 200
PICTURE_JPEG_QUALITY = 85


def match_picture(
    ctx: CheckContext,
    images: FrameImages,
    a: FrameFeatures,
    b: FrameFeatures,
    match: PairMatch,
    caption: str,
    name: str,
) -> str | None:
    """The derived path of the picture of `match` (a's points on the left, b's on the right),
    stored under a's blob as `name`: the stored one when its record shows it was drawn from
    exactly these inputs, else drawn now. None when either picture cannot be decoded, or its
    original no longer matches its SHA-256 (nothing is drawn from, or reused for, bytes the
    item no longer has)."""
    if ctx.originals is not None and not (
        ctx.originals.intact(a.item.sha256) and ctx.originals.intact(b.item.sha256)
    ):
        return None
    key, name = a.item.sha256, artefact_file_name(name)
    derived = ctx.ws.derived
    drawn = drawn_digest(a, b, match, caption)
    if _stored_intact(ctx, key, name, drawn):
        return derived.relative(derived.path(PICTURE_NAMESPACE, key, name))
    try:
        image_a, image_b = images.get(a), images.get(b)
    except VerifyError:
        return None
    if image_a is None or image_b is None:
        return None
    jpeg = encode_jpeg(
        draw_matches(
            image_a,
            image_b,
            match,
            max_side=PICTURE_MAX_SIDE,
            max_lines=PICTURE_MAX_LINES,
            caption=caption,
        ),
        PICTURE_JPEG_QUALITY,
    )
    path = derived.write(PICTURE_NAMESPACE, key, name, jpeg)
    # Written after the picture: a run stopped between the two leaves an old record whose
    # picture hash no longer matches, so the next run draws it again.
    record = {"drawn": drawn, "picture_sha256": hashlib.sha256(jpeg).hexdigest()}
    derived.write(DRAWN_NAMESPACE, key, name, json.dumps(record, sort_keys=True).encode())
    return derived.relative(path)


# Most file systems refuse a name over 255 bytes; a site name is free text of any length (180
# Arabic letters are 360 bytes), and verify stopped on one ("File name too long").
_MAX_NAME_BYTES = 200


def artefact_file_name(name: str) -> str:
    """`name` as a file name: '/' replaced, and a name too long for the file system shortened
    with a digest of the whole, so that two long names never share a file."""
    safe = name.replace("/", "_")
    encoded = safe.encode()
    if len(encoded) <= _MAX_NAME_BYTES:
        return safe
    stem, dot, suffix = safe.rpartition(".")
    digest = hashlib.sha256(encoded).hexdigest()[:16]
    room = _MAX_NAME_BYTES - len(digest) - len(suffix) - 2
    kept = stem.encode()[:room].decode("utf-8", "ignore")
    return f"{kept}-{digest}{dot}{suffix}"


def drawn_digest(a: FrameFeatures, b: FrameFeatures, match: PairMatch, caption: str) -> str:
    """SHA-256 of everything the picture's pixels depend on."""
    h = hashlib.sha256()
    settings = {
        "pictures": [[f.item.sha256, f.index, f.item.kind] for f in (a, b)],
        "decoded_at": [DEFAULT_MAX_SIDE, THUMBNAIL_SIDE],
        "sizes": [list(match.size_a), list(match.size_b)],
        "caption": caption,
        "drawing": [DRAWING_VERSION, PICTURE_MAX_SIDE, PICTURE_MAX_LINES, PICTURE_JPEG_QUALITY],
        "versions": [TOOL_VERSION, cv2.__version__],
    }
    h.update(json.dumps(settings, sort_keys=True).encode())
    for points in (match.points_a, match.points_b):
        arr = np.ascontiguousarray(points, np.float32).reshape(-1, 2)
        h.update(len(arr).to_bytes(8, "little"))
        h.update(arr.astype("<f4").tobytes())
    return h.hexdigest()


def _stored_intact(ctx: CheckContext, key: str, name: str, drawn: str) -> bool:
    """Whether the stored picture `name` was drawn from `drawn` and is unchanged since."""
    derived = ctx.ws.derived
    try:
        raw = derived.read(DRAWN_NAMESPACE, key, name)
        if raw is None:
            return False
        record = json.loads(raw)
        if not isinstance(record, dict) or record.get("drawn") != drawn:
            return False
        jpeg = derived.read(PICTURE_NAMESPACE, key, name)
    except (BlobError, OSError, ValueError):
        return False  # an unreadable record or picture is drawn again
    return jpeg is not None and hashlib.sha256(jpeg).hexdigest() == record.get("picture_sha256")
