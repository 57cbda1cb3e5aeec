"""Which footage pairs to verify geometrically: retrieval shortlist, then transitive neighbours.

The VLAD shortlist (`verify.retrieval.shortlist`) finds pairs whose whole pictures look alike; it
misses pairs that overlap in a small region (a corner of one frame is the centre of the other),
whose global descriptors are barely similar. Those pairs usually share a verified neighbour: if
frame A links to B and B links to C, A and C likely show overlapping parts of one place. After
verifying the shortlist, each node's two-hop neighbours through verified links are ranked by VLAD
similarity and the most similar are verified too, round after round until no new link appears.
Pure logic: the caller verifies pairs (and caches, parallelises, reports progress).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from verify.errors import InvalidValueError
from verify.footage_graph import LINK_MIN_INLIERS
from verify.retrieval import SHORTLIST_MIN_SIMILARITY, SHORTLIST_TOP_K, shortlist

# Two-hop candidates verified per node and round, the most VLAD-similar first, and the number of
# expansion rounds. benchmarks/bench_footage_graph.py (issue 9 section of RESULTS.md): on the dev
# walk-through the shortlist plus 45 two-hop pairs finds all 92 all-pairs links (shortlist alone
# 88); in the dense 1,000-frame case 13,657 two-hop pairs raise link recall from 20% to 51%
# (target 98% not met) at 3.3x the frame pairs verified.
EXPANSION_PER_NODE = 8
EXPANSION_ROUNDS = 3

# A verifier takes index pairs (i < j) and returns each pair's inlier count, or None when the
# pair must not be verified now (an incremental re-run does not reopen pairs of old nodes).
PairVerifier = Callable[[Sequence[tuple[int, int]]], Sequence[int | None]]


@dataclass(frozen=True)
class LinkSearch:
    """Every pair verified (i < j) and its inlier count, and how the candidates arose."""

    inliers: dict[tuple[int, int], int]
    shortlisted: int
    expanded: int
    rounds: int

    def links(self, min_inliers: int = LINK_MIN_INLIERS) -> list[tuple[int, int, int]]:
        """(i, j, inliers) of the verified pairs at or above the link threshold, sorted."""
        return sorted((i, j, n) for (i, j), n in self.inliers.items() if n >= min_inliers)


def search_links(
    descriptors: np.ndarray,
    verify: PairVerifier,
    *,
    top_k: int = SHORTLIST_TOP_K,
    min_similarity: float = SHORTLIST_MIN_SIMILARITY,
    per_node: int = EXPANSION_PER_NODE,
    rounds: int = EXPANSION_ROUNDS,
    min_inliers: int = LINK_MIN_INLIERS,
) -> LinkSearch:
    """Verify the shortlist of `descriptors` (global descriptors, one row per node), then up to
    `rounds` rounds of each node's `per_node` most similar unverified two-hop neighbours."""
    if per_node < 0 or rounds < 0:
        raise InvalidValueError(f"bad expansion settings: {per_node=} {rounds=}")
    n = int(descriptors.shape[0])
    first = [
        (c.query, c.target)
        for c in shortlist(
            descriptors, descriptors, top_k, exclude_self=True, min_similarity=min_similarity
        )
    ]
    tried: set[tuple[int, int]] = set(first)
    inliers: dict[tuple[int, int], int] = {}
    _run(verify, first, inliers)
    sims = np.asarray(descriptors, np.float32) @ np.asarray(descriptors, np.float32).T
    expanded = done_rounds = 0
    for _ in range(rounds):
        neighbours: list[set[int]] = [set() for _ in range(n)]
        for (i, j), count in inliers.items():
            if count >= min_inliers:
                neighbours[i].add(j)
                neighbours[j].add(i)
        batch: set[tuple[int, int]] = set()
        for i in range(n):
            two_hop = {c for b in neighbours[i] for c in neighbours[b]} - neighbours[i] - {i}
            fresh = [c for c in two_hop if _pair(i, c) not in tried]
            fresh.sort(key=lambda c: (-sims[i, c], c))
            batch.update(_pair(i, c) for c in fresh[:per_node])
        if not batch:
            break
        ordered = sorted(batch)
        tried.update(ordered)
        expanded += len(ordered)
        done_rounds += 1
        before = sum(count >= min_inliers for count in inliers.values())
        _run(verify, ordered, inliers)
        if sum(count >= min_inliers for count in inliers.values()) == before:
            break
    return LinkSearch(inliers, len(first), expanded, done_rounds)


def _pair(i: int, j: int) -> tuple[int, int]:
    return (i, j) if i < j else (j, i)


def _run(
    verify: PairVerifier, pairs: Sequence[tuple[int, int]], into: dict[tuple[int, int], int]
) -> None:
    counts = verify(pairs)
    if len(counts) != len(pairs):
        raise InvalidValueError(f"verifier returned {len(counts)} counts for {len(pairs)} pairs")
    for pair, count in zip(pairs, counts, strict=True):
        if count is not None:
            into[pair] = int(count)
