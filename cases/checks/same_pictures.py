"""Which stored frames show the same picture as each frame of a case's items, searched once per
verify run and shared by the checks that ask it.

`duplicates` (items of this case that are one picture) and `recycled_footage` (claim and denial
footage against every stored picture) ask the same question of the same frames; in a case of
1,000 overlapping walk-through frames each search aligns ~80 stored pictures by their pixels
(~15 ms each), so asking it twice doubled the longest part of a verify run after site matching.
The search runs over one index of the whole workspace, and pixel alignments and anchor votes
between stored pictures are kept in the derived store (`cases.search.AlignmentStore`,
`cases.anchor_votes.VoteStore`), so a re-run after adding one item aligns only the pairs that
involve it and counts votes against its pictures only. Each check searches all its items at
once (`search_items`), so that the alignments can run on worker processes
(`cases.search_pool`), with the results and cache of searching item by item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cases.anchor_votes import VoteStore
from cases.checks.base import CheckContext
from cases.search import (
    AlignmentStore,
    FrameIndex,
    FrameMatch,
    PixelLoader,
    QueryPicture,
    stored_queries,
    workspace_anchors,
    workspace_pixels,
)
from cases.search_pool import PictureSource, SearchReport, search_stored
from cases.snapshot import ItemInfo

# Key of an item's search in the run's shared analyses.
_SAME_PICTURES = "same_pictures"


@dataclass(frozen=True)
class FrameFound:
    """A stored frame showing the same picture as the frame of the item at `query_time`
    (None for a photo)."""

    query_time: float | None
    match: FrameMatch


@dataclass(frozen=True)
class _Search:
    index: FrameIndex
    pixels: PixelLoader


def _search(ctx: CheckContext) -> _Search:
    def build() -> _Search:
        pixels = workspace_pixels(ctx.ws, ctx.originals)
        index = FrameIndex(
            ctx.workspace_items(),
            pixels,
            workspace_anchors(ctx.ws, pixels),
            AlignmentStore(ctx.ws, ctx.originals),
            VoteStore(ctx.ws),
        )
        return _Search(index, pixels)

    return ctx.shared.once("same_picture_index", build)


def same_pictures(ctx: CheckContext, item: ItemInfo) -> list[FrameFound]:
    """Every stored frame (of any case, the item's own included) judged the same picture as one
    of `item`'s frames, by the two-stage rule of `cases.search.FrameIndex`."""

    def compute(it: ItemInfo) -> list[FrameFound]:
        search = _search(ctx)
        return [
            FrameFound(query.time_s, found)
            for query in stored_queries(it, search.pixels)
            for found in search.index.find(query.hashes, query.pixels, query_frame=query.frame)
        ]

    return ctx.shared.get(_SAME_PICTURES, item, compute)


def search_items(
    ctx: CheckContext, items: Sequence[ItemInfo], on_item: Callable[[], None] | None = None
) -> SearchReport:
    """`same_pictures` of each of `items` not searched yet in this run, searched in the order
    given (with the pixel alignments on worker processes when there are many: the same results
    and cache as asking item by item, `cases.search_pool`). `on_item()` is called once per
    item of `items` as its search is done (at once for an item searched earlier)."""
    todo = [it for it in items if not ctx.shared.has(_SAME_PICTURES, it)]
    for _ in range(len(items) - len(todo)):
        if on_item is not None:
            on_item()
    if not todo:
        return SearchReport()
    search = _search(ctx)
    queries: list[QueryPicture] = []
    owners: list[int] = []  # per query, its item's position in `todo`
    for k, it in enumerate(todo):
        mine = stored_queries(it, search.pixels)
        queries += mine
        owners += [k] * len(mine)
    found: list[list[FrameFound]] = [[] for _ in todo]
    left = [owners.count(k) for k in range(len(todo))]  # queries not done, per item
    finished = 0

    def finish_done_items() -> None:
        nonlocal finished
        while finished < len(todo) and left[finished] == 0:
            _keep(ctx, todo[finished], found[finished])
            finished += 1
            if on_item is not None:
                on_item()

    def on_query(k: int, matches: list[FrameMatch]) -> None:
        found[owners[k]] += [FrameFound(queries[k].time_s, m) for m in matches]
        left[owners[k]] -= 1
        finish_done_items()

    finish_done_items()  # items without pictures before the first query
    source = PictureSource(
        ctx.ws.blobs, ctx.ws.derived, ctx.originals is not None, not ctx.ws.read_only
    )
    report = search_stored(search.index, queries, source, on_query, originals=ctx.originals)
    finish_done_items()
    return report


def _keep(ctx: CheckContext, item: ItemInfo, found: list[FrameFound]) -> None:
    ctx.shared.get(_SAME_PICTURES, item, lambda _: found)


def searched_item_codes(ctx: CheckContext) -> set[str]:
    """Codes of the stored items the search covers."""
    return _search(ctx).index.item_codes


def searched_picture_count(ctx: CheckContext) -> int:
    """How many stored pictures (photos and keyframes) the search covers."""
    return len(_search(ctx).index)
