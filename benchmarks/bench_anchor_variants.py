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
    HARD_TRANSFORMS,
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


def spread(cells: int, per_cell: int, scales: tuple[float, ...]) -> Variant:
    """What `verify.samepicture.anchor_descriptors` does, with its constants as parameters: at
    each scale (of the working size), the strongest `per_cell` corners of each cell of a
    `cells` x `cells` grid."""
    per_scale = cells * cells * per_cell

    def anchors(f: samepicture.PictureFeatures) -> np.ndarray:
        parts = [grid(per_scale, cells)(f)]
        h, w = f.gray.shape
        for scale in scales[1:]:
            size = (max(1, int(w * scale)), max(1, int(h * scale)))
            small = cv2.resize(f.gray, size, interpolation=cv2.INTER_AREA)
            parts.append(grid(per_scale, cells)(samepicture.PictureFeatures(small)))
        return np.concatenate([a for a in parts if len(a)] or [np.zeros((0, 32), np.uint8)])

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
    # Candidates scored on the harder dev proxy (--proxy), 2026-11-29. "current" is the
    # definition in verify/samepicture.py at the time (= grid64+half64).
    "current_g4x4_s1+0.5": spread(4, 4, (1.0, 0.5)),
    "g4x4_s1+0.71+0.5": spread(4, 4, (1.0, 0.71, 0.5)),
    "g4x4_s1+0.5+0.25": spread(4, 4, (1.0, 0.5, 0.25)),
    "g4x4_s1+0.71+0.5+0.35": spread(4, 4, (1.0, 0.71, 0.5, 0.35)),
    "g4x3_s1+0.71+0.5": spread(4, 3, (1.0, 0.71, 0.5)),
    "g4x6_s1+0.5": spread(4, 6, (1.0, 0.5)),
    "g4x8_s1+0.5": spread(4, 8, (1.0, 0.5)),
    "g5x4_s1+0.5": spread(5, 4, (1.0, 0.5)),
    "g5x3_s1+0.71+0.5": spread(5, 3, (1.0, 0.71, 0.5)),
    "g6x2_s1+0.5": spread(6, 2, (1.0, 0.5)),
}
# The candidate set of the proxy comparison (listed before any of them was scored on it).
PROXY_VARIANTS = [name for name in VARIANTS if name[0] in "cg" and "_s" in name]
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
    ap.add_argument(
        "--proxy",
        action="store_true",
        help="add the harder edits of hash_transforms.HARD_TRANSFORMS to the suite and score the "
        "proxy candidates (default variants: PROXY_VARIANTS)",
    )
    ap.add_argument("--variants", default=None)
    ap.add_argument("--votes", default=",".join(map(str, VOTES)))
    ap.add_argument(
        "--near-votes",
        type=int,
        default=samepicture.MIN_ANCHOR_VOTES_NEAR,
        help="anchors a near-band pair must share to be aligned (mirror-aware, as search does); "
        "0 = every near-band pair (the rule before 2026-11-29)",
    )
    ap.add_argument(
        "--margins",
        "--near-gate",
        action="store_true",
        help="also print, per transform, the fewest / median anchors true copies share",
    )
    args = ap.parse_args()
    images: list[SourceImage] = calibration_images() if args.calibration else dev_images()
    transforms = [*TRANSFORMS, *(HARD_TRANSFORMS if args.proxy else ())]
    hard = {t.name for t in HARD_TRANSFORMS} if args.proxy else set()
    variant_names = (
        args.variants.split(",") if args.variants else (PROXY_VARIANTS if args.proxy else VARIANTS)
    )
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
            for t in [None, *transforms]:
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
    print(
        f"prepared {len(q_px)} queries in {time.perf_counter() - t0:.0f} s; "
        f"near-band pairs need >= {args.near_votes} shared anchors",
        flush=True,
    )

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
    n_hard = sum(1 for q, j in pairs if j == owners[q] and names[q] in hard)
    n_false = len(pairs) - n_true
    print(
        f"{len(pairs)} pairs, {n_true} true ({n_hard} of them harder edits), {n_false} "
        f"non-duplicate, {len(near)} near band (not hash-matched)"
    )
    print(
        "| variant | anchors / picture | anchor ms / picture | votes | gate misses, suite | "
        "gate misses, harder edits | misses, suite | misses, harder edits | false | "
        "non-duplicates aligned (by anchors alone) | all aligned |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in variant_names:
        fn = VARIANTS[name]
        t1 = time.perf_counter()
        st = [fn(f) for f in stored_px]
        per_pic = (time.perf_counter() - t1) / len(st)
        qa = [fn(f) for f in q_px]
        count = np.mean([len(a) for a in st])
        vm = votes_matrix(qa, st)
        vm_near = vm
        if args.near_votes > 0:
            mirrored = {q for (q, j), m in hm.items() if m.mirrored and (q, j) in near}
            qm = {q: fn(q_px[q].mirror()) for q in sorted(mirrored)}
            vm_mirror = votes_matrix([qm.get(q, qa[q][:0]) for q in range(len(qa))], st)
            vm_near = vm.copy()
            for q, j in near:
                if hm[(q, j)].mirrored:
                    vm_near[q, j] = vm_mirror[q, j]
        if args.margins:
            margins: dict[str, list[int]] = {}
            for q, j in pairs:
                if j == owners[q] and names[q] != "originals":
                    m = hm[(q, j)]
                    shared = vm_near[q, j] if (q, j) in near and m.mirrored else vm[q, j]
                    margins.setdefault(names[q], []).append(int(shared))
            others = [int(vm_near[q, j] >= 1) for q, j in near if j != owners[q]]
            print(
                f"{name} true copies, shared anchors (as the hashes orient them) min/median: "
                + ", ".join(
                    f"{t} {min(v)}/{int(np.median(v))} (n={len(v)})" for t, v in margins.items()
                )
                + f"; non-duplicate near pairs sharing >= 1: {sum(others)}/{len(others)}",
                flush=True,
            )
        for v in [int(x) for x in args.votes.split(",") if x]:
            by_votes = {(q, j) for q, j in pairs if vm[q, j] >= v}
            by_near = {p for p in near if vm_near[p] >= args.near_votes}
            extra = len(by_votes - by_near)
            if extra > MAX_ANCHOR_ONLY * len(pairs):
                print(f"| {name} | | | {v} | gate sends {extra} pairs beyond the near band: skip |")
                continue
            gate_miss: list[str] = []
            miss: list[str] = []
            false = false_aligned = anchor_only = total = 0
            for q, j in pairs:
                m = hm[(q, j)]
                is_true = j == owners[q]
                if m.is_match:
                    ok = True
                elif (q, j) in by_near or (q, j) in by_votes:
                    total += 1
                    if not is_true:
                        false_aligned += 1
                        anchor_only += (q, j) not in by_near
                    ok = aligned(q, j, m.mirrored and (q, j) in by_near).is_same
                else:
                    ok = False
                    if is_true:
                        gate_miss.append(names[q])
                if is_true and not ok:
                    miss.append(names[q])
                if not is_true and ok:
                    false += 1

            def tally(found: list[str], harder: bool) -> str:
                sel = [n for n in found if (n in hard) == harder]
                kinds = ", ".join(f"{k} {sel.count(k)}" for k in sorted(set(sel), key=sel.index))
                return f"{len(sel)}" + (f" ({kinds})" if kinds else "")

            print(
                f"| {name} | {count:.0f} | {1000 * per_pic:.1f} | {v} | {tally(gate_miss, False)} "
                f"| {tally(gate_miss, True)} | {tally(miss, False)} | {tally(miss, True)} | "
                f"{false} | {false_aligned} ({anchor_only}) | {total} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
