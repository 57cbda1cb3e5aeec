"""Hash search latency on 1,000,000 generated stored hashes, pinned to one core.

Run: python benchmarks/bench_hash_search.py

Stored hashes are uniform random; half of the queries are stored hashes with a few bits flipped
(so there is something to find), half are fresh random hashes. Radii are the ones the matcher
searches at (verify.hashing.INDEX_SEARCH_RADII: dHash 5, PDQ 42), plus pHash's 16 for reference.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verify.hashindex import HashIndex, SearchMethod
from verify.hashing import INDEX_SEARCH_RADII, PHASH_MATCH_DISTANCE, HashKind

N = 1_000_000
QUERIES = 300


def _queries(words: np.ndarray, rng: np.random.Generator, bits: int) -> list[np.ndarray]:
    out = []
    for k in range(QUERIES):
        if k % 2:
            out.append(rng.integers(0, 2**64, size=words.shape[1], dtype=np.uint64))
            continue
        q = words[rng.integers(len(words))].copy()
        for f in rng.choice(bits, size=4, replace=False):
            q[f // 64] ^= np.uint64(1) << np.uint64(63 - f % 64)
        out.append(q)
    return out


def _latencies(index: HashIndex, queries, radius: int, method: SearchMethod) -> np.ndarray:
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q, radius, method=method)
        times.append(time.perf_counter() - start)
    return np.array(times) * 1e3


def main() -> None:
    os.sched_setaffinity(0, {0})
    rng = np.random.default_rng(4)
    print(f"Stored hashes: {N:,} (uniform random), {QUERIES} queries, pinned to one core\n")
    print("| hash | radius | method | p50 ms | p99 ms | mean hits |")
    print("| --- | --- | --- | --- | --- | --- |")
    builds = []
    for label, bits, radii in (
        ("64-bit (dHash)", 64, [INDEX_SEARCH_RADII[HashKind.DHASH], PHASH_MATCH_DISTANCE]),
        ("256-bit (PDQ)", 256, [INDEX_SEARCH_RADII[HashKind.PDQ]]),
    ):
        words = rng.integers(0, 2**64, size=(N, bits // 64), dtype=np.uint64)
        keys = [f"E-{i:07d}" for i in range(N)]
        index = HashIndex(bits)
        start = time.perf_counter()
        index.add_many(keys, words)
        index.search(words[0], 0, method=SearchMethod.MULTI_INDEX)  # builds the tables
        builds.append(
            f"{label}: bulk add + multi-index tables for {N:,} hashes in "
            f"{time.perf_counter() - start:.2f} s"
        )
        queries = _queries(words, rng, bits)
        for radius in radii:
            for method in SearchMethod:
                lat = _latencies(index, queries, radius, method)
                hits = np.mean([len(index.search(q, radius)) for q in queries[:20]])
                print(
                    f"| {label} | {radius} | {method} | {np.percentile(lat, 50):.2f} | "
                    f"{np.percentile(lat, 99):.2f} | {hits:.1f} |"
                )
    print()
    for line in builds:
        print(f"- {line}")
    print("\nBrute force vs multi-index by store size (256-bit, radius 42, p50 ms):\n")
    print("| stored | brute force | multi-index |\n| --- | --- | --- |")
    for n in (5_000, 20_000, 100_000):
        words = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
        index = HashIndex(256)
        index.add_many([str(i) for i in range(n)], words)
        queries = _queries(words, rng, 256)[:100]
        b = np.percentile(_latencies(index, queries, 42, SearchMethod.BRUTE_FORCE), 50)
        m = np.percentile(_latencies(index, queries, 42, SearchMethod.MULTI_INDEX), 50)
        print(f"| {n:,} | {b:.3f} | {m:.3f} |")


if __name__ == "__main__":
    main()
