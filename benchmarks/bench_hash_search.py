"""Hash search latency on 1,000,000 generated stored hashes, pinned to one core.

Run: python benchmarks/bench_hash_search.py
     python benchmarks/bench_hash_search.py --anchors   (batched anchor search only)
     python benchmarks/bench_hash_search.py --photo-anchors   (the same on real ORB anchors)

Stored hashes are uniform random; half of the queries are stored hashes with a few bits flipped
(so there is something to find), half are fresh random hashes. Radii are the ones the matcher
searches at (verify.hashing.INDEX_SEARCH_RADII: dHash 5, PDQ 42), plus pHash's 16 for reference.

`--anchors` times `HashIndex.search_many` as `cases/search.py` calls it for one query picture: 144
ORB anchors (256 bits) at ANCHOR_RADIUS against 150,000 stored anchors, some of them planted near
copies of the queries. `--photo-anchors` does the same with real anchors: 16 random crops (75-100%
of each side) of each of the 68 dev photos (`hash_transforms.dev_images`) stored, ~157,000
anchors, many near one another as in a walk-through video; the queries are the anchors of one
further crop of a photo. ORB descriptors are far from uniform, so the tables' runs are uneven.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verify.hashindex import HashIndex, SearchMethod
from verify.hashing import INDEX_SEARCH_RADII, PHASH_MATCH_DISTANCE, HashKind
from verify.media import load_image
from verify.samepicture import ANCHOR_RADIUS, anchor_descriptors, anchor_words

N = 1_000_000
QUERIES = 300
# --anchors: the lead's 1,000-frame walk-through case stores 146,538 anchors, 144 per picture.
ANCHOR_STORE = 150_000
ANCHORS_PER_PICTURE = 144
ANCHOR_CALLS = 12


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


def _flip(q: np.ndarray, n_bits: int, rng: np.random.Generator) -> np.ndarray:
    out = q.copy()
    for f in rng.choice(64 * len(q), size=n_bits, replace=False):
        out[f // 64] ^= np.uint64(1) << np.uint64(63 - f % 64)
    return out


def anchors_main() -> None:
    """ms per `search_many` call of one picture's anchors, by method."""
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**64, size=(ANCHOR_STORE, 4), dtype=np.uint64)
    calls = [
        rng.integers(0, 2**64, size=(ANCHORS_PER_PICTURE, 4), dtype=np.uint64)
        for _ in range(ANCHOR_CALLS)
    ]
    # Every other query has 1-4 stored near copies (0-40 bits flipped, uniform), so each call
    # finds a few hundred hits, as a picture shared with other stored frames does.
    slots = iter(rng.permutation(ANCHOR_STORE))
    for queries in calls:
        for q in queries[::2]:
            for _ in range(int(rng.integers(1, 5))):
                words[next(slots)] = _flip(q, int(rng.integers(0, ANCHOR_RADIUS + 1)), rng)
    index = HashIndex(256)
    index.add_many([str(i // 144) for i in range(ANCHOR_STORE)], words)
    index.search(words[0], 0, method=SearchMethod.MULTI_INDEX)  # builds the tables
    print(
        f"Stored anchors: {ANCHOR_STORE:,} (256-bit, uniform random + planted near copies), "
        f"{ANCHORS_PER_PICTURE} queries per call, radius {ANCHOR_RADIUS}, {ANCHOR_CALLS} calls, "
        "pinned to one core\n"
    )
    _time_calls(index, calls)


def _random_crop(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = rgb.shape[:2]
    ch, cw = int(h * rng.uniform(0.75, 1.0)), int(w * rng.uniform(0.75, 1.0))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return np.ascontiguousarray(rgb[top : top + ch, left : left + cw])


def _time_calls(index: HashIndex, calls: list[np.ndarray]) -> None:
    print("| method | p50 ms per call | max ms per call | hits per call |")
    print("| --- | --- | --- | --- |")
    for method in SearchMethod:
        times, hits = [], []
        for queries in calls:
            start = time.perf_counter()
            found = index.search_many(queries, ANCHOR_RADIUS, method=method)
            times.append((time.perf_counter() - start) * 1e3)
            hits.append(sum(len(h) for h in found))
        print(
            f"| {method} | {np.percentile(times, 50):.1f} | {max(times):.1f} | "
            f"{np.mean(hits):.0f} |"
        )


def photo_anchors_main() -> None:
    """`anchors_main` on the ORB anchors of random crops of the dev photos."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hash_transforms import dev_images

    rng = np.random.default_rng(11)
    stored: list[np.ndarray] = []
    calls: list[np.ndarray] = []
    for k, image in enumerate(dev_images()):
        rgb = load_image(image.path, max_side=640)
        stored += [anchor_words(anchor_descriptors(_random_crop(rgb, rng))) for _ in range(16)]
        if k % 5 == 0:
            calls.append(anchor_words(anchor_descriptors(_random_crop(rgb, rng))))
    words = np.concatenate(stored)
    index = HashIndex(256)
    index.add_many([str(i) for i, w in enumerate(stored) for _ in range(len(w))], words)
    index.search(words[0], 0, method=SearchMethod.MULTI_INDEX)  # builds the tables
    print(
        f"Stored anchors: {len(words):,} (ORB, {len(stored)} crops of the dev photos), "
        f"{len(calls)} calls of {np.mean([len(c) for c in calls]):.0f} queries, radius "
        f"{ANCHOR_RADIUS}, pinned to one core\n"
    )
    _time_calls(index, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", action="store_true", help="batched anchor search only")
    parser.add_argument(
        "--photo-anchors", action="store_true", help="batched search of real ORB anchors only"
    )
    os.sched_setaffinity(0, {0})
    args = parser.parse_args()
    if args.anchors:
        anchors_main()
        return
    if args.photo_anchors:
        photo_anchors_main()
        return
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
