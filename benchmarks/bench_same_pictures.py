"""What the same-picture search of a verify run (recycled_footage + duplicates) costs on one
process and with its alignments on worker processes, and that both give the same results.

Run: python benchmarks/bench_same_pictures.py [--home DIR] [--repeat N] [--min-pairs N]

`--walk N` builds instead a walk-through-like case: N overlapping 640x480 windows slid across
dev photos (a few dozen per photo), so each picture is aligned with many neighbours, as in a
case of consecutive video frames (the real 1,000-frame case has 4-80 alignments per picture).

`--min-pairs` replaces `cases.search_pool.MIN_PAIRS_FOR_WORKERS` (default 0: workers from the
fourth query on, whatever the count, to measure them; this workspace is below the real one).

One case holds the distinct dev photos (benchmarks/hash_transforms.py `dev_images`: building
views a few metres apart, the hand-held sequence) and an edited copy of every second one (the
transform suite in turn), all offered as denial footage, so the search has near-band pairs and
anchor-gated crops to align, and neighbouring views that align and are rejected. Each run starts
from the same derived store without alignments or anchor votes (every pair is aligned again;
picture features were made at ingest). Prints wall time, the load average, the alignments made
and where, and checks that the findings and the alignment and vote files are identical.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cases.checks.same_pictures as same_pictures_module
import cases.search_pool as pool_module
from benchmarks.hash_transforms import TRANSFORMS, dev_images, write_jpeg
from cases import workflow
from cases.anchor_votes import VOTES_NAMESPACE
from cases.checks.duplicates import DuplicatesCheck
from cases.checks.recycled_footage import RecycledFootageCheck
from cases.ingest import LinkSpec, add_evidence
from cases.search import ALIGNMENTS_NAMESPACE
from cases.search_pool import SearchReport
from cases.verification import run_verify
from evidence_store.db import init_workspace, open_workspace
from verify.media import load_image


def build(home: Path, scratch: Path) -> None:
    ws = init_workspace(home)
    code = workflow.open_case(ws, "bench", title="t", incident_date=date(2020, 1, 1)).code
    sources = dev_images()
    paths = [s.path for s in sources]
    for k, s in enumerate(sources[::2]):
        t = TRANSFORMS[k % len(TRANSFORMS)]
        path = scratch / f"copy{k:02d}_{t.name}.jpg"
        write_jpeg(path, t.apply(load_image(s.path)), t.jpeg_quality)
        paths.append(path)
    add_evidence(ws, "bench", code, paths, kind="photo", links=[LinkSpec("denial_footage")])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build_walk(home: Path, scratch: Path, count: int) -> None:
    ws = init_workspace(home)
    code = workflow.open_case(ws, "bench", title="t", incident_date=date(2020, 1, 1)).code
    per_photo = 40
    paths = []
    for k, source in enumerate(dev_images()[::7][: -(-count // per_photo)]):
        rgb = load_image(source.path)
        h, w = rgb.shape[:2]
        if h < 480 or w < 640:
            continue
        for j in range(per_photo):
            if len(paths) == count:
                break
            x = round((w - 640) * j / (per_photo - 1))
            y = round((h - 480) * (j % 5) / 4)
            path = scratch / f"walk{k:02d}_{j:02d}.jpg"
            write_jpeg(path, rgb[y : y + 480, x : x + 640], 90)
            paths.append(path)
    add_evidence(ws, "bench", code, paths, kind="photo", links=[LinkSpec("denial_footage")])


def run(home: Path, workers: int) -> tuple[float, float, float, list[SearchReport], object]:
    """Wall time, this process's CPU time, the worker processes' CPU time, the searches'
    reports, and the results (findings, cache files)."""
    ws = open_workspace(home)
    for namespace in (ALIGNMENTS_NAMESPACE, VOTES_NAMESPACE):
        shutil.rmtree(ws.derived.root / namespace, ignore_errors=True)
    reports: list[SearchReport] = []
    real = pool_module.search_stored

    def reporting(*args, **kwargs) -> SearchReport:
        reports.append(real(*args, **kwargs, workers=workers))
        return reports[-1]

    same_pictures_module.search_stored = reporting  # type: ignore[assignment]
    try:
        t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
        out = run_verify(ws, "bench", "C-0001", checks=[RecycledFootageCheck(), DuplicatesCheck()])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        children = _children_cpu() - k0
    finally:
        same_pictures_module.search_stored = real  # type: ignore[assignment]
    findings = sorted((f.check, f.verdict, tuple(f.items), f.detail) for f in out.findings)
    files = {}
    for namespace in (ALIGNMENTS_NAMESPACE, VOTES_NAMESPACE):
        for path in sorted((ws.derived.root / namespace).rglob("*.json")):
            files[path.relative_to(ws.derived.root).as_posix()] = path.read_bytes()
    return wall, cpu, children, reports, (findings, files)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, help="reuse (or create) the workspace here")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--min-pairs", type=int, default=0)
    ap.add_argument("--walk", type=int, default=0)
    args = ap.parse_args()
    pool_module.MIN_PAIRS_FOR_WORKERS = args.min_pairs
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "ws"
        if not (home / "workspace.json").exists():
            t0 = time.perf_counter()
            if args.walk:
                build_walk(home, Path(tmp), args.walk)
            else:
                build(home, Path(tmp))
            print(f"workspace built in {time.perf_counter() - t0:.1f} s", flush=True)
        reference = None
        for _ in range(args.repeat):
            for workers in (1, pool_module.WORKERS):
                load = os.getloadavg()
                wall, cpu, children, reports, result = run(home, workers)
                made = sum(r.in_workers + r.here for r in reports)
                in_workers = sum(r.in_workers for r in reports)
                queries = sum(r.queries for r in reports)
                print(
                    f"workers={workers}: {wall:6.1f} s wall, CPU {cpu:5.1f} s here + "
                    f"{children:5.1f} s in workers; {queries} queries, {made} alignments "
                    f"({in_workers} in workers); load before {load[0]:.2f}",
                    flush=True,
                )
                if reference is None:
                    reference = result
                elif result != reference:
                    raise SystemExit("results differ between runs")
        print("findings and cache files identical in every run")


if __name__ == "__main__":
    main()
