"""Editing and provenance traces: does a photo's metadata look like an untouched camera original?

Traces (editor software, a thumbnail showing another picture, stripped metadata, EXIF sizes
that disagree with the pixels, re-saved long after capture) come from `verify.provenance`.

Verdicts, and why:
- inconclusive, one finding per trace. No trace contradicts what the claim or the denial says
  (that the picture shows the events, at that place and time): each tells how the file was
  handled, which ordinary sharing explains as well as manipulation. Messaging apps and
  platforms strip EXIF and PNG seldom carries it; re-saving in an editor, resizing and
  cropping are routine before posting; a late re-save is ordinary workflow (all 9 real Nikon
  photos in ../shared/data/exif/gps were re-written by "Nikon Transfer" ten days after
  capture); a failed thumbnail comparison decides nothing; a thumbnail unlike the image shows
  the pixels changed after capture (a crop as much as a forgery), so the file's capture time
  and GPS may describe the thumbnail's picture rather than this one (capture_time and gps_place
  are then inconclusive: cases.checks.foreign_exif). A "mismatch" would be
  counted by a reader as a contradiction, so a trace is never one. On claim and denial items
  the detail names the side that offers the item as a capture of the events.
- consistent: no trace found; the detail says that this does not prove an original either.
- inconclusive, not examined: videos (no photo EXIF), unreadable metadata or files.
Every detail says a trace is never proof of manipulation on its own.
"""

from __future__ import annotations

from typing import Any

from cases.checks.base import CheckContext, FindingDraft
from cases.checks.foreign_exif import item_thumbnail_trace
from cases.checks.stored_metadata import offered_as, stored_metadata
from cases.snapshot import ItemInfo
from verify.exif import PhotoMetadata
from verify.provenance import Trace, TraceKind, metadata_traces
from verify.verdict import Verdict

# What a trace may mean for the file's own metadata, added to its detail.
_CONSEQUENCE = {
    TraceKind.THUMBNAIL_DIFFERS: (
        " The capture time and GPS position in this file's metadata may belong to the "
        "thumbnail's picture rather than to this one, so the capture_time and gps_place "
        "findings of this item rest no verdict on them (inconclusive)."
    ),
}


class ProvenanceCheck:
    name = "provenance"
    title = "Editing and provenance traces in metadata"

    def examines(self, item: ItemInfo) -> bool:
        return item.is_footage

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        footage = [i for i in ctx.case.items if self.examines(i)]
        task = ctx.progress.task("provenance traces", len(footage))
        drafts: list[FindingDraft] = []
        for item in footage:
            drafts += self._item(ctx, item)
            task.advance()
        return drafts

    def _item(self, ctx: CheckContext, item: ItemInfo) -> list[FindingDraft]:
        sides = offered_as(item)
        meta, problems = stored_metadata(item)
        if not isinstance(meta, PhotoMetadata):
            why = (
                "not examined: editing traces are read from photo EXIF (software tag, "
                "thumbnail, sizes), which a video does not carry"
                if meta is not None
                else f"its metadata could not be read ({problems})"
            )
            return [self._draft(item, Verdict.INCONCLUSIVE, {"presented_as": sides}, why + ".")]
        traces = metadata_traces(meta, presented_as_original=bool(sides))
        # Compared once per run and shared with capture_time and gps_place, which it concerns.
        thumbnail = item_thumbnail_trace(ctx, item)
        if thumbnail is not None:
            traces.append(thumbnail)
        if not traces:
            return [
                self._draft(
                    item,
                    Verdict.CONSISTENT,
                    _facts(meta) | {"presented_as": sides},
                    "no editing or provenance traces in its metadata (editor software, "
                    "thumbnail, dimensions, stripped tags, late re-save); absence of traces does "
                    "not prove the file is an original either.",
                )
            ]
        return [self._trace(item, trace, sides) for trace in traces]

    def _trace(self, item: ItemInfo, trace: Trace, sides: list[str]) -> FindingDraft:
        context = ""
        if sides:
            context = (
                f"Offered by the {' and the '.join(sides)} as a capture of the events; this "
                "trace does not contradict that on its own (inconclusive). "
            )
        values = {"trace": trace.kind.value, **dict(trace.values), "presented_as": sides}
        detail = context + trace.detail + _CONSEQUENCE.get(trace.kind, "")
        return self._draft(item, Verdict.INCONCLUSIVE, values, detail)

    def _draft(
        self, item: ItemInfo, verdict: Verdict, values: dict[str, Any], detail: str
    ) -> FindingDraft:
        return FindingDraft(self.name, verdict, (item.code,), values, f"{item.filename}: {detail}")


def _facts(meta: PhotoMetadata) -> dict[str, Any]:
    """What was looked at when nothing was found, so a reader can check it by hand."""
    return {
        "software": meta.software,
        "exif_tag_count": meta.exif_tag_count,
        "exif_size": str(meta.exif_size) if meta.exif_size else None,
        "decoded_size": str(meta.decoded_size) if meta.decoded_size else None,
        "thumbnail": meta.thumbnail is not None,
        "make": meta.make,
        "model": meta.model,
    }
