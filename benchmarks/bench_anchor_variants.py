"""Which anchor definition should gate pairs to the pixel check? Compares anchor variants on the
dev set only: for each variant and vote threshold, the true copies the gate sends to the pixel
check (25% crops in particular), the two-stage misses, the false matches, and the cost (pairs
aligned). Alignment outcomes do not depend on the anchors, so each pair is aligned once and the
outcome cached (in memory) across variants.

Run: python benchmarks/bench_anchor_variants.py [--calibration]   (dev unless told otherwise)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.hash_transforms import (
    TRANSFORMS,
    SourceImage,
    calibration_images,
    dev_images,
    write_jpeg,
)
from verify import samepicture
from verify.hashing import compare, hash_file
from verify.media import load_image

Variant = Callable[[samepicture.PictureFeatures], np.ndarray]


def _by_response(f: samepicture.PictureFeatures) -> np.ndarray:
    return np.argsort(-f.responses, kind="stable")


def top(n: int) -> Variant:
    def anchors(f: samepicture.PictureFeatures) -> np.ndarray:
        if f.descriptors is None:
            return np.zeros((0, 32), np.uint8)
        return f.descriptors[_by_response(f)[:n]]

    return anchors


def grid(n: int, cells: int) -> Variant:
    """The strongest n / cells^2 per cell of a cells x cells grid; leftover slots (cells with too
    few corners) go to the strongest corners not yet taken."""

    def anchors(f: samepicture.PictureFeatures) -> np.ndarray:
        if f.descriptors is None:
            return np.zeros((0, 32), np.uint8)
        h, w = f.gray.shape
        order = _by_response(f)
        per = n // (cells * cells)
        pts = f.points[order].astype(np.float64)
        cx = np.minimum((pts[:, 0] * cells / w).astype(int), cells - 1)
        cy = np.minimum((pts[:, 1] * cells / h).astype(int), cells - 1)
        cell = cy * cells + cx
        taken = np.zeros(len(order), bool)
        counts = np.zeros(cells * cells, int)
        for r in range(len(order)):
            if counts[cell[r]] < per:
                counts[cell[r]] += 1
                taken[r] = True
        rest = np.flatnonzero(~taken)[: max(0, n - int(taken.sum()))]
        chosen = np.sort(np.concatenate([np.flatnonzero(taken), rest]))
        return f.descriptors[order[chosen]]

    return anchors


def anms(n: int, robust: float = 0.9) -> Variant:
    """Adaptive non-maximal suppression: the n corners farthest from any clearly stronger one."""

    def anchors(f: samepicture.PictureFeatures) -> np.ndarray:
        if f.descriptors is None:
            return np.zeros((0, 32), np.uint8)
        order = _by_response(f)
        pts = f.points[order].astype(np.float64)
        resp = f.responses[order]
        d2 = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)
        stronger = resp[None, :] * robust > resp[:, None]
        d2 = np.where(stronger, d2, np.inf)
        radius = d2.min(axis=1)
        chosen = np.argsort(-radius, kind="stable")[:n]
        return f.descriptors[order[np.sort(chosen)]]

    return anchors


def combined(*parts: Variant) -> Variant:
    def anchors(f: samepicture.PictureFeatures) -> np.ndarray:
        arrays = [p(f) for p in parts]
        return np.concatenate([a for a in arrays if len(a)] or [np.zeros((0, 32), np.uint8)])

    return anchors


def centre(n: int, keep: float = 0.5) -> Variant:
    """The strongest n corners in the central `keep` x `keep` window."""

    def anchors(f: samepicture.PictureFeatures) -> np.ndarray:
        if f.descriptors is None:
            return np.zeros((0, 32), np.uint8)
        h, w = f.gray.shape
        order = _by_response(f)
        pts = f.points[order].astype(np.float64)
        lo, hi = (1 - keep) / 2, (1 + keep) / 2
        inside = (
            (pts[:, 0] >= lo * w)
            & (pts[:, 0] < hi * w)
            & (pts[:, 1] >= lo * h)
            & (pts[:, 1] < hi * h)
        )
        return f.descriptors[order[np.flatnonzero(inside)[:n]]]

    return anchors


def half_scale(inner: Variant) -> Variant:
    """`inner` applied to ORB features of the picture at half size."""

    def anchors(f: samepicture.PictureFeatures) -> np.ndarray:
        small = cv2.resize(
            f.gray, (f.gray.shape[1] // 2, f.gray.shape[0] // 2), interpolation=cv2.INTER_AREA
        )
        return inner(samepicture.PictureFeatures(small))

    return anchors


VARIANTS: dict[str, Variant] = {
    "top64": top(64),
    "top128": top(128),
    "grid4x4_64": grid(64, 4),
    "grid4x4_128": grid(128, 4),
    "grid8x8_128": grid(128, 8),
    "anms64": anms(64),
    "anms128": anms(128),
    "top64+centre32": combined(top(64), centre(32)),
    "top64+half32": combined(top(64), half_scale(top(32))),
    "grid64+half64": combined(grid(64, 4), half_scale(grid(64, 4))),
}
VOTES = (2, 3, 4, 5, 6, 8)
# Settings that send more than this share of all pairs to alignment only via anchors are not
# worth aligning (the current gate: 2.8%).
MAX_ANCHOR_ONLY = 0.08


def _words(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint64).reshape(len(a), 4)


def votes_matrix(queries: list[np.ndarray], stored: list[np.ndarray]) -> np.ndarray:
    """votes[q, j]: query q's anchors with a stored anchor of picture j within ANCHOR_RADIUS."""
    keep = [j for j, s in enumerate(stored) if len(s)]
    starts = np.cumsum([0] + [len(stored[j]) for j in keep])[:-1]
    allw = _words(np.concatenate([stored[j] for j in keep]))
    out = np.zeros((len(queries), len(stored)), np.int32)
    for q, a in enumerate(queries):
        if not len(a):
            continue
        d = np.bitwise_count(_words(a)[:, None, :] ^ allw[None, :, :]).sum(axis=2, dtype=np.int32)
        hit = (d <= samepicture.ANCHOR_RADIUS).astype(np.uint8)
        # A query anchor votes once per stored picture (what the index + set() counts).
        out[q, keep] = np.maximum.reduceat(hit, starts, axis=1).sum(axis=0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calibration", action="store_true")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--votes", default=",".join(map(str, VOTES)))
    ap.add_argument(
        "--near-gate",
        action="store_true",
        help="also report requiring near-band pairs to share >= 1 anchor (mirrored per hashes)",
    )
    args = ap.parse_args()
    images: list[SourceImage] = calibration_images() if args.calibration else dev_images()
    side = samepicture.CONFIRM_SIDE
    t0 = time.perf_counter()
    originals = [hash_file(s.path) for s in images]
    stored_px = [samepicture.PictureFeatures(load_image(s.path, max_side=side)) for s in images]
    names: list[str] = []
    owners: list[int] = []
    q_hashes = []
    q_px = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, s in enumerate(images):
            rgb = load_image(s.path)
            for t in [None, *TRANSFORMS]:
                if t is None:
                    q_hashes.append(originals[i])
                    q_px.append(stored_px[i])
                else:
                    path = Path(tmp) / f"{i}_{t.name}.jpg"
                    write_jpeg(path, t.apply(rgb), t.jpeg_quality)
                    q_hashes.append(hash_file(path))
                    q_px.append(samepicture.PictureFeatures(load_image(path, max_side=side)))
                names.append("originals" if t is None else t.name)
                owners.append(i)
    print(f"prepared {len(q_px)} queries in {time.perf_counter() - t0:.0f} s", flush=True)

    def counted(q: int, j: int) -> bool:
        i = owners[q]
        if j == i and names[q] == "originals":
            return False
        g = images[i].group
        return not (j != i and g is not None and g == images[j].group)

    pairs = [(q, j) for q in range(len(q_px)) for j in range(len(images)) if counted(q, j)]
    hm = {(q, j): compare(q_hashes[q], originals[j]) for q, j in pairs}
    near = {p for p, m in hm.items() if not m.is_match and samepicture.in_near_band(m.distances)}
    cache: dict[tuple[int, int, bool], samepicture.PictureAlignment] = {}

    def aligned(q: int, j: int, flip: bool) -> samepicture.PictureAlignment:
        key = (q, j, flip)
        if key not in cache:
            cache[key] = samepicture.align_pictures(stored_px[j], q_px[q], mirrored=flip)
        return cache[key]

    n_true = sum(1 for q, j in pairs if j == owners[q])
    print(f"{len(pairs)} pairs, {n_true} true, {len(near)} near band (not hash-matched)")
    print(
        "| variant | votes | crop_25 gated | true gated | misses (which) | false | "
        "anchor-only aligned | all aligned | anchor s/picture |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.variants.split(","):
        fn = VARIANTS[name]
        t1 = time.perf_counter()
        st = [fn(f) for f in stored_px]
        qa = [fn(f) for f in q_px]
        per_pic = (time.perf_counter() - t1) / (len(st) + len(qa))
        vm = votes_matrix(qa, st)
        vm_near = vm
        if args.near_gate:
            qm = [fn(f.mirror()) for f in q_px]
            vm_mirror = votes_matrix(qm, st)
            vm_near = vm.copy()
            for (q, j), m in hm.items():
                if m.mirrored:
                    vm_near[q, j] = vm_mirror[q, j]
        if args.near_gate:
            # How far the true near-band copies are from losing the near gate (sharing no
            # anchor): their fewest shared anchors per transform, against non-duplicates.
            margins: dict[str, list[int]] = {}
            for q, j in pairs:
                # Every true copy, hash-matched or not: how close would it come to the gate?
                if j == owners[q] and names[q] != "originals":
                    margins.setdefault(names[q], []).append(int(vm_near[q, j]))
            others = [int(vm_near[q, j] >= 1) for q, j in near if j != owners[q]]
            print(
                f"{name} true copies, shared anchors (as the hashes orient them) min/median: "
                + ", ".join(
                    f"{t} {min(v)}/{int(np.median(v))} (n={len(v)})"
                    for t, v in sorted(margins.items())
                )
                + f"; non-duplicate near pairs sharing >= 1: {sum(others)}/{len(others)}",
                flush=True,
            )
        for v in [int(x) for x in args.votes.split(",") if x]:
            gated = {(q, j) for q, j in pairs if vm[q, j] >= v}
            extra = len(gated - near)
            if extra > MAX_ANCHOR_ONLY * len(pairs):
                print(f"| {name} | {v} | gate sends {extra} pairs beyond the near band: skipped |")
                continue
            misses: list[str] = []
            false = 0
            crop_gated = 0
            true_gated = 0
            only_anchor = 0
            total = 0
            for q, j in pairs:
                m = hm[(q, j)]
                is_true = j == owners[q]
                g = (q, j) in gated
                if is_true and g:
                    true_gated += 1
                    crop_gated += names[q] == "crop_25"
                if m.is_match:
                    ok = True
                elif (q, j) in near or g:
                    total += 1
                    only_anchor += (q, j) not in near
                    flip = m.mirrored and (q, j) in near
                    ok = aligned(q, j, flip).is_same
                else:
                    ok = False
                if is_true and not ok:
                    misses.append(names[q])
                if not is_true and ok:
                    false += 1
            which = ", ".join(sorted(set(misses), key=misses.count))
            if args.near_gate:
                g_misses: list[str] = []
                g_false = g_total = 0
                for q, j in pairs:
                    m = hm[(q, j)]
                    is_true = j == owners[q]
                    in_near = (q, j) in near and vm_near[q, j] >= 1
                    if m.is_match:
                        ok = True
                    elif in_near or (q, j) in gated:
                        g_total += 1
                        ok = aligned(q, j, m.mirrored and in_near).is_same
                    else:
                        ok = False
                    if is_true and not ok:
                        g_misses.append(names[q])
                    if not is_true and ok:
                        g_false += 1
                g_which = ", ".join(sorted(set(g_misses), key=g_misses.count))
                which += (
                    f" | near-gated: {len(g_misses)} ({g_which}), {g_false} false, "
                    f"{g_total} aligned"
                )
            print(
                f"| {name} | {v} | {crop_gated} | {true_gated}/{n_true} | "
                f"{len(misses)} ({which}) | {false} | {only_anchor} | {total} | "
                f"{1000 * per_pic:.1f} ms |",
                flush=True,
            )


if __name__ == "__main__":
    main()
