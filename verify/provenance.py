"""Editing and provenance traces in a photo's metadata.

Each trace is something an investigator should look at, never proof of manipulation on its own:
phones and transfer tools legitimately rewrite software tags, platforms strip metadata, and
resizing a copy leaves the original EXIF dimensions behind. Every detail says so.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import imagehash
import numpy as np
from PIL import Image

from verify.errors import UnreadableMediaError, VerifyError
from verify.exif import PhotoMetadata, extract_thumbnail
from verify.media import load_image

NOT_PROOF = "This is a trace to examine, never proof of manipulation on its own."

# Editors whose name in the Software tag means the file was last written by image-editing
# software (matched case-insensitively as substrings). Camera firmware and transfer tools
# (e.g. "Nikon Transfer", DJI "v01.43.0042") are deliberately absent.
EDITOR_SOFTWARE = (
    "photoshop",
    "lightroom",
    "adobe camera raw",
    "gimp",
    "snapseed",
    "affinity photo",
    "pixelmator",
    "picsart",
    "paint.net",
    "facetune",
    "canva",
    "luminar",
    "capture one",
    "darktable",
    "rawtherapee",
    "acdsee",
    "photoscape",
    "vsco",
    "afterlight",
    "photopea",
    "photodirector",
    "fotor",
    "polarr",
    "krita",
    "corel",
    "paintshop",
)

# Hamming distance (of 64 bits) between imagehash.phash of the EXIF thumbnail and of the main
# image above which they are taken to show different pictures. On every thumbnail in
# ../shared/data (9 exif/gps files) the distance is 0-2; unrelated pictures of the dev data sit
# far above (see benchmarks/RESULTS.md "Metadata extraction (issue 5)"); 10 leaves room for
# recompression and the thumbnail's own resampling.
THUMBNAIL_PHASH_MAX_DISTANCE = 10
# Dark rows/columns (mean luma at most this) at the thumbnail border are letterboxing, cropped
# before hashing so a 16:9 photo in a 4:3 thumbnail still compares.
LETTERBOX_LUMA = 16
# An EXIF thumbnail is at most a few hundred pixels a side; more is a bomb, not a thumbnail.
MAX_THUMBNAIL_PIXELS = 4_000_000
# Software rewrote the file (IFD0 DateTime) this long after capture: more than clock rounding.
MODIFIED_AFTER_CAPTURE = timedelta(minutes=1)

# EXIF orientation -> the Pillow transposes that display it upright (as ImageOps.exif_transpose).
_ORIENT = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


class TraceKind(StrEnum):
    """What sort of trace was found."""

    EDITOR_SOFTWARE = "editor_software"
    THUMBNAIL_DIFFERS = "thumbnail_differs"
    THUMBNAIL_UNREADABLE = "thumbnail_unreadable"
    STRIPPED_METADATA = "stripped_metadata"
    DIMENSIONS_DISAGREE = "dimensions_disagree"
    MODIFIED_AFTER_CAPTURE = "modified_after_capture"


@dataclass(frozen=True)
class Trace:
    """One trace: its kind, a sentence naming the compared values, and the values themselves."""

    kind: TraceKind
    detail: str
    values: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "detail": self.detail, "values": dict(self.values)}


def find_traces(
    meta: PhotoMetadata, path: Path, *, presented_as_original: bool = False
) -> list[Trace]:
    """All editing/provenance traces in a photo's metadata (`meta` extracted from `path`).

    `presented_as_original`: the item is offered as an unedited camera original, so missing
    camera metadata is itself a trace.
    """
    traces = metadata_traces(meta, presented_as_original=presented_as_original)
    thumbnail = thumbnail_trace(meta, path)
    return [*traces, thumbnail] if thumbnail is not None else traces


def metadata_traces(meta: PhotoMetadata, *, presented_as_original: bool = False) -> list[Trace]:
    """The traces read from the metadata alone (everything but the thumbnail comparison, which
    decodes pixels: `thumbnail_trace`)."""
    found = (
        _editor_software(meta),
        _stripped(meta, presented_as_original),
        _dimensions(meta),
        _modified_after_capture(meta),
    )
    return [trace for trace in found if trace is not None]


def _trace(kind: TraceKind, detail: str, **values: object) -> Trace:
    return Trace(kind, f"{detail} {NOT_PROOF}", tuple((k, str(v)) for k, v in values.items()))


def _editor_software(meta: PhotoMetadata) -> Trace | None:
    if not meta.software:
        return None
    lowered = meta.software.lower()
    editor = next((name for name in EDITOR_SOFTWARE if name in lowered), None)
    if editor is None:
        return None
    return _trace(
        TraceKind.EDITOR_SOFTWARE,
        f"The Software tag reads {meta.software!r}, which names the editor {editor!r}: the file "
        "was last written by image-editing software, which may only have re-saved it.",
        software=meta.software,
        editor=editor,
    )


def _stripped(meta: PhotoMetadata, presented_as_original: bool) -> Trace | None:
    if not presented_as_original:
        return None
    if meta.exif_tag_count == 0:
        png = ""
        if meta.media_type == "image/png":
            png = " PNG files (screenshots, re-exports) seldom carry EXIF at all."
        unread = f" Reading the file reported: {'; '.join(meta.problems)}." if meta.problems else ""
        return _trace(
            TraceKind.STRIPPED_METADATA,
            "The item is presented as an original capture but carries no EXIF metadata at all; "
            f"messaging apps and social platforms strip it when sharing.{png}{unread}",
            exif_tag_count=0,
        )
    missing = [
        name
        for name, value in (
            ("Make", meta.make),
            ("Model", meta.model),
            ("capture time", meta.capture),
        )
        if value is None
    ]
    if len(missing) < 3:
        return None
    return _trace(
        TraceKind.STRIPPED_METADATA,
        f"The item is presented as an original capture but its {meta.exif_tag_count} EXIF tags "
        "name no camera make, model or capture time.",
        exif_tag_count=meta.exif_tag_count,
        missing=", ".join(missing),
    )


def _dimensions(meta: PhotoMetadata) -> Trace | None:
    exif, decoded = meta.exif_size, meta.decoded_size
    if exif is None or decoded is None:
        return None
    same = (exif.width, exif.height) == (decoded.width, decoded.height)
    swapped = (exif.width, exif.height) == (decoded.height, decoded.width)
    if same or swapped:
        return None
    exif_ratio = exif.width / exif.height
    decoded_ratio = decoded.width / decoded.height
    if abs(exif_ratio - decoded_ratio) / exif_ratio < 0.01:
        kind = "same aspect ratio, so consistent with a resized copy"
    else:
        kind = "different aspect ratio, so consistent with a crop or a different picture"
    return _trace(
        TraceKind.DIMENSIONS_DISAGREE,
        f"EXIF says {exif} pixels but the image decodes as {decoded} ({kind}); a resized copy "
        "keeps the original's EXIF dimensions.",
        exif_size=exif,
        decoded_size=decoded,
        scale=f"{decoded.width / exif.width:.3f}",
    )


def _modified_after_capture(meta: PhotoMetadata) -> Trace | None:
    if meta.capture is None or meta.capture.local is None or meta.modified_local is None:
        return None
    gap = meta.modified_local - meta.capture.local
    if gap <= MODIFIED_AFTER_CAPTURE:
        return None
    return _trace(
        TraceKind.MODIFIED_AFTER_CAPTURE,
        f"The file was last written by software at {meta.modified_local:%Y-%m-%d %H:%M:%S} "
        f"(DateTime), {_duration(gap)} after capture at {meta.capture.local:%Y-%m-%d %H:%M:%S} "
        f"({meta.capture.source}); transfer and cataloguing tools do this too.",
        modified=meta.modified_local.isoformat(),
        captured=meta.capture.local.isoformat(),
        software=meta.software or "",
    )


def _duration(gap: timedelta) -> str:
    hours = gap.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def thumbnail_trace(meta: PhotoMetadata, path: Path) -> Trace | None:
    """Whether the EXIF thumbnail shows the main image: a THUMBNAIL_DIFFERS trace when it shows a
    different picture (pHash distance above THUMBNAIL_PHASH_MAX_DISTANCE), THUMBNAIL_UNREADABLE
    when it or the image cannot be decoded, None when they match or there is no thumbnail.

    Never raises VerifyError: a file that cannot be compared is the THUMBNAIL_UNREADABLE trace.
    """
    if meta.thumbnail is None:
        return None
    try:
        data = extract_thumbnail(path)
        if data is None:
            return None
        thumb = _decode_thumbnail(data, meta.orientation)
        main = _load_main(path)
    except VerifyError as exc:
        return _trace(
            TraceKind.THUMBNAIL_UNREADABLE,
            f"The EXIF thumbnail ({meta.thumbnail.byte_length} bytes) or the main image cannot be "
            f"decoded for comparison: {exc}.",
            error=str(exc)[:160],
        )
    thumb_hash = imagehash.phash(thumb)
    main_hash = imagehash.phash(Image.fromarray(main))
    distance = int(thumb_hash - main_hash)
    if distance <= THUMBNAIL_PHASH_MAX_DISTANCE:
        return None
    return _trace(
        TraceKind.THUMBNAIL_DIFFERS,
        f"The embedded EXIF thumbnail differs from the main image: pHash {thumb_hash} vs "
        f"{main_hash}, Hamming distance {distance} of 64 (threshold "
        f"{THUMBNAIL_PHASH_MAX_DISTANCE}); editors that do not update the thumbnail leave the "
        "original picture in it.",
        thumbnail_phash=thumb_hash,
        image_phash=main_hash,
        distance=distance,
        threshold=THUMBNAIL_PHASH_MAX_DISTANCE,
    )


def _load_main(path: Path) -> np.ndarray:
    try:
        return load_image(path, max_side=512)
    except VerifyError:
        raise
    except Exception as exc:
        # open_image lets some Pillow plugin errors through (e.g. DecompressionBombError raised
        # while a WebP header is parsed); they are typed here like every other decode failure.
        raise UnreadableMediaError(
            f"image not decodable: {type(exc).__name__}: {exc}"[:200]
        ) from exc


def _decode_thumbnail(data: bytes, orientation: int | None) -> Image.Image:
    """The thumbnail upright (same orientation as `load_image` gives the main image), with
    letterbox borders cropped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            img: Image.Image = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_THUMBNAIL_PIXELS:
                raise UnreadableMediaError(f"thumbnail declares {img.width}x{img.height} pixels")
            img = img.convert("RGB")
        except VerifyError:
            raise
        except Exception as exc:
            # Pillow's decoders raise assorted types on hostile bytes (as in verify.media).
            raise UnreadableMediaError(f"thumbnail not decodable: {exc!r}"[:200]) from exc
    for op in _ORIENT.get(orientation or 1, ()):
        img = img.transpose(op)
    luma = np.asarray(img.convert("L"), dtype=np.float32)
    rows = np.flatnonzero(luma.mean(axis=1) > LETTERBOX_LUMA)
    cols = np.flatnonzero(luma.mean(axis=0) > LETTERBOX_LUMA)
    if rows.size and cols.size:
        box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        if (box[2] - box[0]) * (box[3] - box[1]) >= 0.5 * img.width * img.height:
            img = img.crop(box)
    return img
