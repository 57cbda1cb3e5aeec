"""Is footage offered for the claim or the denial a copy of a picture stored earlier?

Each photo and video keyframe of a claim or denial item is searched, with the decision rule of
`verify.hashing.compare`, among the frames of every item in the workspace. An *earlier copy* is
a matching item that is dated before this one (collected_at, else ingested_at) and is either in
another case, or in this case with both collection times known (ingest order within one case
says nothing about which picture came first).

Verdicts, and why:
- mismatch: an earlier copy exists. The item is offered as footage of this incident, but the
  same picture was already held before it (from another case or collected earlier), so it is
  recycled, not original footage of this event. The finding names the earlier item, its case,
  its date and the matching frames with their distances.
- inconclusive, copy of unknown precedence: the same picture is stored in another case but not
  dated earlier; which one is the original cannot be told from the store.
- inconclusive, no copy: "no earlier copy found among N stored items". Never consistent: the
  store holds only what investigators collected, so absence from it does not show that the
  footage is original, and a "consistent" would be read as exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cases.checks.base import CheckContext, FindingDraft
from cases.search import (
    FrameIndex,
    FrameMatch,
    PixelLoader,
    stored_queries,
    workspace_anchors,
    workspace_pixels,
)
from cases.snapshot import OFFERED_ROLES, ItemInfo
from verify.verdict import Verdict

# Frames listed per earlier item in a finding's detail text (all are in its values).
_FRAMES_IN_DETAIL = 3


def item_date(item: ItemInfo) -> datetime:
    """When the item was first held: collected, else ingested."""
    return item.collected_at or item.ingested_at


def is_offered_footage(item: ItemInfo) -> bool:
    return item.is_footage and bool(OFFERED_ROLES.intersection(item.roles)) and bool(item.frames)


@dataclass(frozen=True)
class _Pair:
    """Frames of this item (query) matched to frames of one other item."""

    query_time: float | None
    match: FrameMatch


class RecycledFootageCheck:
    name = "recycled_footage"
    title = "Claim and denial footage against every earlier stored picture"

    def examines(self, item: ItemInfo) -> bool:
        return is_offered_footage(item)

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        offered = [i for i in ctx.case.items if self.examines(i)]
        if not offered:
            return []
        pixels = workspace_pixels(ctx.ws, ctx.originals)
        index = FrameIndex(ctx.workspace_items(), pixels, workspace_anchors(ctx.ws, pixels))
        task = ctx.progress.task("recycled footage", len(offered))
        drafts = []
        for item in offered:
            drafts.append(self._judge(ctx, item, index, pixels))
            task.advance()
        return drafts

    def _judge(
        self, ctx: CheckContext, item: ItemInfo, index: FrameIndex, pixels: PixelLoader
    ) -> FindingDraft:
        by_item: dict[str, list[_Pair]] = {}
        others: dict[str, ItemInfo] = {}
        for query in stored_queries(item, pixels):
            for found in index.find(query.hashes, query.pixels):
                other = found.frame.item
                if other.code == item.code:
                    continue
                by_item.setdefault(other.code, []).append(_Pair(query.time_s, found))
                others[other.code] = other
        earlier = [c for c in others if _is_earlier_copy(others[c], item)]
        elsewhere = [c for c in others if c not in earlier and others[c].case != item.case]
        stored = len(index.item_codes - {item.code})
        if earlier:
            earlier.sort(key=lambda c: (item_date(others[c]), c))
            first = others[earlier[0]]
            lines = [_describe(others[c], by_item[c], ctx) for c in earlier]
            detail = (
                f"{item.filename} is a copy of {len(earlier)} earlier stored item(s): "
                + "; ".join(lines)
                + ". Offered as footage of this incident, it is recycled from a picture held "
                "before it (mismatch)."
            )
            return self._draft(
                item, Verdict.MISMATCH, earlier, others, by_item, detail, stored, first
            )
        if elsewhere:
            lines = [_describe(others[c], by_item[c], ctx) for c in elsewhere]
            detail = (
                f"{item.filename} is the same picture as item(s) stored in other cases, none "
                f"dated before it: {'; '.join(lines)}. Which copy is the original cannot be "
                "told from the store (inconclusive)."
            )
            return self._draft(
                item, Verdict.INCONCLUSIVE, elsewhere, others, by_item, detail, stored, None
            )
        detail = (
            f"{item.filename}: no earlier copy found among {stored} other stored item(s) "
            f"({len(index)} pictures) in the workspace. Inconclusive, not consistent: the store "
            "holds only what investigators collected, so no copy here does not show the footage "
            "is original."
        )
        return self._draft(item, Verdict.INCONCLUSIVE, [], others, by_item, detail, stored, None)

    def _draft(
        self,
        item: ItemInfo,
        verdict: Verdict,
        codes: list[str],
        others: dict[str, ItemInfo],
        by_item: dict[str, list[_Pair]],
        detail: str,
        stored: int,
        first: ItemInfo | None,
    ) -> FindingDraft:
        return FindingDraft(
            self.name,
            verdict,
            (item.code, *codes),
            {
                "stored_items_searched": stored,
                "earliest_copy": first.code if first else None,
                "copies": [_copy_values(others[c], by_item[c], item) for c in codes],
            },
            detail,
        )


def _is_earlier_copy(other: ItemInfo, item: ItemInfo) -> bool:
    if other.case == item.case:
        return (
            other.collected_at is not None
            and item.collected_at is not None
            and other.collected_at < item.collected_at
        )
    return item_date(other) < item_date(item)


def _copy_values(other: ItemInfo, pairs: list[_Pair], item: ItemInfo) -> dict[str, object]:
    return {
        "item": other.code,
        "case": other.case,
        "filename": other.filename,
        "sha256": other.sha256,
        "exact_copy": other.sha256 == item.sha256,
        "date": item_date(other).isoformat(),
        "date_is": "collected" if other.collected_at else "ingested",
        "frames": [
            {
                "time": p.query_time,
                "other_time": p.match.frame.time_s,
                "distance": p.match.match.distances.as_dict(),
                "mirrored": p.match.match.mirrored,
                "confirmed_by": "pixels" if p.match.alignment else "hashes",
                "alignment": p.match.alignment.as_dict() if p.match.alignment else None,
            }
            for p in _best_first(pairs)
        ],
    }


def _best_first(pairs: list[_Pair]) -> list[_Pair]:
    return sorted(pairs, key=lambda p: (p.match.match.distances.pdq, p.match.match.distances.phash))


def _describe(other: ItemInfo, pairs: list[_Pair], ctx: CheckContext) -> str:
    date = item_date(other)
    how = "collected" if other.collected_at else "stored"
    before = " (before the incident)" if date.date() < ctx.case.incident_date else ""
    frames = ", ".join(_frame_text(p) for p in _best_first(pairs)[:_FRAMES_IN_DETAIL])
    more = len(pairs) - _FRAMES_IN_DETAIL
    return (
        f"{other.code} {other.filename} of case {other.case}, {how} {date:%Y-%m-%d}{before}: "
        f"{frames}{f' and {more} more' if more > 0 else ''}"
    )


def _frame_text(pair: _Pair) -> str:
    d = pair.match.match.distances
    where = []
    if pair.query_time is not None:
        where.append(f"this at {pair.query_time:.1f} s")
    if pair.match.frame.time_s is not None:
        where.append(f"it at {pair.match.frame.time_s:.1f} s")
    at = f" ({', '.join(where)})" if where else ""
    mirror = ", mirrored" if pair.match.match.mirrored else ""
    aligned = pair.match.alignment
    pixels = (
        f", confirmed by pixel alignment ({aligned.inliers} inliers, gradient correlation "
        f"{aligned.correlation:.2f})"
        if aligned
        else ""
    )
    return f"PDQ {d.pdq}, pHash {d.phash}, dHash {d.dhash}{mirror}{pixels}{at}"
