"""Link search at 1,000-20,000 frames (issue 9): time and peak memory, dense vs sparse closure.

A synthetic case: random unit global descriptors of the production dimension (64 words x 128 =
8,192, `verify.retrieval.DEFAULT_WORDS`), frames grouped in places of 20-200 frames (the frames
of a place look alike: cosine ~0.25-0.65, other places ~0), and a fake verifier that links two
frames of one place with probability LINK_PROBABILITY (fixed per pair) and never links frames of
different places. The verifier costs nothing, so the figures are the search's own cost:
retrieval shortlist, then up to 50 closure rounds.

"dense" is the search as it was before the sparse closure and blocked shortlist (n x n matrices),
loaded from commit DENSE_COMMIT with git; "sparse" is the working tree's `verify.linking`.
Each (implementation, n) runs in a fresh subprocess; peak RSS is its ru_maxrss.

Run from the project root:
    python benchmarks/bench_link_search_scale.py                  # 1,000 / 5,000 / 20,000
    python benchmarks/bench_link_search_scale.py 1000 5000        # chosen sizes
    python benchmarks/bench_link_search_scale.py --one sparse 5000   # one measurement, JSON
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from verify.footage_graph import LINK_MIN_INLIERS  # noqa: E402
from verify.retrieval import DEFAULT_WORDS  # noqa: E402

# The last commit whose `verify/linking.py` and `verify/retrieval.py` used n x n matrices.
DESCRIPTOR_DIM = 128  # RootSIFT
DENSE_COMMIT = "199baa8"
DIMENSION = DEFAULT_WORDS * DESCRIPTOR_DIM
PLACE_SIZES = (20, 200)
LINK_PROBABILITY = 0.3
# Noise of a frame's descriptor around its place's centre, as a squared norm: two frames of
# one place have cosine 1 / sqrt((1 + a)(1 + b)), 0.25-0.67, so the 0.5 floor adds some pairs.
NOISE = (0.5, 3.0)
SIZES = (1_000, 5_000, 20_000)
# The dense search is not run when `dense_bytes` exceeds this (a shared 2-core machine with
# 23 GB); the estimate is printed instead. `dense_bytes` at 5,000 frames: 572 MiB above the
# descriptors, measured 567 MiB (2026-11-29).
DENSE_LIMIT_BYTES = 8 * 2**30
SEED = 0


def synthetic_case(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(descriptors float32 (n, DIMENSION), place of each frame). Built in chunks so that the
    peak memory of building them is the descriptors themselves."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(PLACE_SIZES[0], PLACE_SIZES[1] + 1)))
    places = np.repeat(np.arange(len(sizes)), sizes)[:n]
    centres = rng.standard_normal((len(sizes), DIMENSION), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, DIMENSION), np.float32)
    for start in range(0, n, 1024):
        stop = min(start + 1024, n)
        noise = rng.standard_normal((stop - start, DIMENSION), dtype=np.float32)
        noise *= np.sqrt(rng.uniform(*NOISE, stop - start) / DIMENSION).astype(np.float32)[:, None]
        chunk = centres[places[start:stop]] + noise
        out[start:stop] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out, places


def _mix(keys: np.ndarray) -> np.ndarray:
    """splitmix64 of uint64 keys, as floats in [0, 1): a fixed pseudo-random draw per pair."""
    z = keys + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def planted_verifier(
    places: np.ndarray,
) -> tuple[Callable[[Sequence[tuple[int, int]]], list[int]], list[float]]:
    """Links frames of one place with LINK_PROBABILITY, inliers 35-135; others 0-34. The second
    value accumulates the verifier's own time."""
    n = len(places)
    spent = [0.0]

    def verify(pairs: Sequence[tuple[int, int]]) -> list[int]:
        t = time.perf_counter()
        ij = np.array(pairs, np.uint64).reshape(-1, 2)
        u = _mix(ij[:, 0] * np.uint64(n) + ij[:, 1])
        same = places[ij[:, 0].astype(np.int64)] == places[ij[:, 1].astype(np.int64)]
        link = same & (u < LINK_PROBABILITY)
        counts = np.where(
            link, LINK_MIN_INLIERS + (100 * u).astype(int), (LINK_MIN_INLIERS * u).astype(int)
        )
        spent[0] += time.perf_counter() - t
        return counts.tolist()

    return verify, spent


