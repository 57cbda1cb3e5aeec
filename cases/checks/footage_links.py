"""Footage against footage: which pictures of a case show the same place (issue 9).

Every footage picture (photo, video keyframe) is a node. Candidate pairs come from retrieval
(`verify.linking.search_links`: VLAD shortlist, then pairs that verified links say overlap) and are
verified with the site matcher's `match_pair`; a pair with fewer tentative matches than
LINK_MIN_INLIERS cannot be a link, so its geometric fit is skipped (cached as `not_fitted`,
inliers 0, its tentative count the upper bound). Every verified pair, link or not, is cached in
the derived store under both ends' (sha256, frame) and the feature settings, so a re-run reuses
them; pairs of two pictures the previous run already had are never reopened, so adding one item
verifies only pairs involving it. All of it is rebuildable: deleting the derived store loses
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import verify.pairpool as pairpool
from cases.checks.base import CheckContext, ProgressTask
from cases.checks.footage_frames import PAIR_KEY, FrameDescriptors, FrameFeatures
from cases.checks.match_codec import decode_match, encode_match, flipped
from cases.checks.picture_pairs import PicturePairs
from verify.features import KeypointLookup
from verify.footage_graph import LINK_MIN_INLIERS, FootageLink, NodePair
from verify.geometry import PairMatch, match_pair
from verify.linking import Verified, search_links
from verify.retrieval import train_vocabulary

LINK_NAMESPACE = "footage_links"
MANIFEST_NAMESPACE = "footage_graph"


def _manifest() -> str:
    return f"{PAIR_KEY}-pictures.json"


@dataclass(frozen=True)
class FootageLinks:
    """The verified links between footage pictures and what finding them cost.

    `matches` holds each link's inlier correspondences oriented as its NodePair (a -> b), for
    the match pictures of a chain. `verified` counts pairs matched in this run, `reused` those
    read from the cache, `skipped` pairs of two previously known pictures that were not cached
    (the previous run did not shortlist them; they are not reopened).
    """

    links: tuple[FootageLink, ...]
    matches: dict[NodePair, PairMatch]
    candidates: int
    verified: int
    reused: int
    skipped: int


def _location(a: FrameFeatures, b: FrameFeatures) -> tuple[str, str, bool]:
    """(key, name, swapped) of a pair's cache entry; entries are stored low key -> high key."""
    lo, hi, swapped = (a, b, False) if a.key < b.key else (b, a, True)
    return (
        lo.item.sha256,
        f"{PAIR_KEY}-{lo.index:08d}-{hi.item.sha256}-{hi.index:08d}.npz",
        swapped,
    )


def _verify(lo: FrameFeatures, hi: FrameFeatures) -> PairMatch:
    # match_pair(a, b) reuses b's search index: candidate pairs arrive grouped by their first
    # node, so index on it. Only ">= LINK_MIN_INLIERS or not" matters for a pair that is no
    # link, so pairs that cannot reach it skip the fit (exact, see `match_pair`).
    return flipped(match_pair(hi.features, lo.features, min_inliers=LINK_MIN_INLIERS))


def _previous_pictures(ctx: CheckContext) -> set[tuple[str, int]]:
    raw = ctx.ws.derived.read(MANIFEST_NAMESPACE, ctx.case.code, _manifest())
    if raw is None:
        return set()
    try:
        return {(str(sha), int(index)) for sha, index in json.loads(raw)}
    except (ValueError, TypeError):
        return set()


