"""Image retrieval to shortlist footage pairs worth verifying geometrically.

Verifying every pair of a case's footage grows as n² (1,000 keyframes: half a million
verifications). A global descriptor per image, VLAD over the local RootSIFT descriptors already
computed for site matching, ranks the other images by likely overlap; only the shortlist is
verified. The visual vocabulary is trained per case on the case's own descriptors: nothing is
downloaded, and the words fit the places the case shows.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from verify.errors import InvalidValueError

# Visual words. VLAD keeps each word's residual, so few words suffice (Jégou et al. use 16-256);
# 64 x 128 = 8,192 dimensions. Trained per case on the case's own descriptors: nothing ships or
# downloads. benchmarks/bench_footage_graph.py (issue 9 section of benchmarks/RESULTS.md): at the
# same pairs per frame, 32 and 64 words retrieve the same share of links (20-23% at ~12 per frame
# in the dense 1,000-frame case); 64 keeps the shortlist tighter once the similarity floor applies.
DEFAULT_WORDS = 64

# Descriptors sampled for k-means: enough for stable 64 centroids (~800 per word), and training
# stays a few seconds whatever the case size.
TRAINING_SAMPLE = 50_000
KMEANS_ITERATIONS = 20

# Candidates kept per image: its SHORTLIST_TOP_K most similar others, plus any other whose VLAD
# cosine similarity is at least SHORTLIST_MIN_SIMILARITY (near-duplicate frames of one video can
# outnumber any fixed k). Union over both ends gives ~12 verifications per frame. What it buys
# (benchmarks/bench_footage_graph.py): on the dev walk-through (28 photos) 88 of the 92 all-pairs
# links and identical site decisions to all pairs; in the 1,000-frame case, where a frame has ~62
# true links, only 20% of links are verified but the verified links join the two frames of 98.0%
# of all-pairs links into one group, which is what carrying a verdict needs; 236 s wall on 2 cores.
SHORTLIST_TOP_K = 10
SHORTLIST_MIN_SIMILARITY = 0.5

# Reference images verified per footage frame in large cases (queries = footage, database =
# references, no floor): 1,000 frames x 20 references is 20,000 verifications, too slow. In the
# 1,000-frame case (benchmarks/bench_footage_graph.py `scale`, 2026-11-29) the first k of each
# frame's VLAD top 5 decide 716 of 756 site frames correctly and 0 wrongly for every k from 1 to
# 5 (direct: 670, 684, 691, 695, 695; the rest via links). 3 would save 2,000 verifications (~66
# s of CPU) but it misses a 5-minute target anyway; 5 decides more frames on their own evidence
# (695 vs 691 direct) and measures more runner-up sites, which is what keeps a frame that matches
# two sites ambiguous rather than wrongly decided. Sites a frame was not compared with are named
# in its finding (`not_compared`). Small cases compare every reference.
REFERENCE_TOP_K = 5

# Queries whose similarities are computed at once: 512 x 20,000 frames is 40 MB of float32, a
# few such arrays at a time (the whole 20,000 x 20,000 matrix was 1.6 GB, and its argsort 3.2
# GB). benchmarks/bench_link_search_scale.py, 10,000 frames of 8,192 dimensions: 1,024 rows
# peak 233 MB above the descriptors, 512 rows 88 MB, in the same time (17.6 s, 18.0 s; the
# matrix product is as efficient at 512 rows).
SHORTLIST_BLOCK = 512

_FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Visual words: k-means centroids of local descriptors, float32 (K, D)."""

    centroids: np.ndarray

    @property
    def words(self) -> int:
        """Number of visual words K."""
        return int(self.centroids.shape[0])

    @property
    def dimension(self) -> int:
        """Length of a global descriptor built on this vocabulary (K x D)."""
        return int(self.centroids.shape[0] * self.centroids.shape[1])

    def to_bytes(self) -> bytes:
        """Serialise with `np.savez` (no pickle), for the derived-artefact cache."""
        buf = io.BytesIO()
        np.savez(buf, version=np.array(_FORMAT_VERSION, np.int32), centroids=self.centroids)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Vocabulary:
        """Load bytes written by `to_bytes`; anything else raises `InvalidValueError`."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                version = int(npz["version"])
                centroids = npz["centroids"]
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise InvalidValueError(f"not a serialised Vocabulary blob: {exc}") from exc
        if version != _FORMAT_VERSION:
            raise InvalidValueError(f"Vocabulary blob has unknown version {version}")
        if centroids.ndim != 2 or centroids.shape[0] < 1 or centroids.dtype != np.float32:
            raise InvalidValueError(f"bad vocabulary centroids {centroids.dtype} {centroids.shape}")
        return cls(centroids)


@dataclass(frozen=True)
class CandidatePair:
    """A shortlisted pair: index into the queries, index into the database, cosine similarity."""

    query: int
    target: int
    similarity: float


def train_vocabulary(
    descriptor_sets: Sequence[np.ndarray],
    words: int = DEFAULT_WORDS,
    *,
    seed: int = 0,
    sample: int = TRAINING_SAMPLE,
) -> Vocabulary:
    """k-means visual words over a deterministic sample of the given float descriptors.

    Each image contributes an equal share of the sample so one feature-rich image cannot own the
    vocabulary. The same inputs and seed always give the same vocabulary.
    """
    sets = [_as_float(d) for d in descriptor_sets if len(d)]
    if not sets:
        raise InvalidValueError("cannot train a vocabulary without descriptors")
    dims = {d.shape[1] for d in sets}
    if len(dims) != 1:
        raise InvalidValueError(f"descriptor sets differ in dimension: {sorted(dims)}")
    rng = np.random.default_rng(seed)
    per_image = max(1, sample // len(sets))
    chosen = [
        d if len(d) <= per_image else d[np.sort(rng.choice(len(d), per_image, replace=False))]
        for d in sets
    ]
    data = np.ascontiguousarray(np.concatenate(chosen))
    # Fewer distinct descriptors than words (tiny cases): as many words as there are descriptors.
    k = min(words, len(data))
    if k < 1 or words < 1:
        raise InvalidValueError(f"vocabulary needs at least one word, got {words}")
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, KMEANS_ITERATIONS, 1e-4)
    # OpenCV's stubs do not admit None for the labels it is documented to accept.
    _, _, centroids = cv2.kmeans(data, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)  # type: ignore[call-overload]
    return Vocabulary(np.ascontiguousarray(centroids, dtype=np.float32))


def global_descriptor(vocab: Vocabulary, descriptors: np.ndarray) -> np.ndarray:
    """VLAD of one image's local descriptors: float32 (K x D,), L2-normalised (zeros if none).

    Residuals to the nearest word are summed per word, each word's sum is L2-normalised
    (intra-normalisation, so bursts of repeated texture such as windows do not dominate), then
    signed square root and a final L2 norm (Arandjelović & Zisserman, "All about VLAD", 2013).
    """
    k, dim = vocab.centroids.shape
    out = np.zeros((k, dim), np.float32)
    if len(descriptors) == 0:
        return out.ravel()
    d = _as_float(descriptors)
    if d.shape[1] != dim:
        raise InvalidValueError(f"descriptors have dimension {d.shape[1]}, vocabulary {dim}")
    c = vocab.centroids
    # Squared distances via |d|² - 2 d·c + |c|²; the |d|² term does not change the argmin.
    nearest = np.argmin((c * c).sum(axis=1)[None, :] - 2.0 * d @ c.T, axis=1)
    np.add.at(out, nearest, d - c[nearest])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    out = np.sign(out) * np.sqrt(np.abs(out))
    flat = out.ravel()
    total = float(np.linalg.norm(flat))
    return flat / total if total > 0 else flat


def global_descriptors(vocab: Vocabulary, descriptor_sets: Sequence[np.ndarray]) -> np.ndarray:
    """`global_descriptor` of each image, stacked: float32 (N, K x D)."""
    if not descriptor_sets:
        return np.zeros((0, vocab.dimension), np.float32)
    return np.stack([global_descriptor(vocab, d) for d in descriptor_sets])


def shortlist(
    queries: np.ndarray,
    database: np.ndarray,
    k: int = SHORTLIST_TOP_K,
    *,
    exclude_self: bool = False,
    min_similarity: float = SHORTLIST_MIN_SIMILARITY,
    block: int = SHORTLIST_BLOCK,
) -> list[CandidatePair]:
    """Candidate pairs: each query's `k` most similar database entries, plus every entry at least
    `min_similarity` similar, sorted by (query, target).

    With `exclude_self` the queries ARE the database (footage against footage): an image is not
    paired with itself and each unordered pair appears once, as (i, j) with i < j, whenever
    either image shortlists the other. Similarities are computed `block` queries at a time, so
    memory grows with `block` x database, never with queries x database.
    """
    q = _as_matrix(queries, "queries")
    db = _as_matrix(database, "database")
    if q.shape[1] != db.shape[1]:
        raise InvalidValueError(f"queries have dimension {q.shape[1]}, database {db.shape[1]}")
    if exclude_self and q.shape[0] != db.shape[0]:
        raise InvalidValueError("exclude_self needs the queries to be the database")
    if k < 0:
        raise InvalidValueError(f"shortlist size must be >= 0, got {k}")
    if block < 1:
        raise InvalidValueError(f"shortlist block must be >= 1, got {block}")
    n_q, n_db = q.shape[0], db.shape[0]
    if n_q == 0 or n_db == 0:
        return []
    top = min(k, n_db - 1 if exclude_self else n_db)
    if exclude_self:
        i, j, sim = _self_pairs(db, top, min_similarity, block)
    else:
        i, j, sim = _query_pairs(q, db, top, min_similarity, block)
    return [
        CandidatePair(a, b, s)
        for a, b, s in zip(i.tolist(), j.tolist(), sim.astype(np.float64).tolist(), strict=True)
    ]


def _query_pairs(
    q: np.ndarray, db: np.ndarray, top: int, min_similarity: float, block: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query, target, similarity) of each query's `top` most similar targets and those at
    least `min_similarity` similar, in row-major order, `block` queries at a time."""
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    sims: list[np.ndarray] = []
    for start, stop in _blocks(len(q), block):
        s = q[start:stop] @ db.T
        keep = s >= min_similarity
        if top > 0:
            keep |= _top_mask(s, top)
        r, c = np.nonzero(keep)
        rows.append(r + start)
        cols.append(c)
        sims.append(s[r, c])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(sims)