def dense_modules(into: Path) -> ModuleType:
    """`verify.linking` as of DENSE_COMMIT, importing `verify.retrieval` of the same commit."""
    sources = {}
    for name in ("linking", "retrieval"):
        sources[name] = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{DENSE_COMMIT}:verify/{name}.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    linking = sources["linking"].replace(
        "from verify.retrieval import", "from dense_retrieval import"
    )
    (into / "dense_retrieval.py").write_text(sources["retrieval"])
    (into / "dense_linking.py").write_text(linking)
    sys.path.insert(0, str(into))
    module = importlib.import_module("dense_linking")
    return module


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(impl: str, n: int) -> dict[str, object]:
    """One search of the synthetic case of `n` frames with `impl` ("dense" or "sparse")."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        if impl == "dense":
            linking = dense_modules(Path(tmp))
        else:
            import verify.linking as linking
        descriptors, places = synthetic_case(n)
        input_peak = _peak_mib()
        verify, verifier_time = planted_verifier(places)
        inner = linking.shortlist
        shortlist_time = [0.0]

        def timed_shortlist(*args: object, **kwargs: object) -> object:
            t = time.perf_counter()
            out = inner(*args, **kwargs)
            shortlist_time[0] += time.perf_counter() - t
            return out

        linking.shortlist = timed_shortlist
        t = time.perf_counter()
        # No budget on either side: the dense commit had none by default, and the comparison is
        # of the same search (production now stops at `PAIRS_PER_NODE` pairs per frame).
        search = linking.search_links(descriptors, verify, pairs_per_node=None)
        wall = time.perf_counter() - t
    digest = hashlib.sha256(
        json.dumps(
            [sorted(search.inliers.items()), search.shortlisted, search.expanded, search.rounds]
        ).encode()
    ).hexdigest()[:16]
    return {
        "impl": impl,
        "n": n,
        "wall_s": round(wall, 1),
        "shortlist_s": round(shortlist_time[0], 1),
        "closure_s": round(wall - shortlist_time[0] - verifier_time[0], 1),
        "verifier_s": round(verifier_time[0], 1),
        "peak_rss_mib": round(_peak_mib()),
        "input_rss_mib": round(input_peak),
        "shortlisted": search.shortlisted,
        "expanded": search.expanded,
        "rounds": search.rounds,
        "links": len(search.links()),
        "result_sha256": digest,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def dense_bytes(n: int) -> int:
    """Rough peak of the dense search: the shortlist's float32 similarities, their negation and
    int64 argsort (16 bytes a cell), or the closure's linked, L @ L, outer, maximum and overlap
    float32 matrices and four bool masks (24 bytes a cell), whichever is larger."""
    return 24 * n * n + 4 * n * DIMENSION


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]))))
        return
    sizes = [int(a) for a in sys.argv[1:]] or list(SIZES)
    rows = []
    for n in sizes:
        for impl in ("dense", "sparse"):
            if impl == "dense" and dense_bytes(n) > DENSE_LIMIT_BYTES:
                print(
                    f"dense n={n}: not run, needs ~{dense_bytes(n) / 2**30:.1f} GB "
                    f"(limit {DENSE_LIMIT_BYTES / 2**30:.0f} GB)",
                    flush=True,
                )
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--one", impl, str(n)],
                check=True,
                capture_output=True,
                text=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    by = {(r["impl"], r["n"]): r for r in rows}
    for n in sizes:
        if ("dense", n) in by and ("sparse", n) in by:
            same = by[("dense", n)]["result_sha256"] == by[("sparse", n)]["result_sha256"]
            print(f"n={n}: dense and sparse results {'identical' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
