"""Which footage pairs to verify geometrically: all of them in a small case; else a retrieval
shortlist, then closing triangles.

The VLAD shortlist (`verify.retrieval.shortlist`) finds pairs whose whole pictures look alike; it
misses pairs that overlap in a small region (a corner of one frame is the centre of the other),
whose global descriptors are barely similar. Those pairs usually share verified neighbours: if
frame A links to B and B links to C, A and C likely show overlapping parts of one place, and the
larger the share of their linked neighbours they have in common, the likelier. After verifying
the shortlist, every unverified pair whose linked-neighbour sets overlap by at least `min_shared`
(cosine: common / sqrt(degree x degree)) is verified, round after round until no new link
appears. Pure logic: the caller verifies pairs (and caches, parallelises, reports progress).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from verify.errors import InvalidValueError
from verify.footage_graph import LINK_MIN_INLIERS
from verify.retrieval import SHORTLIST_MIN_SIMILARITY, SHORTLIST_TOP_K, shortlist

# Overlap of two frames' linked-neighbour sets (common / sqrt(deg x deg)) from which the pair is
# verified, candidates verified per round (per frame of the case, the most shared first, so later
# rounds choose knowing what earlier ones found), and the most rounds. Measured with
# benchmarks/bench_footage_graph.py `scale` (issue 9 section of RESULTS.md), 1,000 frames, share
# of the all-pairs links of a 120-frame subset found / frame pairs verified: shortlist alone
# 19.6% / 5,986; overlap 0.5: 24.9% / 8,687; 0.35: 53% / 18,752 (unbatched); 0.25: 56.6% /
# 20,546 at 86% links among pairs verified, converging by itself; 0.2: 64.7% / 25,675; 0.15:
# 67.6% / 28,856. Every pair cost ~25-30 ms of CPU then (~7 ms since RootSIFT is matched within
# visual words), link or not, so the share of links found is bought almost linearly with time.
# On the dev walk-through it finds all 92 all-pairs links with 189 of 378 pairs verified.
MIN_SHARED = 0.25
BATCH_PER_NODE = 1.0
CLOSURE_ROUNDS = 50

# Optional cap on the pairs verified, per frame, shortlist included (None: no cap): a caller can
# bound the time of a huge case; the closure then stops at the cap.
PAIRS_PER_NODE: float | None = None

# A case with at most this many footage pairs has every pair verified: no shortlist can then
# lose a link (pairs overlapping in a small region look unalike to any global descriptor; see
# the scale figures above). 4,000 verifications are ~25 s of CPU at ~6 ms a pair, about 90
# frames; the shortlist and closure take over above that.
ALL_PAIRS_LIMIT = 4000

# Pairs are handed to the verifier in tiles of this many frames on each side, so one tile touches
# at most 2 x INDEX_TILE frames and their search indexes stay in `verify.geometry`'s cache.
INDEX_TILE = 120

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
    min_shared: float = MIN_SHARED,
    rounds: int = CLOSURE_ROUNDS,
    batch_per_node: float = BATCH_PER_NODE,
    pairs_per_node: float | None = PAIRS_PER_NODE,
    min_inliers: int = LINK_MIN_INLIERS,
    all_pairs_limit: int = ALL_PAIRS_LIMIT,
) -> LinkSearch:
    """Verify every pair when there are at most `all_pairs_limit` (and the budget allows);
    otherwise the shortlist of `descriptors` (global descriptors, one row per node), then up to
    `rounds` rounds of every unverified pair whose linked-neighbour sets overlap by
    `min_shared` or more (at least one common neighbour in any case)."""
    if not 0.0 < min_shared <= 1.0 or rounds < 0 or batch_per_node <= 0:
        raise InvalidValueError(f"bad closure settings: {min_shared=} {rounds=} {batch_per_node=}")
    if pairs_per_node is not None and pairs_per_node < 0:
        raise InvalidValueError(f"bad verification budget: {pairs_per_node=}")
    if all_pairs_limit < 0:
        raise InvalidValueError(f"bad all-pairs limit: {all_pairs_limit=}")
    n = int(descriptors.shape[0])
    every = n * (n - 1) // 2
    if every <= all_pairs_limit and (pairs_per_node is None or every <= pairs_per_node * n):
        pairs = reuse_order([(i, j) for i in range(n) for j in range(i + 1, n)])
        found: dict[tuple[int, int], int] = {}
        _Graph(n).record(verify, pairs, found, min_inliers)
        return LinkSearch(found, len(pairs), 0, 0)
    first = reuse_order(
        [
            (c.query, c.target)
            for c in shortlist(
                descriptors, descriptors, top_k, exclude_self=True, min_similarity=min_similarity
            )
        ]
    )
    inliers: dict[tuple[int, int], int] = {}
    graph = _Graph(n)
    graph.record(verify, first, inliers, min_inliers)
    expanded = done_rounds = 0
    budget = None if pairs_per_node is None else int(pairs_per_node * n)
    batch_size = max(1, int(batch_per_node * n))
    for _ in range(rounds):
        room = batch_size if budget is None else min(batch_size, budget - len(inliers))
        if room <= 0:
            break
        rows, cols, shared = graph.candidates(min_shared)
        if len(rows) == 0:
            break
        # The most shared first (stable: ties in row-major order); the graph is re-read after
        # each batch, so later candidates are chosen knowing the links the batch found.
        best = np.argsort(-shared, kind="stable")[:room]
        batch = reuse_order(list(zip(rows[best].tolist(), cols[best].tolist(), strict=True)))
        expanded += len(batch)
        done_rounds += 1
        if not graph.record(verify, batch, inliers, min_inliers):
            break
    return LinkSearch(inliers, len(first), expanded, done_rounds)


def reuse_order(pairs: Sequence[tuple[int, int]], tile: int = INDEX_TILE) -> list[tuple[int, int]]:
    """The pairs sorted tile by tile (`tile` frames a side), so that consecutive pairs reuse
    the same frames' search indexes."""
    if tile < 1:
        raise InvalidValueError(f"tile must be >= 1, got {tile}")
    return sorted(pairs, key=lambda p: (p[0] // tile, p[1] // tile, p[0], p[1]))


class _Graph:
    """The pairs verified so far and the links among them, kept as lists of pairs: memory grows
    with the pairs, not with n x n (a 20,000-frame case would need gigabytes of dense matrices
    and ~10 s of matrix product per round)."""

    def __init__(self, n: int) -> None:
        self.n = n
        # Pair (i, j), i < j, as the key i x n + j; one array per batch verified.
        self._tried: list[np.ndarray] = []
        self._link_rows: list[int] = []
        self._link_cols: list[int] = []

    def record(
        self,
        verify: PairVerifier,
        pairs: Sequence[tuple[int, int]],
        into: dict[tuple[int, int], int],
        min_inliers: int,
    ) -> int:
        """Verify `pairs`, record them; the number of new links."""
        if not pairs:
            return 0
        counts = verify(pairs)
        if len(counts) != len(pairs):
            raise InvalidValueError(
                f"verifier returned {len(counts)} counts for {len(pairs)} pairs"
            )
        self._tried.append(np.array([i * self.n + j for i, j in pairs], np.int64))
        new = 0
        for (i, j), count in zip(pairs, counts, strict=True):
            if count is None:
                continue
            into[(i, j)] = int(count)
            if count >= min_inliers:
                self._link_rows.append(i)
                self._link_cols.append(j)
                new += 1
        return new

    def candidates(self, min_shared: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every unverified pair (i, j), i < j, with at least one common linked neighbour and
        linked-neighbour overlap `min_shared` or more, in row-major order, and its overlap."""
        n = self.n
        rows = np.array(self._link_rows + self._link_cols, np.int64)
        cols = np.array(self._link_cols + self._link_rows, np.int64)
        linked = sparse.csr_array(
            (np.ones(len(rows), np.int32), (rows, cols)), shape=(n, n), dtype=np.int32
        )
        # Common linked neighbours of every pair that has one, (L @ L)[i, j], over the geometric
        # mean of the two degrees: 1 when both frames link to exactly the same others. Float32
        # as the dense matrices were, so the overlaps and their ties are the same to the bit.
        degree = np.diff(linked.indptr).astype(np.float32)
        common = sparse.triu(linked @ linked, k=1, format="csr")
        common.sum_duplicates()
        common.sort_indices()
        i = np.repeat(np.arange(n, dtype=np.int64), np.diff(common.indptr))
        j = common.indices.astype(np.int64)
        count = common.data.astype(np.float32)
        shared = count / np.sqrt(np.maximum(degree[i] * degree[j], 1.0))
        keep = (count >= 1) & (shared >= min_shared)
        if self._tried:
            keep &= ~np.isin(i * n + j, np.concatenate(self._tried))
        return i[keep], j[keep], shared[keep]