def _self_pairs(
    g: np.ndarray, top: int, min_similarity: float, block: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, similarity), i < j, sorted, of footage against itself: pairs where either image
    has the other among its `top` most similar, or similarity at least `min_similarity`.

    Only the upper triangle is computed (half the products, as the whole matrix's symmetric
    product did), `block` rows at a time. A row's similarities to earlier images come from
    earlier blocks; each row keeps the best `top` of those seen so far, which is all its final
    top needs from them (ties go to the lower index, and earlier images are lower)."""
    n = len(g)
    # Best `top` (or as many as seen) similarities to earlier images of every image still to
    # come, with their indices in increasing order.
    seen_sim = np.zeros((n, 0), np.float32)
    seen_idx = np.zeros((n, 0), np.int64)
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    sims: list[np.ndarray] = []
    for start, stop in _blocks(n, block):
        m = stop - start
        s = g[start:stop] @ g[start:].T
        # Within the block's square, the lower triangle takes the upper's values: a pair's
        # similarity is the one computed in its lower index's row, whichever row chooses it.
        below = np.tril_indices(m, -1)
        s[:, :m][below] = s[:, :m].T[below]
        r, c = np.nonzero(np.triu(s >= min_similarity, k=1))
        lo.append(r + start)
        hi.append(c + start)
        sims.append(s[r, c])
        if top == 0:
            continue
        s[np.arange(m), np.arange(m)] = -np.inf
        width = seen_sim.shape[1]
        # This block's rows: what they saw of earlier images, then the rest of their row.
        row_sims = np.concatenate([seen_sim[:m], s], axis=1)
        r, c = np.nonzero(_top_mask(row_sims, top))
        rows = r + start
        cols = c - width + start
        if width:
            cols = np.where(c < width, seen_idx[r, np.minimum(c, width - 1)], cols)
        mine = rows != cols
        lo.append(np.minimum(rows, cols)[mine])
        hi.append(np.maximum(rows, cols)[mine])
        sims.append(row_sims[r, c][mine])
        # Later rows see this block's images.
        later = np.concatenate([seen_sim[m:], s[:, m:].T], axis=1)
        kept = min(top, later.shape[1])
        if kept < later.shape[1]:
            r, c = np.nonzero(_top_mask(later, kept))
            idx = c - width + start
            if width:
                idx = np.where(c < width, seen_idx[m:][r, np.minimum(c, width - 1)], idx)
            seen_sim = later[r, c].reshape(-1, kept)
            seen_idx = idx.reshape(-1, kept)
        else:
            seen_sim = later
            seen_idx = np.concatenate(
                [seen_idx[m:], np.broadcast_to(np.arange(start, stop), (n - stop, m))], axis=1
            )
    key = np.concatenate(lo) * n + np.concatenate(hi)
    key, first = np.unique(key, return_index=True)
    return key // n, key % n, np.concatenate(sims)[first]


def _blocks(n: int, block: int) -> list[tuple[int, int]]:
    """(start, stop) of consecutive query blocks. A last block of one query joins the one
    before: numpy computes a single row by a matrix-vector product, whose rounding differs
    from the matrix product's, and every block should round as the whole product would."""
    bounds = [(start, min(start + block, n)) for start in range(0, n, block)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def _top_mask(sims: np.ndarray, top: int) -> np.ndarray:
    """Each row's `top` largest entries, ties going to the lower index: exactly the first
    `top` of a stable argsort of -sims (NaN last), without sorting whole rows."""
    key = -sims
    kth = np.partition(key, top - 1, axis=1)[:, top - 1 : top]
    nan_kth = np.isnan(kth)
    # Entries strictly before the top-th in sort order, then as many of those equal to it as
    # are still needed, in index order (what a stable sort keeps). NaN sorts after everything.
    before = np.where(nan_kth, ~np.isnan(key), key < kth)
    equal = np.where(nan_kth, np.isnan(key), key == kth)
    need = top - before.sum(axis=1, keepdims=True)
    return before | (equal & (np.cumsum(equal, axis=1, dtype=np.int32) <= need))


def _as_float(descriptors: np.ndarray) -> np.ndarray:
    d = np.asarray(descriptors)
    if d.ndim != 2 or not np.issubdtype(d.dtype, np.floating):
        raise InvalidValueError(
            f"descriptors must be a float (N, D) array, got {d.dtype} {d.shape}"
        )
    return np.ascontiguousarray(d, dtype=np.float32)


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    m = np.asarray(x, dtype=np.float32)
    if m.ndim != 2:
        raise InvalidValueError(f"{name} must be an (N, D) array, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise InvalidValueError(f"{name} contain NaN or infinite values")
    return m
