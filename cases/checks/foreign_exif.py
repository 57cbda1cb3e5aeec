"""Whether a photo's own EXIF may describe another picture: its thumbnail shows a different one.

A camera writes the EXIF thumbnail together with the capture time and GPS position. When the
thumbnail shows a different picture from the main image (`verify.provenance`'s
THUMBNAIL_DIFFERS trace), the pixels were replaced after capture: an edit or crop, or another
picture given this one's metadata. The date and position in the file may then be those of the
thumbnail's picture, so `capture_time` and `gps_place` rest no verdict on them: they say
inconclusive and why, and keep what the metadata records. A thumbnail that is absent or cannot
be decoded says nothing about whose metadata this is, and changes nothing.

The comparison decodes two pictures; it is made once per item per verify run
(`CheckContext.shared`) and read by `provenance`, `capture_time` and `gps_place`.
"""

from __future__ import annotations

from typing import Any

from cases.checks.base import CheckContext
from cases.checks.stored_metadata import stored_metadata
from cases.snapshot import ItemInfo
from verify.exif import PhotoMetadata
from verify.provenance import Trace, TraceKind, thumbnail_trace
from verify.verdict import Verdict

# Name of the shared per-item analysis in `CheckContext.shared`.
_THUMBNAIL_COMPARISON = "exif_thumbnail"
# Bits of the pHash the distance is counted in (imagehash's default 8x8).
_PHASH_BITS = 64


def item_thumbnail_trace(ctx: CheckContext, item: ItemInfo) -> Trace | None:
    """The thumbnail trace of a photo item (THUMBNAIL_DIFFERS or THUMBNAIL_UNREADABLE), None when
    the thumbnail matches, there is none, the item is a video or its metadata is unreadable."""
    return ctx.shared.get(_THUMBNAIL_COMPARISON, item, _compare_thumbnail)


def _compare_thumbnail(item: ItemInfo) -> Trace | None:
    meta, _ = stored_metadata(item)
    if not isinstance(meta, PhotoMetadata):
        return None
    return thumbnail_trace(meta, item.path)


def foreign_exif(ctx: CheckContext, item: ItemInfo) -> Trace | None:
    """The THUMBNAIL_DIFFERS trace when the item's EXIF thumbnail shows a different picture (its
    EXIF may be another photo's), else None."""
    trace = item_thumbnail_trace(ctx, item)
    return trace if trace is not None and trace.kind is TraceKind.THUMBNAIL_DIFFERS else None


def exif_in_doubt(
    trace: Trace, what: str, verdict: Verdict, detail: str, values: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Detail and values of an inconclusive finding that would otherwise rest on EXIF `what`
    ("date", "GPS position") which `trace` shows may be another photo's.

    `verdict`, `detail` and `values` are what the metadata gives taken at face value: the
    measured values are all kept, and that verdict is recorded as `face_value_verdict`, named so
    that no reader counts it as the finding's.
    """
    found = dict(trace.values)
    distance, threshold = int(found["distance"]), int(found["threshold"])
    reason = (
        f"inconclusive: the EXIF thumbnail shows a different picture (pHash distance {distance} "
        f"of {_PHASH_BITS}): the EXIF date/GPS may belong to another photo, so this file's EXIF "
        f"{what} cannot be taken as this picture's. Taken at face value (not a finding): {detail}"
    )
    return reason, values | {
        "verdict": Verdict.INCONCLUSIVE.value,
        "detail": reason,
        "face_value_verdict": verdict.value,
        "inconclusive_because": trace.kind.value,
        "thumbnail_distance": distance,
        "thumbnail_threshold": threshold,
    }
