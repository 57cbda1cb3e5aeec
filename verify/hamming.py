"""Exact Hamming-distance scans of binary codes with faiss, for the hot loops numpy and OpenCV
do one pair at a time.

OpenCV's brute-force Hamming matcher calls a distance function per pair (7 ms for 1,000 x 1,000
ORB descriptors); numpy's popcount passes through memory once per 64-bit word. faiss's
`IndexBinaryFlat` scores a 256-bit pair in about a nanosecond (1.2 ms for the same 1,000 x 1,000;
benchmarks/RESULTS.md, issue 4). Both searches here are exact, so every caller's results are
the same as before, only sooner.

faiss is imported on first use: it costs ~0.1 s, which a CLI call that never searches should
not pay.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from verify.errors import InvalidValueError


@cache
def _faiss() -> ModuleType:
    import faiss

    # One thread: callers parallelise by process (`verify.pairpool`), and OpenMP threads spinning
    # beside two worker processes on two cores would take CPU from them.
    faiss.omp_set_num_threads(1)
    return faiss


def faiss_module() -> ModuleType:
    """faiss, imported on first use and limited to one thread (also for `verify.geometry`)."""
    return _faiss()


def codes_from_words(words: np.ndarray) -> np.ndarray:
    """(n, w) uint64 words (big-endian word order, as `verify.hashindex` stores them) to the
    (n, 8 w) uint8 codes faiss takes. Any fixed byte order gives the same distances; this one
    keeps the codes' bytes in the hash's own order."""
    arr = np.ascontiguousarray(words, dtype=np.uint64)
    if arr.ndim != 2:
        raise InvalidValueError(f"expected (n, words) uint64, got shape {arr.shape}")
    return (
        np.ascontiguousarray(arr.astype(">u8")).view(np.uint8).reshape(len(arr), 8 * arr.shape[1])
    )


class BinaryScan:
    """Exact scans of a fixed set of binary codes ((n, bytes) uint8). The faiss index is made on
    first use and not pickled (a worker process given a scan makes its own)."""

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = _codes(codes)
        self._index: Any = None

    def __len__(self) -> int:
        return len(self.codes)

    def __getstate__(self) -> dict[str, Any]:
        return {"codes": self.codes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.codes = state["codes"]
        self._index = None

    def _faiss_index(self) -> Any:
        if self._index is None:
            self._index = _faiss().IndexBinaryFlat(8 * self.codes.shape[1])
            self._index.add(self.codes)
        return self._index

    def _queries(self, queries: np.ndarray) -> np.ndarray:
        q = _codes(queries)
        if q.shape[1] != self.codes.shape[1]:
            raise InvalidValueError(
                f"{q.shape[1]}-byte queries against {self.codes.shape[1]}-byte codes"
            )
        return q

    def nearest_two(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each query row, its two nearest codes: (distances, indices), both (k, 2) int64,
        nearest first. Equal distances may come in either order; a ratio test (nearest clearly
        closer than the second) does not depend on which."""
        q = self._queries(queries)
        if len(self.codes) < 2:
            raise InvalidValueError("need at least two codes to find the two nearest")
        distances, indices = self._faiss_index().search(q, 2)
        return distances.astype(np.int64), indices.astype(np.int64)

    def within(
        self, queries: np.ndarray, max_distance: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (query row, code) pair at most `max_distance` bits apart: (query, code,
        distance) int64 arrays, in no particular order."""
        q = self._queries(queries)
        if max_distance < 0:
            raise InvalidValueError(f"search radius must be >= 0, got {max_distance}")
        empty = np.zeros(0, np.int64)
        if not len(q) or not len(self.codes):
            return empty, empty.copy(), empty.copy()
        # faiss keeps distances strictly below its radius.
        limits, distances, ids = self._faiss_index().range_search(q, max_distance + 1)
        counts = np.diff(limits.astype(np.int64))
        query = np.repeat(np.arange(len(q), dtype=np.int64), counts)
        return query, ids.astype(np.int64), distances.astype(np.int64)


def nearest_two(queries: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`BinaryScan(base).nearest_two(queries)`, for a one-off search."""
    return BinaryScan(base).nearest_two(queries)


def _codes(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] == 0:
        raise InvalidValueError(f"expected (n, bytes) uint8 codes, got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)