def link_footage(
    ctx: CheckContext,
    frames: Sequence[FrameFeatures],
    described: FrameDescriptors | None = None,
    verifier: PicturePairs | None = None,
) -> FootageLinks:
    """Verify the candidate pairs of the case's footage pictures and return the links.

    `described` holds the frames' global descriptors under the case's visual vocabulary if the
    caller already trained one on these frames (site matching does, for its reference
    shortlist); otherwise a vocabulary is trained here.
    Large batches of pairs are verified on worker processes: `verifier` is the run's shared
    `PicturePairs` (it must know every frame); without it one is made here.
    """
    nodes = [f for f in frames if len(f.features) > 0]
    if len(nodes) < 2:
        return FootageLinks((), {}, 0, 0, 0, 0)
    previous = _previous_pictures(ctx)
    stats = {"verified": 0, "reused": 0, "skipped": 0}
    matches: dict[tuple[int, int], PairMatch] = {}
    rounds = iter(range(1, 10**6))
    lookups: dict[int, KeypointLookup] = {}

    def result(oriented: PairMatch, i: int, j: int) -> int | Verified:
        # A link's inliers as feature indices: the search follows features from frame to frame.
        if oriented.inliers < LINK_MIN_INLIERS:
            return oriented.inliers
        matches[(i, j)] = oriented
        for k in (i, j):
            if k not in lookups:
                lookups[k] = KeypointLookup(nodes[k].features)
        at_i = lookups[i].indices(oriented.points_a)
        at_j = lookups[j].indices(oriented.points_b)
        known = (at_i >= 0) & (at_j >= 0)
        return Verified(oriented.inliers, at_i[known], at_j[known])

    with ExitStack() as stack:
        matcher = verifier if verifier is not None else stack.enter_context(PicturePairs(nodes))

        def verify(pairs: Sequence[tuple[int, int]]) -> list[int | Verified | None]:
            round_no = next(rounds)
            label = (
                "footage pairs"
                if round_no == 1
                else f"footage pairs (through verified links, round {round_no - 1})"
            )
            task = ctx.progress.task(label, len(pairs))
            out: list[int | Verified | None] = [None] * len(pairs)
            todo: list[tuple[int, tuple[int, int], bool]] = []
            for k, (i, j) in enumerate(pairs):
                known = _known_pair(ctx, nodes[i], nodes[j], previous, stats)
                if known is _TO_VERIFY:
                    todo.append((k, (i, j), _location(nodes[i], nodes[j])[2]))
                    continue
                if isinstance(known, PairMatch):
                    out[k] = result(known, i, j)
                task.advance()

            def keep(t: int, match: PairMatch) -> None:
                # Cached as each pair is verified, so an interrupted run keeps what it did.
                k, (i, j), swapped = todo[t]
                key, name, _ = _location(nodes[i], nodes[j])
                ctx.ws.derived.write(
                    LINK_NAMESPACE,
                    key,
                    name,
                    encode_match(match, keep_points=match.inliers >= LINK_MIN_INLIERS),
                )
                stats["verified"] += 1
                out[k] = result(flipped(match) if swapped else match, i, j)

            _verify_many(matcher, nodes, [(ij, swapped) for _, ij, swapped in todo], task, keep)
            return out

        if described is None:
            vocabulary = train_vocabulary([f.features.descriptors for f in nodes], seed=0)
            described = FrameDescriptors(vocabulary)
        search = search_links(described.of(nodes), verify)
    links, pair_matches = [], {}
    for i, j, inliers in search.links():
        a, b = nodes[i], nodes[j]
        links.append(FootageLink(a.node, b.node, inliers))
        pair = NodePair.of(a.node, b.node)
        match = matches[(i, j)]
        pair_matches[pair] = match if pair.a == a.node else flipped(match)
    keys = sorted(previous | {f.key for f in nodes})
    ctx.ws.derived.write(MANIFEST_NAMESPACE, ctx.case.code, _manifest(), json.dumps(keys).encode())
    return FootageLinks(
        tuple(links),
        pair_matches,
        search.shortlisted + search.expanded,
        stats["verified"],
        stats["reused"],
        stats["skipped"],
    )


# `_known_pair` result for a pair that must be verified now.
_TO_VERIFY = object()


def _known_pair(
    ctx: CheckContext,
    a: FrameFeatures,
    b: FrameFeatures,
    previous: set[tuple[str, int]],
    stats: dict[str, int],
) -> PairMatch | object | None:
    """The cached match a -> b; None when the pair is not to be verified; else _TO_VERIFY."""
    if a.key == b.key:
        return None  # the same picture twice (identical files): nothing to verify
    key, name, swapped = _location(a, b)
    cached = ctx.ws.derived.read(LINK_NAMESPACE, key, name)
    match = decode_match(cached) if cached is not None else None
    if match is not None:
        stats["reused"] += 1
        return flipped(match) if swapped else match
    if a.key in previous and b.key in previous:
        stats["skipped"] += 1
        return None
    return _TO_VERIFY


def _verify_many(
    matcher: PicturePairs,
    nodes: Sequence[FrameFeatures],
    pairs: Sequence[tuple[tuple[int, int], bool]],
    task: ProgressTask,
    keep: Callable[[int, PairMatch], None],
) -> None:
    """`keep(k, match)` with the cache-oriented (low key -> high key) match of each ((i, j),
    swapped) pair k, as each is verified.

    Small batches go through `_verify` one by one in this process; large ones through the
    worker processes, which run the same `match_pair(hi, lo, min_inliers=LINK_MIN_INLIERS)`.
    """
    if len(pairs) < pairpool.MIN_PAIRS_FOR_WORKERS:
        for k, ((i, j), swapped) in enumerate(pairs):
            lo, hi = (nodes[j], nodes[i]) if swapped else (nodes[i], nodes[j])
            keep(k, _verify(lo, hi))
            task.advance()
        return
    order = [
        ((nodes[i], nodes[j]) if swapped else (nodes[j], nodes[i])) for (i, j), swapped in pairs
    ]
    matcher.match(
        order,
        min_inliers=LINK_MIN_INLIERS,
        done=task.advance,
        each=lambda k, m: keep(k, flipped(m)),
    )
