"""Which footage pairs to verify geometrically: all of them in a small case; else a retrieval
shortlist, then pairs that verified links say overlap.

The VLAD shortlist (`verify.retrieval.shortlist`) finds pairs whose whole pictures look alike; it
misses pairs that overlap in a small region (a corner of one frame is the centre of the other),
whose global descriptors are barely similar. Verified links find those: if frame A matched
features of frame B and frame C matched the same features of B, A and C both show those points
(transitive correspondences, as structure-from-motion builds feature tracks). After verifying the
shortlist, unverified pairs are verified round after round, those with the most transitive
correspondences first, then those whose linked-neighbour sets overlap by at least `min_shared`
(cosine: common / sqrt(degree x degree)), until no new link appears or the budget of pairs per
frame is spent. Pure logic: the caller verifies pairs (and caches, parallelises, reports
progress).
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

# Transitive correspondences from which an unverified pair is verified: features of third frames
# that both frames matched in verified links (A matched feature f of B, and so did C: A and C
# likely both show f's point). Unlike shared neighbours, this says the two frames see the SAME
# part of their neighbours. Candidates are verified most correspondences first, before pairs
# that only share neighbours. Measured with benchmarks/bench_footage_graph.py `scale` (issue 9
# section of RESULTS.md), 1,000 frames with 37,754 all-pairs links: at 21 pairs per frame it
# finds 20,642 links where shared neighbours found 17,721 with 20,716 pairs. 20 and 60 chose the
# same 30,000 pairs; without a budget, 40 stops at 53,806 pairs and 36,227 links, 20 at 55,984
# and 36,245 (50 rounds).
MIN_COMMON = 20

# Pairs verified per frame, shortlist included (None: no cap), never fewer than a small case's
# ALL_PAIRS_LIMIT: verifying stops there. Transitive correspondences keep finding links after
# the budget (the 1,000-frame case has 37,754 all-pairs links, 38 per frame), but every pair
# costs the same ~6 ms of CPU (link or not), so the budget trades links found against time: 25
# per frame finds 63.5% of them (+18% time over shared neighbours' 46.9%), 35 finds 81.4%, 56
# finds 96.0%; see RESULTS.md.
PAIRS_PER_NODE: float | None = 25.0

# A case with at most this many footage pairs has every pair verified: no shortlist can then
# lose a link (pairs overlapping in a small region look unalike to any global descriptor; see
# the scale figures above). 4,000 verifications are ~25 s of CPU at ~6 ms a pair, about 90
# frames; the shortlist and closure take over above that.
ALL_PAIRS_LIMIT = 4000

# Pairs are handed to the verifier in tiles of this many frames on each side, so one tile touches
# at most 2 x INDEX_TILE frames and their search indexes stay in `verify.geometry`'s cache.
INDEX_TILE = 120


@dataclass(frozen=True, eq=False)
class Verified:
    """A verified pair (i, j): its inlier count and which features of each frame the inliers
    are, as indices (0 <= index < 2**32) into that frame's features; only equality within one
    frame is used."""

    inliers: int
    features_i: np.ndarray
    features_j: np.ndarray


# A verifier takes index pairs (i < j) and returns each pair's inlier count (or a `Verified`,
# which also says which features the inliers are), or None when the pair must not be verified
# now (an incremental re-run does not reopen pairs of old nodes).
PairVerifier = Callable[[Sequence[tuple[int, int]]], Sequence["int | Verified | None"]]


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
    min_common: int | None = MIN_COMMON,
) -> LinkSearch:
    """Verify every pair when there are at most `all_pairs_limit`; otherwise the shortlist of
    `descriptors` (global descriptors, one row per node), then up to `rounds` rounds of
    unverified pairs with `min_common` or more transitive correspondences (None: not counted)
    or whose linked-neighbour sets overlap by `min_shared` or more (at least one common
    neighbour in any case), within `pairs_per_node` pairs per node (never below
    `all_pairs_limit`)."""
    if not 0.0 < min_shared <= 1.0 or rounds < 0 or batch_per_node <= 0:
        raise InvalidValueError(f"bad closure settings: {min_shared=} {rounds=} {batch_per_node=}")
    if pairs_per_node is not None and pairs_per_node < 0:
        raise InvalidValueError(f"bad verification budget: {pairs_per_node=}")
    if all_pairs_limit < 0:
        raise InvalidValueError(f"bad all-pairs limit: {all_pairs_limit=}")
    n = int(descriptors.shape[0])
    every = n * (n - 1) // 2
    # A large case never gets fewer verifications than a small one has all of.
    budget = None if pairs_per_node is None else max(int(pairs_per_node * n), all_pairs_limit)
    if every <= all_pairs_limit:
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
    batch_size = max(1, int(batch_per_node * n))
    for _ in range(rounds):
        room = batch_size if budget is None else min(batch_size, budget - len(inliers))
        if room <= 0:
            break
        rows, cols, features, shared = graph.candidates(min_shared, min_common)
        if len(rows) == 0:
            break
        # The most transitive correspondences first, then the most shared neighbours (stable:
        # ties in row-major order); the graph is re-read after each batch, so later candidates
        # are chosen knowing the links the batch found.
        best = np.lexsort((-shared, -features))[:room]
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
        # Each link's inlier features, one entry per feature and end: frame `by` matched the
        # feature `key` = frame << 32 | feature index. New links' entries wait in the lists;
        # `_all_*` hold the counted ones sorted by key (16 bytes an entry: ~13 million, ~200 MB,
        # for the 24,000 links of the 1,000-frame case, whose features take ~1 GB).
        self._seen_by: list[np.ndarray] = []
        self._seen_key: list[np.ndarray] = []
        self._all_by = np.zeros(0, np.int64)
        self._all_key = np.zeros(0, np.int64)
        self._common = sparse.csr_array((n, n), dtype=np.int32)

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
        for (i, j), result in zip(pairs, counts, strict=True):
            if result is None:
                continue
            count = result.inliers if isinstance(result, Verified) else int(result)
            into[(i, j)] = count
            if count >= min_inliers:
                self._link_rows.append(i)
                self._link_cols.append(j)
                new += 1
                if isinstance(result, Verified):
                    # Frame j sees frame i's inlier features and i sees j's.
                    fi = _feature_set(result.features_i, (i, j))
                    fj = _feature_set(result.features_j, (i, j))
                    self._seen_by.append(
                        np.concatenate(
                            [np.full(len(fi), j, np.int64), np.full(len(fj), i, np.int64)]
                        )
                    )
                    self._seen_key.append(np.concatenate([(i << 32) | fi, (j << 32) | fj]))
        return new

    def common_features(self) -> sparse.csr_array:
        """Upper triangle of the frames' transitive correspondences: entry (i, j) counts the
        features of third frames that both i and j matched in verified links. Updated with the
        links recorded since the last call only."""
        n = self.n
        if self._seen_by:
            key_new = np.concatenate(self._seen_key)
            order = np.argsort(key_new, kind="stable")
            key_new = key_new[order]
            by_new = np.concatenate(self._seen_by)[order]
            self._seen_by, self._seen_key = [], []
            points = np.unique(key_new)
            # Earlier observations of the same features: ranges of the sorted `_all_key`.
            lo = np.searchsorted(self._all_key, points, "left")
            count = np.searchsorted(self._all_key, points, "right") - lo
            start = np.repeat(lo - np.cumsum(count) + count, count)
            earlier = start + np.arange(int(count.sum()))
            point_old = np.repeat(np.arange(len(points)), count)
            point_new = np.searchsorted(points, key_new)
            shape = (n, len(points))
            before = sparse.csr_array(
                (np.ones(len(earlier), np.int32), (self._all_by[earlier], point_old)), shape=shape
            )
            now = sparse.csr_array(
                (np.ones(len(key_new), np.int32), (by_new, point_new)), shape=shape
            )
            cross = now @ before.T
            added = sparse.triu(cross + cross.T + now @ now.T, k=1, format="csr")
            self._common = (self._common + added).tocsr()
            at = np.searchsorted(self._all_key, key_new, "right")
            self._all_key = np.insert(self._all_key, at, key_new)
            self._all_by = np.insert(self._all_by, at, by_new)
        return self._common

    def candidates(
        self, min_shared: float, min_common: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every unverified pair (i, j), i < j, with at least one common linked neighbour and
        linked-neighbour overlap `min_shared` or more, or (with `min_common`) at least that many
        transitive correspondences; in row-major order, with its correspondences and overlap
        (0 where it has no common neighbour)."""
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
        key, shared = i[keep] * n + j[keep], shared[keep]
        features = np.zeros(len(key), np.int64)
        if min_common is not None:
            through = self.common_features()
            through.sum_duplicates()
            strong = through.data >= min_common
            t_key = (
                np.repeat(np.arange(n, dtype=np.int64), np.diff(through.indptr)) * n
                + through.indices.astype(np.int64)
            )[strong]
            union = np.union1d(key, t_key)
            merged_shared = np.zeros(len(union), np.float32)
            merged_shared[np.searchsorted(union, key)] = shared
            features = np.zeros(len(union), np.int64)
            features[np.searchsorted(union, t_key)] = through.data[strong]
            key, shared = union, merged_shared
        if self._tried:
            fresh = ~np.isin(key, np.concatenate(self._tried))
            key, shared, features = key[fresh], shared[fresh], features[fresh]
        return key // n, key % n, features, shared


def _feature_set(features: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    """The distinct feature indices of a link's inliers in one frame, checked."""
    given = np.asarray(features)
    if given.ndim != 1 or (len(given) and not np.issubdtype(given.dtype, np.integer)):
        raise InvalidValueError(f"inlier features of pair {pair} are not a list of indices")
    f = np.unique(given)
    if len(f) and (f[0] < 0 or f[-1] >= 1 << 32):
        raise InvalidValueError(f"inlier feature index out of range for pair {pair}")
    return f.astype(np.int64)
