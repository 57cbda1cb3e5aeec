"""Geometric verification of many image pairs on several processes, with a one-process fallback.

Footage link search verifies tens of thousands of pairs (~30 ms of CPU each); one process uses
one core of the 2 the scale target assumes. `PairMatcher` keeps a fixed list of features in
worker processes (sent once: re-sending 1,000 frames' features on every call costs seconds)
and maps `match_pair` over index pairs. If workers cannot start or one dies, the remaining
pairs are verified in this process: the results are the same either way (`match_pair` is
deterministic), only slower.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import cv2

from verify.errors import InvalidValueError
from verify.features import Features
from verify.geometry import PairMatch, match_pair
from verify.worker_exit import exit_with_parent

# Worker processes: the scale target's 2 cores.
WORKERS = 2

# Below this many pairs, start-up (spawning interpreters, importing OpenCV, sending features:
# ~2-8 s for 1,000 frames) costs more than a second core saves at ~30 ms a pair.
MIN_PAIRS_FOR_WORKERS = 400

# Chunks per worker and call: enough to balance uneven pairs, few enough that each chunk keeps
# reusing its frames' search indexes (callers hand pairs in `verify.linking.reuse_order`).
CHUNKS_PER_WORKER = 8

_features: list[Features] = []


def _start_worker(features: list[Features]) -> None:
    global _features
    exit_with_parent()
    # One OpenCV thread per worker: the workers are the parallelism.
    cv2.setNumThreads(1)
    _features = features


def _match_chunk(pairs: list[tuple[int, int]], min_inliers: int) -> list[PairMatch]:
    return [match_pair(_features[a], _features[b], min_inliers=min_inliers) for a, b in pairs]


class PairMatcher:
    """`match_pair(features[a], features[b])` over index pairs (a, b), on `workers` processes
    when a call has enough pairs, else (or when workers fail) in this process."""

    def __init__(self, features: Sequence[Features], workers: int = WORKERS) -> None:
        if workers < 1:
            raise InvalidValueError(f"workers must be >= 1, got {workers}")
        self.features = list(features)
        self.workers = workers
        self.used_workers = False  # whether any pair was verified by a worker process
        self.fell_back = False  # whether workers failed and this process took over
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> PairMatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (if any were started)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def match(
        self,
        pairs: Sequence[tuple[int, int]],
        *,
        min_inliers: int = 0,
        done: Callable[[int], None] | None = None,
        each: Callable[[int, PairMatch], None] | None = None,
    ) -> list[PairMatch]:
        """The PairMatch of each pair, in order.

        `each(k, match)` is called with pair k's result as soon as its chunk is verified (callers
        cache results as they come, so an interrupted run keeps what it verified), then
        `done(n)` as n more pairs finish.
        """
        for a, b in pairs:
            if not (0 <= a < len(self.features) and 0 <= b < len(self.features)):
                raise InvalidValueError(f"pair ({a}, {b}) outside {len(self.features)} features")
        size = max(1, -(-len(pairs) // (self.workers * CHUNKS_PER_WORKER)))
        chunks = [list(pairs[i : i + size]) for i in range(0, len(pairs), size)]
        results: list[list[PairMatch] | None] = [None] * len(chunks)

        def finished(k: int, found: list[PairMatch]) -> None:
            results[k] = found
            if each:
                for offset, match in enumerate(found):
                    each(k * size + offset, match)
            if done:
                done(len(found))

        pool = self._workers() if len(pairs) >= MIN_PAIRS_FOR_WORKERS else None
        if pool is not None:
            try:
                futures: list[Future[list[PairMatch]]] = [
                    pool.submit(_match_chunk, chunk, min_inliers) for chunk in chunks
                ]
                for k, future in enumerate(futures):
                    found = future.result()
                    self.used_workers = True
                    finished(k, found)
            except (BrokenProcessPool, OSError):
                # A worker died (killed, out of memory) or could not be reached: finish here.
                self.fell_back = True
                self._discard_pool()
        for k, chunk in enumerate(chunks):
            if results[k] is None:
                finished(
                    k,
                    [
                        match_pair(self.features[a], self.features[b], min_inliers=min_inliers)
                        for a, b in chunk
                    ],
                )
        return [m for part in results if part is not None for m in part]

    def _workers(self) -> ProcessPoolExecutor | None:
        if self.workers < 2 or self.fell_back:
            return None
        if self._pool is None:
            try:
                # spawn, not fork: a child forked after OpenCV started its threads can deadlock.
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self.features,),
                )
            except (OSError, ValueError):
                self.fell_back = True
                return None
        return self._pool

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
