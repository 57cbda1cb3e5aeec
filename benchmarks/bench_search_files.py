"""What a `claimcheck search` call costs per query photo, against hashing that photo.

Run: python benchmarks/bench_search_files.py [--profile] [--repeat N] [--cold]

A workspace holds the 85 distinct photos of the hashing benchmarks (68 dev + 17 drone photos,
one case); the queries are 22 edited copies of dev photos (every third dev photo, the transform
suite of benchmarks/hash_transforms.py in turn), so the pixel stage has real work: near-band
pairs and anchor-gated crops. Each repeat is one `search_files` call, as one CLI call makes it
(stored pictures' features are made or loaded inside the call; the grey pixels of the stored
pictures it aligns with are cached in the derived store by the first call, and read back by later
ones: `--cold` deletes them before every call). Hashing time is `hash_file` on
the same 22 files in the same process, measured just before. Prints wall and CPU time and the
load average, and the matches found (item codes) so runs can be checked to agree.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.hash_transforms import TRANSFORMS, calibration_images, dev_images, write_jpeg
from cases import workflow
from cases.analysis import PICTURE_FEATURES_NAMESPACE
from cases.ingest import add_evidence
from cases.search import search_files
from evidence_store.db import init_workspace, open_workspace
from verify.hashing import hash_file
from verify.media import load_image

QUERY_COUNT = 22


def build(home: Path) -> None:
    ws = init_workspace(home)
    workflow.open_case(ws, "bench", title="Store", incident_date=date(2020, 1, 1))
    paths = [s.path for s in dev_images()] + [s.path for s in calibration_images()]
    add_evidence(ws, "bench", "C-0001", paths, kind="photo")


def make_queries(folder: Path) -> list[Path]:
    sources = dev_images()[::3][:QUERY_COUNT]
    out = []
    for k, s in enumerate(sources):
        t = TRANSFORMS[k % len(TRANSFORMS)]
        path = folder / f"q{k:02d}_{t.name}.jpg"
        write_jpeg(path, t.apply(load_image(s.path)), t.jpeg_quality)
        out.append(path)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, help="reuse (or create) the workspace here")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--cold", action="store_true", help="no cached grey pixels in any call")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "ws"
        t0 = time.perf_counter()
        if not (home / "workspace.json").exists():
            build(home)
        print(f"workspace ready in {time.perf_counter() - t0:.1f} s", flush=True)
        queries = make_queries(Path(tmp))
        ws = open_workspace(home)
        hash_file(queries[0])
        for _ in range(args.repeat):
            print(f"load average {os.getloadavg()}")
            w0, c0 = time.perf_counter(), time.process_time()
            for q in queries:
                hash_file(q)
            hw, hc = time.perf_counter() - w0, time.process_time() - c0
            if args.cold:
                for path in (home / "derived" / PICTURE_FEATURES_NAMESPACE).rglob("gray-*.bin"):
                    path.unlink()
            profiler = cProfile.Profile() if args.profile else None
            w0, c0 = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            results = search_files(ws, queries)
            if profiler:
                profiler.disable()
            sw, sc = time.perf_counter() - w0, time.process_time() - c0
            n = len(queries)
            print(
                f"hash: {1000 * hw / n:.1f} ms wall / {1000 * hc / n:.1f} ms CPU per query; "
                f"search: {1000 * sw / n:.1f} ms wall / {1000 * sc / n:.1f} ms CPU per query "
                f"({sw / hw:.1f}x hashing)",
                flush=True,
            )
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        for r in results:
            print(Path(r.query).name, [m.item for m in r.matches])


if __name__ == "__main__":
    main()
