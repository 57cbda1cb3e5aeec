"""Is footage offered for the claim or the denial a copy of a picture that predates the incident?

Each photo and video keyframe of a claim or denial item is searched, with the decision rule of
`verify.hashing.compare`, among the frames of every item in the workspace. A copy found this
way is dated by `cases.checks.copy_dating`: its collection date, the store's ingest date and
the capture time in its metadata, each set against the start of this case's incident with the
time-zone model of `verify.timecheck`.

Verdicts, and why:
- mismatch: a copy provably existed before the incident began (one of its dates is before the
  incident's start in every time zone). The item is offered as footage of this incident, but
  the picture predates it, so it is recycled. The finding names that copy, its case, the date
  that proves it and the matching frames with their distances.
- inconclusive, copies that prove nothing: the same picture is stored again (in this case or
  another) but no copy is dated before the incident began. Copies collected or stored after
  the incident show only that the picture circulates (a second channel reposting it, another
  case ingesting it first); that is not evidence it predates the incident, and a "recycled"
  verdict would be read as a sign of fabrication. Each copy is named with its dates.
- inconclusive, no copy: "no other copy of it found among N stored items". Never consistent:
  the store holds only what investigators collected, so absence from it does not show that
  the footage is original, and a "consistent" would be read as exactly that.
- inconclusive, not searchable: the item has no decodable picture or keyframe to search with;
  the reason recorded at ingest is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cases.checks.base import CheckContext, FindingDraft
from cases.checks.copy_dating import CopyDating, date_copy, incident_start
from cases.checks.same_pictures import (
    same_pictures,
    search_items,
    searched_item_codes,
    searched_picture_count,
)
from cases.checks.stored_metadata import stored_metadata
from cases.search import FrameMatch
from cases.snapshot import OFFERED_ROLES, ItemInfo
from verify.timecheck import UtcWindow
from verify.verdict import Verdict

# Frames listed per copy in a finding's detail text (all are in its values).
_FRAMES_IN_DETAIL = 3


def item_date(item: ItemInfo) -> datetime:
    """When the item was first held: collected, else ingested."""
    return item.collected_at or item.ingested_at


def is_offered_footage(item: ItemInfo) -> bool:
    """Footage offered by the claim or the denial, searchable or not."""
    return item.is_footage and bool(OFFERED_ROLES.intersection(item.roles))


@dataclass(frozen=True)
class _Pair:
    """Frames of this item (query) matched to frames of one other item."""

    query_time: float | None
    match: FrameMatch


@dataclass(frozen=True)
class _Copy:
    """Another stored item that is the same picture, its matching frames and its dates."""

    item: ItemInfo
    pairs: list[_Pair]
    dating: CopyDating


class RecycledFootageCheck:
    name = "recycled_footage"
    title = "Claim and denial footage against every stored picture dated before the incident"

    def examines(self, item: ItemInfo) -> bool:
        return is_offered_footage(item)

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        offered = [i for i in ctx.case.items if self.examines(i)]
        drafts = [self._not_searchable(i) for i in offered if not i.frames]
        searchable = [i for i in offered if i.frames]
        if not searchable:
            return drafts
        # All of them at once: the search's alignments run on several processes.
        task = ctx.progress.task("recycled footage", len(searchable))
        search_items(ctx, searchable, task.advance)
        for item in searchable:
            drafts.append(self._judge(ctx, item))
        return drafts

    def _judge(self, ctx: CheckContext, item: ItemInfo) -> FindingDraft:
        by_item: dict[str, list[_Pair]] = {}
        others: dict[str, ItemInfo] = {}
        for found in same_pictures(ctx, item):
            other = found.match.frame.item
            if other.code == item.code:
                continue
            by_item.setdefault(other.code, []).append(_Pair(found.query_time, found.match))
            others[other.code] = other
        incident = ctx.case.incident_date
        copies = [_Copy(others[c], by_item[c], date_copy(others[c], incident)) for c in others]
        proven = [c for c in copies if c.dating.proof is not None]
        proven.sort(key=lambda c: (_proof_time(c), c.item.code))
        rest = [c for c in copies if c.dating.proof is None]
        rest.sort(key=lambda c: (item_date(c.item), c.item.code))
        start = incident_start(incident)
        compared = f" Dates are compared with the start of the {start.describe}."
        stored = len(searched_item_codes(ctx) - {item.code})
        if proven:
            lines = [_describe_proof(c) for c in proven]
            detail = (
                f"{item.filename} is the same picture as {len(proven)} stored item(s) that "
                "existed before the incident began: "
                + "; ".join(lines)
                + ". Offered as footage of this incident, it is recycled from a picture that "
                "predates it (mismatch)."
            )
            if rest:
                detail += (
                    f" It also reached us through {len(rest)} item(s) not dated before the "
                    "incident, which prove nothing either way: "
                    + "; ".join(_describe(c) for c in rest)
                    + "."
                )
            detail += compared
            return self._draft(item, Verdict.MISMATCH, proven + rest, start, detail, stored)
        if rest:
            detail = (
                f"{item.filename}: the same picture also reached us through {len(rest)} other "
                "stored item(s), none dated before the incident began: "
                + "; ".join(_describe(c) for c in rest)
                + ". The picture circulates; a copy collected, stored or captured after the "
                "incident began is not evidence that it predates the incident (inconclusive)."
                + compared
            )
            return self._draft(item, Verdict.INCONCLUSIVE, rest, start, detail, stored)
        detail = (
            f"{item.filename}: no other copy of it found among {stored} other stored item(s) "
            f"({searched_picture_count(ctx)} pictures) in the workspace. Inconclusive, not "
            "consistent: the store holds only what investigators collected, so no copy here "
            "does not show the footage is original."
        )
        return self._draft(item, Verdict.INCONCLUSIVE, [], start, detail, stored)

    def _draft(
        self,
        item: ItemInfo,
        verdict: Verdict,
        copies: list[_Copy],
        start: UtcWindow,
        detail: str,
        stored: int,
    ) -> FindingDraft:
        first = copies[0] if copies and copies[0].dating.proof is not None else None
        return FindingDraft(
            self.name,
            verdict,
            (item.code, *(c.item.code for c in copies)),
            {
                "stored_items_searched": stored,
                "searched": True,
                "incident_start": start.to_dict(),
                "earliest_copy": first.item.code if first else None,
                "copies": [_copy_values(c, item) for c in copies],
            },
            detail,
        )

    def _not_searchable(self, item: ItemInfo) -> FindingDraft:
        _, problems = stored_metadata(item)
        why = problems or "no picture or keyframe was stored for it"
        return FindingDraft(
            self.name,
            Verdict.INCONCLUSIVE,
            (item.code,),
            {
                "stored_items_searched": 0,
                "searched": False,
                "earliest_copy": None,
                "copies": [],
                "problems": why,
            },
            f"{item.filename}: not searched for copies, since it has no decodable picture or "
            f"keyframe ({why}); whether it predates the incident cannot be told from copies "
            "(inconclusive).",
        )


def _proof_time(copy: _Copy) -> datetime:
    proof = copy.dating.proof
    assert proof is not None
    return proof.window.latest


def _copy_values(copy: _Copy, item: ItemInfo) -> dict[str, object]:
    other, proof = copy.item, copy.dating.proof
    return {
        "item": other.code,
        "case": other.case,
        "filename": other.filename,
        "sha256": other.sha256,
        "exact_copy": other.sha256 == item.sha256,
        "date": item_date(other).isoformat(),
        "date_is": "collected" if other.collected_at else "ingested",
        "predates_incident": proof is not None,
        "predates_incident_by": proof.by.value if proof else None,
        "dates": [d.to_dict() for d in copy.dating.dates],
        "frames": [
            {
                "time": p.query_time,
                "other_time": p.match.frame.time_s,
                "distance": p.match.match.distances.as_dict(),
                "mirrored": p.match.match.mirrored,
                "confirmed_by": "pixels" if p.match.alignment else "hashes",
                "alignment": p.match.alignment.as_dict() if p.match.alignment else None,
            }
            for p in _best_first(copy.pairs)
        ],
    }


def _best_first(pairs: list[_Pair]) -> list[_Pair]:
    return sorted(pairs, key=lambda p: (p.match.match.distances.pdq, p.match.match.distances.phash))


def _describe_proof(copy: _Copy) -> str:
    proof = copy.dating.proof
    assert proof is not None
    return f"{_name(copy.item)}, {proof.describe()}: {_frames(copy.pairs)}"


def _describe(copy: _Copy) -> str:
    return f"{_name(copy.item)} ({copy.dating.describe()}): {_frames(copy.pairs)}"


def _name(other: ItemInfo) -> str:
    return f"{other.code} {other.filename} of case {other.case}"


def _frames(pairs: list[_Pair]) -> str:
    frames = ", ".join(_frame_text(p) for p in _best_first(pairs)[:_FRAMES_IN_DETAIL])
    more = len(pairs) - _FRAMES_IN_DETAIL
    return f"{frames}{f' and {more} more' if more > 0 else ''}"


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
