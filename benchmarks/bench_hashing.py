"""Perceptual hashing: robustness (calibrates the match rule), reduced decode, and speed.

Run: python benchmarks/bench_hashing.py            (prints markdown for RESULTS.md)

(a) Robustness: every distinct photo of ../shared/data goes through the transform suite of
    benchmarks/hash_transforms.py; each copy is compared (verify.hashing.compare) with its own
    original (recall) and with every other original (false matches). A grid search over the three
    thresholds shows which rules have zero false matches (the calibration behind the constants in
    verify/hashing.py). The same suite is then run once, thresholds fixed, on
    ../shared/calibration/palm_desert_drone, where neighbouring photos overlap but are different
    pictures (non-duplicates).
(b) Reduced decode: hash_file (reduced-scale decode) vs hash_image of the full-size decode.
(c) Speed: hash_file (all hashes) vs plain imagehash.phash(Image.open(path)), same files, same run.
"""

from __future__ import annotations

import multiprocessing
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.hash_transforms import (
    TRANSFORMS,
    SourceImage,
    calibration_images,
    dev_images,
    write_jpeg,
)
from verify import hashing
from verify.hashing import ImageHashes, compare, hash_file, hash_image
from verify.media import load_image


def build_suite(images: list[SourceImage]) -> tuple[list[ImageHashes], dict]:
    originals = [hash_file(s.path) for s in images]
    copies: dict[tuple[int, str], ImageHashes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, source in enumerate(images):
            rgb = load_image(source.path)
            for t in TRANSFORMS:
                path = Path(tmp) / f"{i}_{t.name}.jpg"
                write_jpeg(path, t.apply(rgb), t.jpeg_quality)
                copies[(i, t.name)] = hash_file(path)
    return originals, copies


def _related(images: list[SourceImage], i: int, j: int) -> bool:
    return images[i].group is not None and images[i].group == images[j].group


def robustness(images, originals, copies) -> tuple[list[str], float, int, int]:
    """Per-transform recall and false matches with the rule in verify.hashing."""
    rows = []
    n = len(images)
    total_hits = total = total_false = total_pairs = 0
    for t in [None, *[t.name for t in TRANSFORMS]]:
        hits = false = pairs = 0
        for i in range(n):
            query = originals[i] if t is None else copies[(i, t)]
            if t is not None:
                hits += compare(query, originals[i]).is_match
            for j in range(n):
                if j == i or _related(images, i, j):
                    continue
                pairs += 1
                false += compare(query, originals[j]).is_match
        name = t or "(original vs other originals)"
        recall = "" if t is None else f"{hits / n:.3f} ({hits}/{n})"
        rows.append(f"| {name} | {recall} | {false}/{pairs} |")
        if t is not None:
            total_hits += hits
            total += n
        total_false += false
        total_pairs += pairs
    rows.append(
        f"| **suite** | **{total_hits / total:.3f}** ({total_hits}/{total}) | "
        f"**{total_false}/{total_pairs}** |"
    )
    return rows, total_hits / total, total_false, total_pairs


def neighbour_matches(images, originals) -> str:
    seq = [i for i, s in enumerate(images) if s.group == "sequence"]
    pairs = [(a, b) for a in seq for b in seq if a < b]
    adjacent = [(a, b) for a, b in pairs if b == a + 1]
    m_all = sum(compare(originals[a], originals[b]).is_match for a, b in pairs)
    m_adj = sum(compare(originals[a], originals[b]).is_match for a, b in adjacent)
    return (
        f"sequence/ frames (one hand-held shot, ~1 s apart): {m_adj}/{len(adjacent)} adjacent "
        f"pairs and {m_all}/{len(pairs)} of all pairs match"
    )


def distance_features(images, originals, copies):
    """(pHash, dHash, PDQ) for both orientations of every true and every false pair."""

    def feats(a: ImageHashes, b: ImageHashes):
        return [
            (a.phash - b.phash, a.dhash - b.dhash, a.pdq - b.pdq),
            (a.phash_mirrored - b.phash, a.dhash_mirrored - b.dhash, a.pdq_mirrored - b.pdq),
        ]

    true, false = [], []
    n = len(images)
    for i in range(n):
        for t in TRANSFORMS:
            true.append(feats(copies[(i, t.name)], originals[i]))
        for j in range(n):
            if j == i or _related(images, i, j):
                continue
            false.append(feats(originals[i], originals[j]))
            for t in TRANSFORMS:
                false.append(feats(copies[(i, t.name)], originals[j]))
    return np.array(true), np.array(false)


def _rule(x: np.ndarray, p: int, d: int, q: int) -> np.ndarray:
    return (((x[..., 0] <= p) & (x[..., 1] <= d)) | (x[..., 2] <= q)).any(axis=1)


def calibrate(true: np.ndarray, false: np.ndarray) -> list[str]:
    """Grid search: rules "PDQ <= q or (pHash <= p and dHash <= d)" with zero false matches,
    also when every threshold is widened by a margin (pHash +4, dHash +4, PDQ +12)."""
    safe = []
    for p in range(0, 32, 2):
        for d in range(0, 24):
            for q in range(0, 100, 2):
                if _rule(false, p, d, q).any() or _rule(false, p + 4, d + 4, q + 12).any():
                    continue
                safe.append((float(_rule(true, p, d, q).mean()), p, d, q))
    best = max(r for r, *_ in safe)
    chosen = min(
        (s for s in safe if s[0] == best), key=lambda s: s[1] / 64 + s[2] / 64 + s[3] / 256
    )
    edge = []
    for p in range(0, 32, 2):
        for d in range(0, 24):
            for q in range(0, 100, 2):
                if not _rule(false, p, d, q).any():
                    edge.append((float(_rule(true, p, d, q).mean()), p, d, q))
    best_edge = max(edge)
    flat = false.reshape(-1, 3)
    return [
        f"nearest non-duplicate pair distances (any orientation): pHash {flat[:, 0].min()}, "
        f"dHash {flat[:, 1].min()}, PDQ {flat[:, 2].min()}",
        f"best rule with zero false matches and the safety margin: pHash <= {chosen[1]}, dHash <= "
        f"{chosen[2]}, PDQ <= {chosen[3]} (recall {chosen[0]:.3f}; smallest such thresholds)",
        f"best rule with zero false matches and no margin: pHash <= {best_edge[1]}, dHash <= "
        f"{best_edge[2]}, PDQ <= {best_edge[3]} (recall {best_edge[0]:.3f}), not used",
        f"in use (verify/hashing.py): pHash <= {hashing.PHASH_MATCH_DISTANCE}, dHash <= "
        f"{hashing.DHASH_MATCH_DISTANCE}, PDQ <= {hashing.PDQ_MATCH_DISTANCE}",
    ]


def reduced_decode(images: list[SourceImage]) -> str:
    diffs = []
    for s in images:
        reduced = hash_file(s.path)
        full = hash_image(load_image(s.path))
        diffs.append(
            (reduced.phash - full.phash, reduced.dhash - full.dhash, reduced.pdq - full.pdq)
        )
    d = np.array(diffs)
    return (
        f"hash_file (reduced decode) vs hash_image(full decode), {len(d)} photos: "
        f"pHash max {d[:, 0].max()} mean {d[:, 0].mean():.2f}; dHash max {d[:, 1].max()} mean "
        f"{d[:, 1].mean():.2f}; PDQ max {d[:, 2].max()} mean {d[:, 2].mean():.2f} bits"
    )


def _baseline(paths: list[Path]) -> None:
    for p in paths:
        imagehash.phash(Image.open(p))


def _ours(paths: list[Path]) -> None:
    for p in paths:
        hash_file(p)


def _rate(fn, paths: list[Path], repeats: int) -> float:
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        fn(paths)
        best = max(best, len(paths) / (time.perf_counter() - start))
    return best


def _rate_parallel(fn, paths: list[Path], workers: int) -> float:
    chunks = [paths[k::workers] for k in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(fn, chunks)  # warm-up
        start = time.perf_counter()
        pool.map(fn, chunks)
        return len(paths) / (time.perf_counter() - start)


def speed(images: list[SourceImage]) -> list[str]:
    paths = [s.path for s in images] * 3
    rows = []
    for label, fn in (("imagehash.phash(Image.open(path))", _baseline), ("hash_file", _ours)):
        one = _rate(fn, paths, 3)
        two = _rate_parallel(fn, paths, 2)
        rows.append((label, one, two))
    base = rows[0][1]
    out = [
        "| path | images/s, 1 process | images/s, 2 processes | per-core speed-up |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| {label} | {one:.0f} | {two:.0f} | {one / base:.2f}x |" for label, one, two in rows]
    return out


def phone_size_copies(images: list[SourceImage], tmp: Path) -> list[Path]:
    """The first 8 site photos upscaled to 4032x3024 (12 MP, a phone camera's size), JPEG q90:
    the size most photos arrive at, where imagehash's full decode and resize cost most."""
    import cv2

    paths = []
    for i, source in enumerate(images[:8]):
        big = cv2.resize(load_image(source.path), (4032, 3024), interpolation=cv2.INTER_CUBIC)
        path = tmp / f"phone_{i}.jpg"
        write_jpeg(path, big, 90)
        paths.append(path)
    return paths


def speed_on(paths: list[Path], label: str) -> list[str]:
    base = _rate(_baseline, paths, 2)
    ours = _rate(_ours, paths, 2)
    return [
        f"| {label}: imagehash.phash | {base:.1f} | | 1.00x |",
        f"| {label}: hash_file | {ours:.1f} | | {ours / base:.2f}x |",
    ]


def cost_breakdown(images: list[SourceImage]) -> list[str]:
    """Where the time of hash_file goes, per image (mean over the dev photos)."""
    import pdqhash

    paths = [s.path for s in images]
    t = time.perf_counter()
    arrays = [load_image(p, max_side=hashing.HASH_WORKING_SIDE) for p in paths]
    decode = (time.perf_counter() - t) / len(paths)
    parts = {}
    for name, fn in (
        (
            "pHash + dHash (+ mirrored)",
            lambda a: hashing._phash_grid(Image.fromarray(a).convert("L")),
        ),
        ("PDQ (x2: direct and mirrored)", lambda a: (pdqhash.compute(a), pdqhash.compute(a))),
        ("colour hash", hashing._colorhash),
        ("hash_image total", hash_image),
    ):
        t = time.perf_counter()
        for a in arrays:
            fn(a)
        parts[name] = (time.perf_counter() - t) / len(arrays)
    t = time.perf_counter()
    for p in paths:
        Image.open(p).load()
    full_decode = (time.perf_counter() - t) / len(paths)
    rows = [
        f"| full decode (what imagehash pays first) | {full_decode * 1e3:.2f} |",
        f"| reduced decode + EXIF orientation (load_image max_side=256) | {decode * 1e3:.2f} |",
    ]
    rows += [f"| {k} | {v * 1e3:.2f} |" for k, v in parts.items()]
    return ["| step | ms per image |", "| --- | --- |", *rows]


def main() -> None:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if "Model name" in ln), "")
    print(
        f"Machine: {model}, {multiprocessing.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    dev = dev_images()
    cal = calibration_images()
    if "--speed" in sys.argv[1:]:
        speed_only(dev, cal)
        return
    dev_orig, dev_copies = build_suite(dev)
    print("### Calibration of the match rule (dev data only)\n")
    true, false = distance_features(dev, dev_orig, dev_copies)
    for line in calibrate(true, false):
        print(f"- {line}")
    print(f"\n### Robustness, dev data ({len(dev)} distinct photos of ../shared/data)\n")
    rows, *_ = robustness(dev, dev_orig, dev_copies)
    print("| transform | recall | false matches |\n| --- | --- | --- |")
    print("\n".join(rows))
    print(f"\n{neighbour_matches(dev, dev_orig)} (left out of the false-match count).\n")
    print(
        f"### Robustness, calibration data ({len(cal)} palm_desert_drone photos, measured once)\n"
    )
    cal_orig, cal_copies = build_suite(cal)
    rows, *_ = robustness(cal, cal_orig, cal_copies)
    print("| transform | recall | false matches |\n| --- | --- | --- |")
    print("\n".join(rows))
    print("\n### Reduced decode\n")
    print(reduced_decode(dev + cal))
    print("\n### Speed (dev + calibration photos, each 3 times)\n")
    print("\n".join(speed(dev + cal)))
    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(speed_on(phone_size_copies(dev, Path(tmp)), "12 MP copies")))
    print()
    print("\n".join(cost_breakdown(dev + cal)))


def speed_only(dev: list[SourceImage], cal: list[SourceImage]) -> None:
    """`--speed`: only the speed tables (the robustness suite now lives in
    bench_second_stage.py, which applies the full two-stage rule)."""
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"Load before: {load}\n")
    print("\n".join(speed(dev + cal)))
    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(speed_on(phone_size_copies(dev, Path(tmp)), "12 MP copies")))
    print()
    print("\n".join(cost_breakdown(dev + cal)))
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\nLoad after: {load}")


if __name__ == "__main__":
    main()
